#include "core/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
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
  if (parsed < static_cast<long long>(min) || static_cast<unsigned long long>(parsed) > static_cast<unsigned long long>(max)) {
    return error::invalid_argument("config: " + std::string(path) + ": " + raw + " is out of range [" +
                                   std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  out = static_cast<Int>(parsed);
  return {};
}

status parse_bool(std::string_view path, const std::string& raw, bool& out) {
  if (raw == "true" || raw == "1" || raw == "yes" || raw == "on") { out = true; return {}; }
  if (raw == "false" || raw == "0" || raw == "no" || raw == "off") { out = false; return {}; }
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
  row.get = [member](const config& cfg) { return member(const_cast<config&>(cfg)) ? std::string("true") : std::string("false"); };
  return row;
}

#define WATTOS_FIELD(expr) [](config& c) -> auto& { return c.expr; }

const std::vector<option_row>& option_table() {
  static const std::vector<option_row> rows = [] {
    constexpr int max_ms = 24 * 3600 * 1000;
    std::vector<option_row> r;
    r.push_back(string_option("data_dir", WATTOS_FIELD(data_dir), {}, "Directory for the SQLite file, keys and uploads; created at start"));
    r.push_back(string_option("server.host", WATTOS_FIELD(server.host), {}, "Address to listen on"));
    r.push_back(int_option<std::uint16_t>("server.port", WATTOS_FIELD(server.port), 0, 65535, "TCP port; 0 picks a free port"));
    r.push_back(int_option<int>("server.threads", WATTOS_FIELD(server.threads), 0, 256, "I/O threads; 0 means one per core"));
    r.push_back(int_option<int>("server.read_timeout_ms", WATTOS_FIELD(server.read_timeout_ms), 100, max_ms, "Deadline to receive a request head and body"));
    r.push_back(int_option<int>("server.idle_timeout_ms", WATTOS_FIELD(server.idle_timeout_ms), 100, max_ms, "Keep-alive idle limit"));
    r.push_back(int_option<int>("server.write_timeout_ms", WATTOS_FIELD(server.write_timeout_ms), 100, max_ms, "Deadline to write one response part"));
    r.push_back(int_option<std::uint32_t>("server.max_header_bytes", WATTOS_FIELD(server.max_header_bytes), 1024, 1u << 20, "Limit of request line plus headers"));
    r.push_back(int_option<std::uint64_t>("server.max_body_bytes", WATTOS_FIELD(server.max_body_bytes), 0, 1ull << 32, "Default request body limit of a route"));
    r.push_back(int_option<std::uint64_t>("server.max_upload_bytes", WATTOS_FIELD(server.max_upload_bytes), 0, 1ull << 40, "Limit of one multipart upload"));
    r.push_back(int_option<int>("server.max_connections", WATTOS_FIELD(server.max_connections), 1, 1000000, "Open connections before new ones are refused"));
    r.push_back(int_option<int>("server.shutdown_grace_ms", WATTOS_FIELD(server.shutdown_grace_ms), 0, max_ms, "Time open streams get to finish on SIGTERM"));
    r.push_back(int_option<int>("server.sse_heartbeat_ms", WATTOS_FIELD(server.sse_heartbeat_ms), 100, max_ms, "Interval of heartbeat comments on idle SSE streams"));
    r.push_back(int_option<std::uint64_t>("server.max_websocket_message_bytes", WATTOS_FIELD(server.max_websocket_message_bytes), 64, 1ull << 30, "Largest WebSocket message accepted"));
    r.push_back(string_option("server.static_dir", WATTOS_FIELD(server.static_dir), {}, "Web UI files served at /; empty serves none"));
    r.push_back(string_option("log.level", WATTOS_FIELD(log.level), {"debug", "info", "warn", "error"}, "Lowest level written"));
    r.push_back(bool_option("log.access_log", WATTOS_FIELD(log.access_log), "Write one line per request"));
    r.push_back(string_option("database.backend", WATTOS_FIELD(database.backend), {"sqlite", "postgres"}, "Relational store"));
    r.push_back(string_option("database.sqlite_path", WATTOS_FIELD(database.sqlite_path), {}, "SQLite file; empty means <data_dir>/wattos.db"));
    r.push_back(string_option("database.postgres_url", WATTOS_FIELD(database.postgres_url), {}, "libpq connection URL for the postgres backend"));
    r.push_back(int_option<int>("database.pool_size", WATTOS_FIELD(database.pool_size), 1, 1000, "Connections kept open"));
    r.push_back(int_option<int>("database.acquire_timeout_ms", WATTOS_FIELD(database.acquire_timeout_ms), 1, max_ms, "Wait for a free pooled connection"));
    r.push_back(int_option<int>("database.busy_timeout_ms", WATTOS_FIELD(database.busy_timeout_ms), 0, max_ms, "SQLite: wait for a lock before failing"));
    r.push_back(string_option("auth.issuer", WATTOS_FIELD(auth.issuer), {}, "Issuer (iss) of access tokens"));
    r.push_back(string_option("auth.audience", WATTOS_FIELD(auth.audience), {}, "Audience (aud) of access tokens"));
    r.push_back(int_option<int>("auth.access_ttl_s", WATTOS_FIELD(auth.access_ttl_s), 30, 24 * 3600, "Lifetime of an access token in seconds"));
    r.push_back(int_option<int>("auth.refresh_ttl_s", WATTOS_FIELD(auth.refresh_ttl_s), 60, 365 * 24 * 3600, "Lifetime of a refresh token in seconds"));
    r.push_back(string_option("auth.hs256_secret", WATTOS_FIELD(auth.hs256_secret), {}, "Sign tokens with HS256 and this secret instead of EdDSA; empty: EdDSA"));
    r.push_back(int_option<int>("auth.lockout_threshold", WATTOS_FIELD(auth.lockout_threshold), 1, 1000, "Failed logins before an account locks"));
    r.push_back(int_option<int>("auth.lockout_max_s", WATTOS_FIELD(auth.lockout_max_s), 1, 24 * 3600, "Longest account lock in seconds"));
    r.push_back(int_option<int>("auth.password_min_length", WATTOS_FIELD(auth.password_min_length), 8, 256, "Minimum password length"));
    r.push_back(string_option("auth.initial_admin_email", WATTOS_FIELD(auth.initial_admin_email), {}, "Login of the admin account made on first start"));
    r.push_back(int_option<int>("auth.principal_cache_ms", WATTOS_FIELD(auth.principal_cache_ms), 0, 60000, "How long a checked token or API key is trusted without asking the store; 0: always ask"));
    r.push_back(string_option("rate_limit.backend", WATTOS_FIELD(rate_limit.backend), {"memory", "redis"}, "Where token buckets live"));
    r.push_back(string_option("rate_limit.redis_url", WATTOS_FIELD(rate_limit.redis_url), {}, "redis://host:port for the redis backend"));
    r.push_back(int_option<int>("rate_limit.login_per_minute", WATTOS_FIELD(rate_limit.login_per_minute), 1, 1000000, "Login attempts per minute per IP and per account"));
    r.push_back(int_option<int>("rate_limit.login_burst", WATTOS_FIELD(rate_limit.login_burst), 1, 1000000, "Login burst"));
    r.push_back(int_option<int>("rate_limit.chat_per_minute", WATTOS_FIELD(rate_limit.chat_per_minute), 1, 1000000, "Chat requests per minute per principal"));
    r.push_back(int_option<int>("rate_limit.chat_burst", WATTOS_FIELD(rate_limit.chat_burst), 1, 1000000, "Chat burst"));
    r.push_back(int_option<int>("rate_limit.upload_per_minute", WATTOS_FIELD(rate_limit.upload_per_minute), 1, 1000000, "Uploads per minute per principal"));
    r.push_back(int_option<int>("rate_limit.upload_burst", WATTOS_FIELD(rate_limit.upload_burst), 1, 1000000, "Upload burst"));
    r.push_back(int_option<int>("rate_limit.default_per_minute", WATTOS_FIELD(rate_limit.default_per_minute), 1, 1000000, "Other requests per minute per principal or IP"));
    r.push_back(int_option<int>("rate_limit.default_burst", WATTOS_FIELD(rate_limit.default_burst), 1, 1000000, "Default burst"));
    r.push_back(string_option("cors.allowed_origins", WATTOS_FIELD(cors.allowed_origins), {}, "Comma-separated origins allowed by CORS; empty: none"));
    r.push_back(bool_option("cors.allow_credentials", WATTOS_FIELD(cors.allow_credentials), "Send Access-Control-Allow-Credentials"));
    r.push_back(string_option("services.chat_url", WATTOS_FIELD(services.chat_url), {}, "URL of the chat service when it runs elsewhere"));
    r.push_back(string_option("services.rag_url", WATTOS_FIELD(services.rag_url), {}, "URL of the RAG service when it runs elsewhere"));
    r.push_back(string_option("services.agent_url", WATTOS_FIELD(services.agent_url), {}, "URL of the agent service when it runs elsewhere"));
    r.push_back(string_option("services.persona_url", WATTOS_FIELD(services.persona_url), {}, "URL of the persona service when it runs elsewhere"));
    r.push_back(string_option("services.voice_url", WATTOS_FIELD(services.voice_url), {}, "URL of the voice service when it runs elsewhere"));
    r.push_back(string_option("services.llm_url", WATTOS_FIELD(services.llm_url), {}, "URL of the LLM gateway when it runs elsewhere"));
    r.push_back(string_option("services.ingestion_url", WATTOS_FIELD(services.ingestion_url), {}, "URL of the ingestion service when it runs elsewhere"));
    r.push_back(string_option("gateway.identity_secret", WATTOS_FIELD(gateway.identity_secret), {}, "HMAC key for the identity header sent to services (>= 32 chars when services are remote)"));
    r.push_back(int_option<int>("gateway.upstream_connect_timeout_ms", WATTOS_FIELD(gateway.upstream_connect_timeout_ms), 10, max_ms, "Connect timeout to a service"));
    r.push_back(int_option<int>("gateway.upstream_first_byte_timeout_ms", WATTOS_FIELD(gateway.upstream_first_byte_timeout_ms), 10, max_ms, "Time until a service starts answering"));
    r.push_back(int_option<int>("gateway.upstream_idle_timeout_ms", WATTOS_FIELD(gateway.upstream_idle_timeout_ms), 10, max_ms, "Silence allowed within a streamed answer"));
    r.push_back(int_option<std::uint64_t>("gateway.proxy_body_limit_bytes", WATTOS_FIELD(gateway.proxy_body_limit_bytes), 0, 1ull << 34, "Largest request body forwarded to a service"));
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

status apply_yaml(const YAML::Node& node, const std::string& prefix, config& cfg,
                  const std::vector<option_row>& rows) {
  if (!node.IsMap()) {
    return error::invalid_argument("config: " + (prefix.empty() ? std::string("top level") : prefix) +
                                   " must be a mapping");
  }
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    auto row = std::find_if(rows.begin(), rows.end(), [&](const option_row& r) { return r.info.path == path; });
    if (row != rows.end()) {
      if (!entry.second.IsScalar()) {
        return error::invalid_argument("config: " + path + " must be a single value");
      }
      WATTOS_RETURN_IF_ERROR(row->set(cfg, entry.second.Scalar()));
      continue;
    }
    const bool is_section = std::any_of(rows.begin(), rows.end(),
                                        [&](const option_row& r) { return r.info.path.starts_with(path + "."); });
    if (!is_section) return error::invalid_argument("config: unknown key '" + path + "'");
    if (entry.second.IsNull()) continue;  // an empty section keeps its defaults
    WATTOS_RETURN_IF_ERROR(apply_yaml(entry.second, path, cfg, rows));
  }
  return {};
}

status validate(const config& cfg) {
  if (cfg.data_dir.empty()) return error::invalid_argument("config: data_dir must not be empty");
  if (cfg.rate_limit.backend == "redis" && cfg.rate_limit.redis_url.empty()) {
    return error::invalid_argument("config: rate_limit.redis_url is required when rate_limit.backend is redis");
  }
  if (!cfg.auth.hs256_secret.empty() && cfg.auth.hs256_secret.size() < 32) {
    return error::invalid_argument("config: auth.hs256_secret must have at least 32 characters");
  }
  const auto& sv = cfg.services;
  const bool remote_services = !sv.chat_url.empty() || !sv.rag_url.empty() || !sv.agent_url.empty() ||
                               !sv.persona_url.empty() || !sv.voice_url.empty() || !sv.llm_url.empty() ||
                               !sv.ingestion_url.empty();
  if (remote_services && cfg.gateway.identity_secret.size() < 32) {
    return error::invalid_argument(
        "config: gateway.identity_secret (at least 32 characters) is required when services.* URLs are set");
  }
  for (const auto* url : {&sv.chat_url, &sv.rag_url, &sv.agent_url, &sv.persona_url, &sv.voice_url, &sv.llm_url,
                          &sv.ingestion_url}) {
    if (!url->empty() && !url->starts_with("http://") && !url->starts_with("https://")) {
      return error::invalid_argument("config: services URL '" + *url + "' must start with http:// or https://");
    }
  }
  if (cfg.database.backend == "postgres" && cfg.database.postgres_url.empty()) {
    return error::invalid_argument("config: database.postgres_url is required when database.backend is postgres");
  }
  return {};
}

}  // namespace

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
    if (path == "database.postgres_url" || path == "rate_limit.redis_url") value = redact_url_password(value);
    if ((path == "auth.hs256_secret" || path == "gateway.identity_secret") && !value.empty()) value = "***";
    auto dot = path.find('.');
    if (dot == std::string::npos) {
      root[path] = value;
    } else {
      root[path.substr(0, dot)][path.substr(dot + 1)] = value;
    }
  }
  out << root;
  return std::string(out.c_str()) + "\n";
}

}  // namespace wattos::core
