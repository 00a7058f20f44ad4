#include "core/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

namespace wattos::core {
namespace {

// One row of the option table: how to parse a raw string into the config and how to
// render the current value back. Bounds are checked by the parser of each row.
struct option_row {
  option_info info;
  std::function<status(config&, const std::string&)> set;
  std::function<std::string(const config&)> get;
};

std::string env_name_for(std::string_view path) {
  std::string name = "WATTOS_";
  for (char c : path) {
    name += (c == '.') ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

template <typename Int>
status parse_int(std::string_view path, const std::string& raw, Int min, Int max, Int& out) {
  long long parsed = 0;
  const char* begin = raw.data();
  const char* end = raw.data() + raw.size();
  auto [ptr, ec] = std::from_chars(begin, end, parsed);
  if (ec != std::errc() || ptr != end || raw.empty()) {
    return error::invalid_argument("config: " + std::string(path) + ": '" + raw + "' is not a whole number");
  }
  if (parsed < static_cast<long long>(min) ||
      static_cast<unsigned long long>(parsed) > static_cast<unsigned long long>(max)) {
    return error::invalid_argument("config: " + std::string(path) + ": " + raw + " is out of range [" +
                                   std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  out = static_cast<Int>(parsed);
  return {};
}

status parse_bool(std::string_view path, const std::string& raw, bool& out) {
  if (raw == "true" || raw == "1" || raw == "yes" || raw == "on") {
    out = true;
    return {};
  }
  if (raw == "false" || raw == "0" || raw == "no" || raw == "off") {
    out = false;
    return {};
  }
  return error::invalid_argument("config: " + std::string(path) + ": '" + raw + "' is not a boolean");
}

template <typename Int, typename Member>
option_row int_option(std::string path, Member member, Int min, Int max, std::string description) {
  option_row row;
  row.info = {path, env_name_for(path), "int", {}, std::move(description)};
  row.set = [path, member, min, max](config& cfg, const std::string& raw) {
    return parse_int<Int>(path, raw, min, max, member(cfg));
  };
  row.get = [member](const config& cfg) { return std::to_string(member(const_cast<config&>(cfg))); };
  return row;
}

template <typename Member>
option_row string_option(std::string path, Member member, std::vector<std::string> allowed, std::string description) {
  option_row row;
  row.info = {path, env_name_for(path), allowed.empty() ? "string" : "enum", {}, std::move(description)};
  row.set = [path, member, allowed = std::move(allowed)](config& cfg, const std::string& raw) -> status {
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), raw) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return error::invalid_argument("config: " + path + ": '" + raw + "' is not one of: " + list);
    }
    member(cfg) = raw;
    return {};
  };
  row.get = [member](const config& cfg) { return member(const_cast<config&>(cfg)); };
  return row;
}

template <typename Member>
option_row bool_option(std::string path, Member member, std::string description) {
  option_row row;
  row.info = {path, env_name_for(path), "bool", {}, std::move(description)};
  row.set = [path, member](config& cfg, const std::string& raw) { return parse_bool(path, raw, member(cfg)); };
  row.get = [member](const config& cfg) {
    return member(const_cast<config&>(cfg)) ? std::string("true") : std::string("false");
  };
  return row;
}

// NOLINTBEGIN(bugprone-macro-parentheses): `expr` is a member path (`server.port`), not an
// expression, and the lambda it expands to cannot be parenthesised where it is used.
#define WATTOS_FIELD(expr)  \
  [](config & c) -> auto& { \
    return c.expr;          \
  }
// NOLINTEND(bugprone-macro-parentheses)

const std::vector<option_row>& option_table() {
  static const std::vector<option_row> rows = [] {
    constexpr int max_ms = 24 * 3600 * 1000;
    std::vector<option_row> r;
    r.push_back(string_option("data_dir", WATTOS_FIELD(data_dir), {},
                              "Directory for the SQLite file, keys and uploads; created at start"));
    r.push_back(string_option("server.host", WATTOS_FIELD(server.host), {}, "Address to listen on"));
    r.push_back(
        int_option<std::uint16_t>("server.port", WATTOS_FIELD(server.port), 0, 65535, "TCP port; 0 picks a free port"));
    r.push_back(
        int_option<int>("server.threads", WATTOS_FIELD(server.threads), 0, 256, "I/O threads; 0 means one per core"));
    r.push_back(int_option<int>("server.read_timeout_ms", WATTOS_FIELD(server.read_timeout_ms), 100, max_ms,
                                "Deadline to receive a request head and body"));
    r.push_back(int_option<int>("server.idle_timeout_ms", WATTOS_FIELD(server.idle_timeout_ms), 100, max_ms,
                                "Keep-alive idle limit"));
    r.push_back(int_option<int>("server.write_timeout_ms", WATTOS_FIELD(server.write_timeout_ms), 100, max_ms,
                                "Deadline to write one response part"));
    r.push_back(int_option<std::uint32_t>("server.max_header_bytes", WATTOS_FIELD(server.max_header_bytes), 1024,
                                          1u << 20, "Limit of request line plus headers"));
    r.push_back(int_option<std::uint64_t>("server.max_body_bytes", WATTOS_FIELD(server.max_body_bytes), 0, 1ull << 32,
                                          "Default request body limit of a route"));
    r.push_back(int_option<std::uint64_t>("server.max_upload_bytes", WATTOS_FIELD(server.max_upload_bytes), 0,
                                          1ull << 40, "Limit of one multipart upload"));
    r.push_back(int_option<int>("server.max_connections", WATTOS_FIELD(server.max_connections), 1, 1000000,
                                "Open connections before new ones are refused"));
    r.push_back(int_option<int>("server.shutdown_grace_ms", WATTOS_FIELD(server.shutdown_grace_ms), 0, max_ms,
                                "Time open streams get to finish on SIGTERM"));
    r.push_back(int_option<int>("server.sse_heartbeat_ms", WATTOS_FIELD(server.sse_heartbeat_ms), 100, max_ms,
                                "Interval of heartbeat comments on idle SSE streams"));
    r.push_back(int_option<std::uint64_t>("server.max_websocket_message_bytes",
                                          WATTOS_FIELD(server.max_websocket_message_bytes), 64, 1ull << 30,
                                          "Largest WebSocket message accepted"));
    r.push_back(string_option("server.static_dir", WATTOS_FIELD(server.static_dir), {},
                              "Web UI files served at /; empty serves none"));
    r.push_back(string_option("log.level", WATTOS_FIELD(log.level), {"debug", "info", "warn", "error"},
                              "Lowest level written"));
    r.push_back(bool_option("log.access_log", WATTOS_FIELD(log.access_log), "Write one line per request"));
    r.push_back(
        string_option("database.backend", WATTOS_FIELD(database.backend), {"sqlite", "postgres"}, "Relational store"));
    r.push_back(string_option("database.sqlite_path", WATTOS_FIELD(database.sqlite_path), {},
                              "SQLite file; empty means <data_dir>/wattos.db"));
    r.push_back(string_option("database.postgres_url", WATTOS_FIELD(database.postgres_url), {},
                              "libpq connection URL for the postgres backend"));
    r.push_back(
        int_option<int>("database.pool_size", WATTOS_FIELD(database.pool_size), 1, 1000, "Connections kept open"));
    r.push_back(int_option<int>("database.acquire_timeout_ms", WATTOS_FIELD(database.acquire_timeout_ms), 1, max_ms,
                                "Wait for a free pooled connection"));
    r.push_back(int_option<int>("database.busy_timeout_ms", WATTOS_FIELD(database.busy_timeout_ms), 0, max_ms,
                                "SQLite: wait for a lock before failing"));
    r.push_back(string_option("auth.issuer", WATTOS_FIELD(auth.issuer), {}, "Issuer (iss) of access tokens"));
    r.push_back(string_option("auth.audience", WATTOS_FIELD(auth.audience), {}, "Audience (aud) of access tokens"));
    r.push_back(int_option<int>("auth.access_ttl_s", WATTOS_FIELD(auth.access_ttl_s), 30, 24 * 3600,
                                "Lifetime of an access token in seconds"));
    r.push_back(int_option<int>("auth.refresh_ttl_s", WATTOS_FIELD(auth.refresh_ttl_s), 60, 365 * 24 * 3600,
                                "Lifetime of a refresh token in seconds"));
    r.push_back(string_option("auth.hs256_secret", WATTOS_FIELD(auth.hs256_secret), {},
                              "Sign tokens with HS256 and this secret instead of EdDSA; empty: EdDSA"));
    r.push_back(int_option<int>("auth.lockout_threshold", WATTOS_FIELD(auth.lockout_threshold), 1, 1000,
                                "Failed logins before an account locks"));
    r.push_back(int_option<int>("auth.lockout_max_s", WATTOS_FIELD(auth.lockout_max_s), 1, 24 * 3600,
                                "Longest account lock in seconds"));
    r.push_back(int_option<int>("auth.password_min_length", WATTOS_FIELD(auth.password_min_length), 8, 256,
                                "Minimum password length"));
    r.push_back(string_option("auth.initial_admin_email", WATTOS_FIELD(auth.initial_admin_email), {},
                              "Login of the admin account made on first start"));
    r.push_back(
        int_option<int>("auth.principal_cache_ms", WATTOS_FIELD(auth.principal_cache_ms), 0, 60000,
                        "How long a checked token or API key is trusted without asking the store; 0: always ask"));
    r.push_back(string_option("rate_limit.backend", WATTOS_FIELD(rate_limit.backend), {"memory", "redis"},
                              "Where token buckets live"));
    r.push_back(string_option("rate_limit.redis_url", WATTOS_FIELD(rate_limit.redis_url), {},
                              "redis://host:port for the redis backend"));
    r.push_back(int_option<int>("rate_limit.login_per_minute", WATTOS_FIELD(rate_limit.login_per_minute), 1, 1000000,
                                "Login attempts per minute per IP and per account"));
    r.push_back(
        int_option<int>("rate_limit.login_burst", WATTOS_FIELD(rate_limit.login_burst), 1, 1000000, "Login burst"));
    r.push_back(int_option<int>("rate_limit.chat_per_minute", WATTOS_FIELD(rate_limit.chat_per_minute), 1, 1000000,
                                "Chat requests per minute per principal"));
    r.push_back(
        int_option<int>("rate_limit.chat_burst", WATTOS_FIELD(rate_limit.chat_burst), 1, 1000000, "Chat burst"));
    r.push_back(int_option<int>("rate_limit.upload_per_minute", WATTOS_FIELD(rate_limit.upload_per_minute), 1, 1000000,
                                "Uploads per minute per principal"));
    r.push_back(
        int_option<int>("rate_limit.upload_burst", WATTOS_FIELD(rate_limit.upload_burst), 1, 1000000, "Upload burst"));
    r.push_back(int_option<int>("rate_limit.default_per_minute", WATTOS_FIELD(rate_limit.default_per_minute), 1,
                                1000000, "Other requests per minute per principal or IP"));
    r.push_back(int_option<int>("rate_limit.default_burst", WATTOS_FIELD(rate_limit.default_burst), 1, 1000000,
                                "Default burst"));
    r.push_back(string_option("oidc.issuer", WATTOS_FIELD(oidc.issuer), {},
                              "Issuer of an OpenID Connect provider whose tokens are accepted; empty: off"));
    r.push_back(string_option("oidc.jwks_url", WATTOS_FIELD(oidc.jwks_url), {}, "The provider's JWKS URL"));
    r.push_back(string_option("oidc.audience", WATTOS_FIELD(oidc.audience), {}, "aud the provider's tokens carry"));
    r.push_back(string_option("oidc.roles_claim", WATTOS_FIELD(oidc.roles_claim), {},
                              "Claim naming the user's groups (dotted path); empty: roles are kept here"));
    r.push_back(string_option("oidc.role_map", WATTOS_FIELD(oidc.role_map), {},
                              "group=role pairs, comma-separated, mapping provider groups to roles"));
    r.push_back(string_option("oidc.default_role", WATTOS_FIELD(oidc.default_role), {},
                              "Role of a user whose groups map to none; empty: no role"));
    r.push_back(bool_option("oidc.provision_users", WATTOS_FIELD(oidc.provision_users),
                            "Create a user for a new provider identity"));
    r.push_back(int_option<int>("oidc.jwks_refresh_s", WATTOS_FIELD(oidc.jwks_refresh_s), 60, 7 * 24 * 3600,
                                "Fetch the provider's keys again after this long"));
    r.push_back(int_option<int>("oidc.jwks_min_interval_s", WATTOS_FIELD(oidc.jwks_min_interval_s), 0, 3600,
                                "Least time between two fetches of the provider's keys"));
    r.push_back(string_option("cors.allowed_origins", WATTOS_FIELD(cors.allowed_origins), {},
                              "Comma-separated origins allowed by CORS; empty: none"));
    r.push_back(bool_option("cors.allow_credentials", WATTOS_FIELD(cors.allow_credentials),
                            "Send Access-Control-Allow-Credentials"));
    r.push_back(string_option("services.chat_url", WATTOS_FIELD(services.chat_url), {},
                              "URL of the chat service when it runs elsewhere"));
    r.push_back(string_option("services.rag_url", WATTOS_FIELD(services.rag_url), {},
                              "URL of the RAG service when it runs elsewhere"));
    r.push_back(string_option("services.agent_url", WATTOS_FIELD(services.agent_url), {},
                              "URL of the agent service when it runs elsewhere"));
    r.push_back(string_option("services.persona_url", WATTOS_FIELD(services.persona_url), {},
                              "URL of the persona service when it runs elsewhere"));
    r.push_back(string_option("services.voice_url", WATTOS_FIELD(services.voice_url), {},
                              "URL of the voice service when it runs elsewhere"));
    r.push_back(string_option("services.llm_url", WATTOS_FIELD(services.llm_url), {},
                              "URL of the LLM gateway when it runs elsewhere"));
    r.push_back(string_option("services.ingestion_url", WATTOS_FIELD(services.ingestion_url), {},
                              "URL of the ingestion service when it runs elsewhere"));
    r.push_back(
        string_option("gateway.identity_secret", WATTOS_FIELD(gateway.identity_secret), {},
                      "HMAC key for the identity header sent to services (>= 32 chars when services are remote)"));
    r.push_back(int_option<int>("gateway.upstream_connect_timeout_ms",
                                WATTOS_FIELD(gateway.upstream_connect_timeout_ms), 10, max_ms,
                                "Connect timeout to a service"));
    r.push_back(int_option<int>("gateway.upstream_first_byte_timeout_ms",
                                WATTOS_FIELD(gateway.upstream_first_byte_timeout_ms), 10, max_ms,
                                "Time until a service starts answering"));
    r.push_back(int_option<int>("gateway.upstream_idle_timeout_ms", WATTOS_FIELD(gateway.upstream_idle_timeout_ms), 10,
                                max_ms, "Silence allowed within a streamed answer"));
    r.push_back(string_option("llm.default_model", WATTOS_FIELD(llm.default_model), {},
                              "Chat model used when a request names none"));
    r.push_back(string_option("llm.embedding_model", WATTOS_FIELD(llm.embedding_model), {}, "Default embedding model"));
    r.push_back(int_option<int>("llm.max_retries", WATTOS_FIELD(llm.max_retries), 0, 10,
                                "Retries per model on 429, 5xx and connection errors"));
    r.push_back(int_option<int>("llm.retry_base_ms", WATTOS_FIELD(llm.retry_base_ms), 1, 60000,
                                "First retry backoff; doubles per retry, with full jitter"));
    r.push_back(int_option<int>("llm.retry_max_ms", WATTOS_FIELD(llm.retry_max_ms), 1, 300000,
                                "Longest backoff and longest Retry-After honoured"));
    r.push_back(int_option<int>("llm.connect_timeout_ms", WATTOS_FIELD(llm.connect_timeout_ms), 10, max_ms,
                                "Connect timeout to a provider"));
    r.push_back(int_option<int>("llm.first_token_timeout_ms", WATTOS_FIELD(llm.first_token_timeout_ms), 10, max_ms,
                                "Time until a provider starts answering"));
    r.push_back(int_option<int>("llm.idle_timeout_ms", WATTOS_FIELD(llm.idle_timeout_ms), 10, max_ms,
                                "Silence allowed within a streamed answer"));
    r.push_back(int_option<int>("llm.breaker_failures", WATTOS_FIELD(llm.breaker_failures), 1, 1000,
                                "Consecutive failures that open an endpoint's circuit breaker"));
    r.push_back(int_option<int>("llm.breaker_open_ms", WATTOS_FIELD(llm.breaker_open_ms), 10, max_ms,
                                "How long an open circuit refuses calls before one trial"));
    r.push_back(bool_option("llm.redact_pii", WATTOS_FIELD(llm.redact_pii),
                            "Redact PII before text goes to an external model; restore it in the answer"));
    r.push_back(int_option<int>("llm.image_check_threads", WATTOS_FIELD(llm.image_check_threads), 1, 64,
                                "Threads that read images (OCR) for personal data before an external model"));
    r.push_back(int_option<int>("llm.image_check_queue", WATTOS_FIELD(llm.image_check_queue), 1, 10000,
                                "Requests with images checked or waiting at once; more are refused with 503"));
    r.push_back(int_option<std::int64_t>("llm.user_daily_tokens", WATTOS_FIELD(llm.user_daily_tokens), 0, 1ll << 40,
                                         "Tokens per user and day; 0: unlimited"));
    r.push_back(string_option(
        "llm.role_daily_tokens", WATTOS_FIELD(llm.role_daily_tokens), {},
        "Daily tokens per role, e.g. member=200000,editor=1000000 (a user gets the largest of their roles)"));
    r.push_back(int_option<int>("llm.extractive_delay_ms", WATTOS_FIELD(llm.extractive_delay_ms), 0, 10000,
                                "Pause between streamed words of the extractive model"));
    r.push_back(int_option<std::uint64_t>("llm.max_request_bytes", WATTOS_FIELD(llm.max_request_bytes), 1024,
                                          1ull << 30, "Body limit of /v1 requests"));
    r.push_back(string_option("rag.vector_backend", WATTOS_FIELD(rag.vector_backend), {"hnsw", "pgvector"},
                              "Where chunk vectors are indexed: HNSW files per space, or pgvector in PostgreSQL"));
    r.push_back(string_option("rag.pgvector_url", WATTOS_FIELD(rag.pgvector_url), {},
                              "libpq URL of a PostgreSQL with the pgvector extension (rag.vector_backend pgvector)"));
    r.push_back(string_option("rag.compound_dictionary", WATTOS_FIELD(rag.compound_dictionary), {},
                              "German word list (one word per line) for splitting compounds in lexical retrieval; "
                              "empty turns splitting off"));
    r.push_back(string_option("persona.draft_model", WATTOS_FIELD(persona.draft_model), {},
                              "Model that drafts personas from a short description; empty: keyword templates only"));
    r.push_back(int_option<std::uint64_t>("persona.avatar_max_bytes", WATTOS_FIELD(persona.avatar_max_bytes), 1024,
                                          64ull << 20, "Largest avatar image accepted for upload"));
    r.push_back(
        int_option<int>("persona.avatar_size", WATTOS_FIELD(persona.avatar_size), 32, 1024,
                        "Edge in pixels of the stored square avatar (uploads are cropped and scaled down to it)"));
    r.push_back(string_option("queue.backend", WATTOS_FIELD(queue.backend), {"sql", "redis"},
                              "Durable job queue: the SQL store, or Redis shared by worker processes"));
    r.push_back(string_option("queue.redis_url", WATTOS_FIELD(queue.redis_url), {},
                              "redis://host:port of the Redis queue (queue.backend redis)"));
    r.push_back(
        string_option("queue.redis_prefix", WATTOS_FIELD(queue.redis_prefix), {}, "Key prefix of the Redis queue"));
    r.push_back(int_option<int>("queue.lease_ms", WATTOS_FIELD(queue.lease_ms), 1000, max_ms,
                                "A claimed job returns to the queue when its worker is silent this long"));
    r.push_back(int_option<int>("queue.max_attempts", WATTOS_FIELD(queue.max_attempts), 1, 100,
                                "Attempts before a job is dead-lettered"));
    r.push_back(int_option<int>("queue.retry_base_ms", WATTOS_FIELD(queue.retry_base_ms), 1, max_ms,
                                "First retry delay; doubles per attempt, with full jitter"));
    r.push_back(
        int_option<int>("queue.retry_max_ms", WATTOS_FIELD(queue.retry_max_ms), 1, max_ms, "Longest retry delay"));
    r.push_back(string_option(
        "ingest.files_dir", WATTOS_FIELD(ingest.files_dir), {},
        "Where ingested files are kept; empty means <data_dir>/files (share it between worker processes)"));
    r.push_back(int_option<int>("ingest.workers", WATTOS_FIELD(ingest.workers), 0, 64,
                                "Ingestion jobs this process works on at once; 0 only enqueues"));
    r.push_back(int_option<int>("ingest.chunk_tokens", WATTOS_FIELD(ingest.chunk_tokens), 32, 8192,
                                "Target chunk size in tokens"));
    r.push_back(int_option<int>("ingest.chunk_overlap_tokens", WATTOS_FIELD(ingest.chunk_overlap_tokens), 0, 2048,
                                "Tokens repeated from the previous chunk"));
    r.push_back(int_option<std::uint64_t>("ingest.max_file_bytes", WATTOS_FIELD(ingest.max_file_bytes), 1, 1ull << 40,
                                          "Largest document accepted"));
    r.push_back(int_option<std::uint64_t>("ingest.max_unpacked_bytes", WATTOS_FIELD(ingest.max_unpacked_bytes), 1,
                                          1ull << 40,
                                          "Limit of all entries of a ZIP container (DOCX, PPTX, XLSX, ODT) unpacked"));
    r.push_back(int_option<std::uint64_t>("ingest.max_text_bytes", WATTOS_FIELD(ingest.max_text_bytes), 1, 1ull << 34,
                                          "Text extracted from one document"));
    r.push_back(int_option<int>("ingest.max_pages", WATTOS_FIELD(ingest.max_pages), 1, 1000000, "Pages of one PDF"));
    r.push_back(bool_option("ingest.ocr", WATTOS_FIELD(ingest.ocr),
                            "OCR images and PDF pages without a text layer (tesseract)"));
    r.push_back(string_option("ingest.ocr_languages", WATTOS_FIELD(ingest.ocr_languages), {},
                              "Tesseract languages, e.g. deu+eng"));
    r.push_back(int_option<int>("ingest.ocr_dpi", WATTOS_FIELD(ingest.ocr_dpi), 50, 600,
                                "Resolution PDF pages are rendered at for OCR"));
    r.push_back(int_option<int>("ingest.max_ocr_pages", WATTOS_FIELD(ingest.max_ocr_pages), 0, 100000,
                                "Pages of one document that are OCRed"));
    r.push_back(bool_option("ingest.isolate_parsers", WATTOS_FIELD(ingest.isolate_parsers),
                            "Parse each file in a child process, so a crashing or hanging parser harms nothing else"));
    r.push_back(int_option<int>("ingest.parse_timeout_s", WATTOS_FIELD(ingest.parse_timeout_s), 1, 86400,
                                "A child parser still busy after this many seconds is stopped and the file fails"));
    r.push_back(int_option<int>("ingest.parse_memory_mb", WATTOS_FIELD(ingest.parse_memory_mb), 64, 1 << 20,
                                "Address-space limit of a child parser in MiB"));
    r.push_back(int_option<int>("ingest.watch_debounce_ms", WATTOS_FIELD(ingest.watch_debounce_ms), 0, max_ms,
                                "Quiet time after a file change before it is ingested"));
    r.push_back(int_option<std::uint64_t>("gateway.proxy_body_limit_bytes",
                                          WATTOS_FIELD(gateway.proxy_body_limit_bytes), 0, 1ull << 34,
                                          "Largest request body forwarded to a service"));
    config defaults;
    for (auto& row : r) row.info.default_value = row.get(defaults);
    return r;
  }();
  return rows;
}

#undef WATTOS_FIELD

// Environment variables with the WATTOS_ prefix that are not config keys.
bool is_reserved_env(std::string_view name) {
  return name == "WATTOS_CONFIG" || name.starts_with("WATTOS_TEST_");
}

status parse_models(const YAML::Node& node, config& cfg);

status apply_yaml(const YAML::Node& node, const std::string& prefix, config& cfg, const std::vector<option_row>& rows) {
  if (!node.IsMap()) {
    return error::invalid_argument("config: " + (prefix.empty() ? std::string("top level") : prefix) +
                                   " must be a mapping");
  }
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    if (prefix.empty() && key == "models") {
      WATTOS_RETURN_IF_ERROR(parse_models(entry.second, cfg));
      continue;
    }
    std::string path = prefix;
    if (!path.empty()) path += '.';
    path += key;
    auto row = std::find_if(rows.begin(), rows.end(), [&](const option_row& r) { return r.info.path == path; });
    if (row != rows.end()) {
      if (!entry.second.IsScalar()) {
        return error::invalid_argument("config: " + path + " must be a single value");
      }
      WATTOS_RETURN_IF_ERROR(row->set(cfg, entry.second.Scalar()));
      continue;
    }
    const bool is_section =
        std::any_of(rows.begin(), rows.end(), [&](const option_row& r) { return r.info.path.starts_with(path + "."); });
    if (!is_section) return error::invalid_argument("config: unknown key '" + path + "'");
    if (entry.second.IsNull()) continue;  // an empty section keeps its defaults
    WATTOS_RETURN_IF_ERROR(apply_yaml(entry.second, path, cfg, rows));
  }
  return {};
}

const std::vector<std::string>& known_capabilities() {
  static const std::vector<std::string> list = {"chat",   "tools",  "vision",       "embeddings",
                                                "rerank", "speech", "transcription"};
  return list;
}

status parse_model(const YAML::Node& node, std::size_t index, model_settings& m) {
  const std::string where = "models[" + std::to_string(index) + "]";
  if (!node.IsMap()) return error::invalid_argument("config: " + where + " must be a mapping");
  auto scalar = [&](const YAML::Node& v, const std::string& key) -> result<std::string> {
    if (!v.IsScalar()) return error::invalid_argument("config: " + where + "." + key + " must be a single value");
    return v.Scalar();
  };
  auto list = [&](const YAML::Node& v, const std::string& key) -> result<std::vector<std::string>> {
    if (!v.IsSequence()) return error::invalid_argument("config: " + where + "." + key + " must be a list");
    std::vector<std::string> out;
    for (const auto& item : v) {
      if (!item.IsScalar()) {
        return error::invalid_argument(
            std::string("config: ").append(where).append(".").append(key).append(" must hold names"));
      }
      out.push_back(item.Scalar());
    }
    return out;
  };
  auto number = [&](const std::string& raw, const std::string& key, double& out) -> status {
    char* end = nullptr;
    out = std::strtod(raw.c_str(), &end);
    if (raw.empty() || end != raw.c_str() + raw.size() || !(out >= 0) || out > 1e9) {
      return error::invalid_argument("config: " + where + "." + key + ": '" + raw + "' is not a price >= 0");
    }
    return {};
  };
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    const YAML::Node& v = entry.second;
    if (key == "capabilities" || key == "fallbacks") {
      WATTOS_ASSIGN_OR_RETURN(auto names, list(v, key));
      (key == "capabilities" ? m.capabilities : m.fallbacks) = std::move(names);
      continue;
    }
    WATTOS_ASSIGN_OR_RETURN(auto raw, scalar(v, key));
    if (key == "id")
      m.id = raw;
    else if (key == "display_name")
      m.display_name = raw;
    else if (key == "provider")
      m.provider = raw;
    else if (key == "endpoint")
      m.endpoint = raw;
    else if (key == "upstream_model")
      m.upstream_model = raw;
    else if (key == "api_key_env")
      m.api_key_env = raw;
    else if (key == "api_key_file")
      m.api_key_file = raw;
    else if (key == "region")
      m.region = raw;
    else if (key == "external") {
      WATTOS_RETURN_IF_ERROR(parse_bool(where + ".external", raw, m.external));
    } else if (key == "context_window") {
      WATTOS_RETURN_IF_ERROR(parse_int<int>(where + ".context_window", raw, 1, 100000000, m.context_window));
    } else if (key == "max_output_tokens") {
      WATTOS_RETURN_IF_ERROR(parse_int<int>(where + ".max_output_tokens", raw, 1, 10000000, m.max_output_tokens));
    } else if (key == "dimensions") {
      WATTOS_RETURN_IF_ERROR(parse_int<int>(where + ".dimensions", raw, 1, 65536, m.dimensions));
    } else if (key == "price_in_per_1m") {
      WATTOS_RETURN_IF_ERROR(number(raw, key, m.price_in_per_1m));
    } else if (key == "price_out_per_1m") {
      WATTOS_RETURN_IF_ERROR(number(raw, key, m.price_out_per_1m));
    } else
      return error::invalid_argument(
          std::string("config: unknown key '").append(where).append(".").append(key).append("'"));
  }
  if (m.id.empty()) return error::invalid_argument("config: " + where + ".id is required");
  for (char c : m.id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':' || c == '/')) {
      return error::invalid_argument("config: " + where + ".id '" + m.id +
                                     "' may hold only letters, digits and - _ . : /");
    }
  }
  static const std::vector<std::string> providers = {"openai", "anthropic", "extractive", "embedder"};
  if (std::find(providers.begin(), providers.end(), m.provider) == providers.end()) {
    return error::invalid_argument("config: " + where + ".provider '" + m.provider +
                                   "' is not one of: openai, anthropic, extractive, embedder");
  }
  if (m.provider == "openai" || m.provider == "anthropic") {
    if (!m.endpoint.starts_with("http://") && !m.endpoint.starts_with("https://")) {
      return error::invalid_argument("config: " + where + ".endpoint must start with http:// or https://");
    }
    while (m.endpoint.ends_with('/')) m.endpoint.pop_back();
  } else {
    m.external = false;  // built-in providers run in this process
  }
  if (m.display_name.empty()) m.display_name = m.id;
  if (m.upstream_model.empty()) m.upstream_model = m.id;
  if (m.region.empty()) return error::invalid_argument("config: " + where + ".region must not be empty");
  for (const auto& c : m.capabilities) {
    if (std::find(known_capabilities().begin(), known_capabilities().end(), c) == known_capabilities().end()) {
      return error::invalid_argument(
          std::string("config: ").append(where).append(".capabilities: unknown capability '").append(c).append("'"));
    }
  }
  if (m.capabilities.empty()) {
    m.capabilities = {m.provider == "embedder" ? std::string("embeddings") : std::string("chat")};
  }
  return {};
}

status parse_models(const YAML::Node& node, config& cfg) {
  if (node.IsNull()) return {};
  if (!node.IsSequence()) return error::invalid_argument("config: models must be a list");
  std::size_t index = 0;
  for (const auto& item : node) {
    model_settings m;
    WATTOS_RETURN_IF_ERROR(parse_model(item, index++, m));
    for (const auto& other : cfg.models) {
      if (other.id == m.id) return error::invalid_argument("config: models: id '" + m.id + "' appears twice");
    }
    cfg.models.push_back(std::move(m));
  }
  return {};
}

status validate_llm(const config& cfg) {
  auto known = [&](const std::string& id) {
    if (id == "extractive" || id == "wattos-embed") return true;
    return std::any_of(cfg.models.begin(), cfg.models.end(), [&](const model_settings& m) { return m.id == id; });
  };
  for (const auto& m : cfg.models) {
    for (const auto& f : m.fallbacks) {
      if (!known(f) || f == m.id) {
        return error::invalid_argument("config: models: fallback '" + f + "' of '" + m.id +
                                       "' is not another known model");
      }
    }
  }
  if (!known(cfg.llm.default_model)) {
    return error::invalid_argument("config: llm.default_model '" + cfg.llm.default_model + "' is not a known model");
  }
  if (!known(cfg.llm.embedding_model)) {
    return error::invalid_argument("config: llm.embedding_model '" + cfg.llm.embedding_model +
                                   "' is not a known model");
  }
  auto budgets = parse_role_budgets(cfg.llm.role_daily_tokens);
  if (!budgets) return budgets.err();
  return {};
}

status validate(const config& cfg) {
  WATTOS_RETURN_IF_ERROR(validate_llm(cfg));
  if (cfg.data_dir.empty()) return error::invalid_argument("config: data_dir must not be empty");
  if (cfg.rate_limit.backend == "redis" && cfg.rate_limit.redis_url.empty()) {
    return error::invalid_argument("config: rate_limit.redis_url is required when rate_limit.backend is redis");
  }
  if (!cfg.auth.hs256_secret.empty() && cfg.auth.hs256_secret.size() < 32) {
    return error::invalid_argument("config: auth.hs256_secret must have at least 32 characters");
  }
  if (!cfg.oidc.issuer.empty()) {
    if (cfg.oidc.issuer == cfg.auth.issuer) {
      return error::invalid_argument("config: oidc.issuer must differ from auth.issuer");
    }
    if (!cfg.oidc.jwks_url.starts_with("https://") && !cfg.oidc.jwks_url.starts_with("http://")) {
      return error::invalid_argument("config: oidc.jwks_url (http:// or https://) is required when oidc.issuer is set");
    }
    if (cfg.oidc.audience.empty()) {
      return error::invalid_argument("config: oidc.audience is required when oidc.issuer is set");
    }
    if (auto map = parse_role_map(cfg.oidc.role_map); !map) return map.err();
  }
  const auto& sv = cfg.services;
  const bool remote_services = !sv.chat_url.empty() || !sv.rag_url.empty() || !sv.agent_url.empty() ||
                               !sv.persona_url.empty() || !sv.voice_url.empty() || !sv.llm_url.empty() ||
                               !sv.ingestion_url.empty();
  if (remote_services && cfg.gateway.identity_secret.size() < 32) {
    return error::invalid_argument(
        "config: gateway.identity_secret (at least 32 characters) is required when services.* URLs are set");
  }
  for (const auto* urls :
       {&sv.chat_url, &sv.rag_url, &sv.agent_url, &sv.persona_url, &sv.voice_url, &sv.llm_url, &sv.ingestion_url}) {
    // One URL, or several (the replicas of a service) separated by commas.
    std::size_t pos = 0;
    while (!urls->empty() && pos <= urls->size()) {
      auto comma = urls->find(',', pos);
      if (comma == std::string::npos) comma = urls->size();
      std::string url = urls->substr(pos, comma - pos);
      while (!url.empty() && url.front() == ' ') url.erase(url.begin());
      if (!url.starts_with("http://") && !url.starts_with("https://")) {
        return error::invalid_argument("config: services URL '" + url + "' must start with http:// or https://");
      }
      pos = comma + 1;
    }
  }
  if (cfg.rag.vector_backend == "pgvector" && cfg.rag.pgvector_url.empty()) {
    return error::invalid_argument("config: rag.pgvector_url is required when rag.vector_backend is pgvector");
  }
  if (cfg.queue.backend == "redis" && cfg.queue.redis_url.empty()) {
    return error::invalid_argument("config: queue.redis_url is required when queue.backend is redis");
  }
  if (cfg.ingest.chunk_overlap_tokens >= cfg.ingest.chunk_tokens) {
    return error::invalid_argument("config: ingest.chunk_overlap_tokens must be smaller than ingest.chunk_tokens");
  }
  if (cfg.database.backend == "postgres" && cfg.database.postgres_url.empty()) {
    return error::invalid_argument("config: database.postgres_url is required when database.backend is postgres");
  }
  return {};
}

}  // namespace

result<std::vector<std::pair<std::string, std::string>>> parse_role_map(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> pairs;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto pair = text.substr(0, comma);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == pair.size()) {
      return error::invalid_argument("config: oidc.role_map entry '" + std::string(pair) + "' is not group=role");
    }
    pairs.emplace_back(std::string(pair.substr(0, eq)), std::string(pair.substr(eq + 1)));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
  }
  return pairs;
}

result<std::map<std::string, std::int64_t>> parse_role_budgets(std::string_view text) {
  std::map<std::string, std::int64_t> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(pos, comma - pos);
    pos = comma + 1;
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    std::int64_t tokens = 0;
    if (eq == std::string_view::npos || eq == 0 ||
        !parse_int<std::int64_t>("llm.role_daily_tokens", std::string(item.substr(eq + 1)), 0, 1ll << 40, tokens)
             .ok()) {
      return error::invalid_argument("config: llm.role_daily_tokens: '" + std::string(item) + "' is not role=tokens");
    }
    out[std::string(item.substr(0, eq))] = tokens;
  }
  return out;
}

std::string redact_url_password(std::string_view url) {
  // scheme://user:password@host -> scheme://user:***@host
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  auto authority_start = scheme_end + 3;
  auto at = url.find('@', authority_start);
  auto slash = url.find('/', authority_start);
  if (at == std::string_view::npos || (slash != std::string_view::npos && slash < at)) return std::string(url);
  auto colon = url.find(':', authority_start);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

const std::vector<option_info>& config_options() {
  static const std::vector<option_info> infos = [] {
    std::vector<option_info> out;
    for (const auto& row : option_table()) out.push_back(row.info);
    return out;
  }();
  return infos;
}

environment environment_from(char** envp) {
  environment env;
  for (char** p = envp; p != nullptr && *p != nullptr; ++p) {
    std::string_view entry(*p);
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

result<config> parse_config(std::string_view yaml_text, const environment& env) {
  config cfg;
  const auto& rows = option_table();
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    if (root.IsDefined() && !root.IsNull()) {
      WATTOS_RETURN_IF_ERROR(apply_yaml(root, "", cfg, rows));
    }
  } catch (const YAML::Exception& e) {
    return error::invalid_argument(std::string("config: YAML syntax: ") + e.what());
  }
  for (const auto& entry : env) {
    const std::string& name = entry.first;  // not a structured binding: clang 14 cannot capture those
    const std::string& value = entry.second;
    if (!name.starts_with("WATTOS_") || is_reserved_env(name)) continue;
    auto row = std::find_if(rows.begin(), rows.end(), [&](const option_row& r) { return r.info.env_name == name; });
    if (row == rows.end()) {
      return error::invalid_argument("config: unknown environment variable " + name);
    }
    WATTOS_RETURN_IF_ERROR(row->set(cfg, value));
  }
  WATTOS_RETURN_IF_ERROR(validate(cfg));
  return cfg;
}

result<config> load_config(const std::string& path, const environment& env) {
  if (path.empty()) return parse_config({}, env);
  std::ifstream in(path, std::ios::binary);
  if (!in) return error::not_found("config: cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  auto cfg = parse_config(text.str(), env);
  if (!cfg) return cfg.err().with_context(path);
  return cfg;
}

std::string dump_config(const config& cfg) {
  // Rebuilds nested YAML from the flat option paths, in table order.
  YAML::Emitter out;
  YAML::Node root;
  for (const auto& row : option_table()) {
    std::string value = row.get(cfg);
    const std::string& path = row.info.path;
    if (path == "database.postgres_url" || path == "rate_limit.redis_url" || path == "rag.pgvector_url" ||
        path == "queue.redis_url") {
      value = redact_url_password(value);
    }
    if ((path == "auth.hs256_secret" || path == "gateway.identity_secret") && !value.empty()) value = "***";
    auto dot = path.find('.');
    if (dot == std::string::npos) {
      root[path] = value;
    } else {
      root[path.substr(0, dot)][path.substr(dot + 1)] = value;
    }
  }
  for (const auto& m : cfg.models) {
    YAML::Node node;
    node["id"] = m.id;
    node["display_name"] = m.display_name;
    node["provider"] = m.provider;
    if (!m.endpoint.empty()) node["endpoint"] = m.endpoint;
    node["upstream_model"] = m.upstream_model;
    if (!m.api_key_env.empty()) node["api_key_env"] = m.api_key_env;
    if (!m.api_key_file.empty()) node["api_key_file"] = m.api_key_file;
    node["region"] = m.region;
    node["external"] = m.external;
    node["context_window"] = m.context_window;
    for (const auto& c : m.capabilities) node["capabilities"].push_back(c);
    node["price_in_per_1m"] = m.price_in_per_1m;
    node["price_out_per_1m"] = m.price_out_per_1m;
    for (const auto& f : m.fallbacks) node["fallbacks"].push_back(f);
    root["models"].push_back(node);
  }
  out << root;
  return std::string(out.c_str()) + "\n";
}

}  // namespace wattos::core
