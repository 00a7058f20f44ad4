// File: core/config.hpp
//
// The typed configuration of a `wattos` process. It is read once at start from a
// YAML file (see config/wattos.yaml, which documents every key) and then from
// `WATTOS_*` environment variables, validated, and passed down by const reference.
// Nothing looks configuration up globally. This module depends on nothing else in
// the project but core/error.hpp.
//
// Every key has exactly one entry in the option table in config.cpp: its YAML path,
// its environment name (WATTOS_ + path, dots as underscores, upper case), its type,
// its default and its bounds. An unknown key in the file, an unknown WATTOS_
// variable or a value out of bounds stops the start with a message naming the key.
//
// Example:
//   auto cfg = core::load_config("config/wattos.yaml", core::environment_from(environ));
//   if (!cfg) { std::cerr << cfg.err().message(); return 2; }
//   run(*cfg);
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace wattos::core {

struct server_settings {
  std::string host = "127.0.0.1";                              //!< address to listen on
  std::uint16_t port = 3001;                                   //!< TCP port (0: any free port)
  int threads = 0;                                             //!< I/O threads (0: one per core)
  int read_timeout_ms = 15000;                                 //!< deadline to read a request head and body
  int idle_timeout_ms = 60000;                                 //!< keep-alive connection idle limit
  int write_timeout_ms = 30000;                                //!< deadline to write one response part
  std::uint32_t max_header_bytes = 16 * 1024;                  //!< request line plus headers
  std::uint64_t max_body_bytes = 1024ull * 1024;               //!< default body limit of a route
  std::uint64_t max_upload_bytes = 256ull << 20;               //!< limit of a multipart upload
  int max_connections = 20000;                                 //!< open connections before new ones are refused
  int shutdown_grace_ms = 10000;                               //!< time streams get to finish on SIGTERM
  int sse_heartbeat_ms = 15000;                                //!< comment line sent on idle SSE streams
  std::uint64_t max_websocket_message_bytes = 1024ull * 1024;  //!< largest WebSocket message
  std::string static_dir;                                      //!< web UI files served at / (empty: none)
};

struct log_settings {
  std::string level = "info";  //!< debug, info, warn, error
  bool access_log = true;      //!< one line per request
};

struct database_settings {
  std::string backend = "sqlite";  //!< sqlite or postgres
  std::string sqlite_path;         //!< empty: <data_dir>/wattos.db
  std::string postgres_url;        //!< libpq URL, e.g. postgresql://user@host:5432/db
  int pool_size = 8;               //!< connections kept open
  int acquire_timeout_ms = 5000;   //!< wait for a free pooled connection
  int busy_timeout_ms = 5000;      //!< SQLite: wait for a lock before SQLITE_BUSY
};

struct auth_settings {
  std::string issuer = "wattos";                        //!< JWT iss
  std::string audience = "wattos";                      //!< JWT aud
  int access_ttl_s = 900;                               //!< lifetime of an access token
  int refresh_ttl_s = 30 * 24 * 3600;                   //!< lifetime of a refresh token (rotated on use)
  std::string hs256_secret;                             //!< set: sign with HS256 instead of EdDSA (not recommended)
  int lockout_threshold = 5;                            //!< failed logins before the account locks
  int lockout_max_s = 900;                              //!< longest lock (it doubles per further failure)
  int password_min_length = 12;                         //!< password policy
  std::string initial_admin_email = "admin@localhost";  //!< account made on first start
  int principal_cache_ms = 1000;  //!< how long a checked credential is trusted without the store (0: never)
};

// An external OpenID Connect provider whose access tokens are accepted besides our
// own (api/identity/oidc.hpp). Off while issuer is empty.
struct oidc_settings {
  std::string issuer;       //!< iss of the provider's tokens, e.g. https://login.example.eu/realms/acme
  std::string jwks_url;     //!< where its signing keys are published (JWKS)
  std::string audience;     //!< aud a token must carry (the client id WattOS is registered as)
  std::string roles_claim;  //!< claim with the user's groups or roles, dotted for nesting; empty: roles kept here
  std::string role_map;     //!< provider group = WattOS role, comma-separated, e.g. "wattos-admins=admin"
  std::string default_role = "member";  //!< role of a new user when no mapped group matches (empty: none)
  bool provision_users = true;          //!< create a user on first sight; off: only existing users (verified e-mail)
  int jwks_refresh_s = 3600;            //!< keys are fetched again after this long (and at once for an unknown key id)
  int jwks_min_interval_s = 10;  //!< but not sooner than this after the last fetch (unknown key ids cannot flood it)
};

struct rate_limit_settings {
  std::string backend = "memory";  //!< memory (one process) or redis (shared by processes)
  std::string redis_url;           //!< redis://host:port when backend is redis
  int login_per_minute = 10;       //!< per IP and per account
  int login_burst = 5;
  int chat_per_minute = 60;  //!< per principal
  int chat_burst = 20;
  int upload_per_minute = 30;  //!< per principal
  int upload_burst = 10;
  int default_per_minute = 600;  //!< per principal (or IP when anonymous)
  int default_burst = 100;
};

struct cors_settings {
  std::string allowed_origins;  //!< comma-separated; empty: no CORS headers
  bool allow_credentials = false;
};

// Where services run when not in this process; empty: in process (or not served).
struct services_settings {
  std::string chat_url;  //!< e.g. http://chat.internal:3006
  std::string rag_url;
  std::string agent_url;
  std::string persona_url;
  std::string voice_url;
  std::string llm_url;
  std::string ingestion_url;
};

struct gateway_settings {
  std::string identity_secret;                         //!< HMAC key signing X-WattOS-Identity for upstreams
  int upstream_connect_timeout_ms = 5000;              //!< connecting to a service
  int upstream_first_byte_timeout_ms = 60000;          //!< until the service starts answering
  int upstream_idle_timeout_ms = 120000;               //!< silence within a streamed answer
  std::uint64_t proxy_body_limit_bytes = 32ull << 20;  //!< request bodies forwarded to services
};

// One model of the LLM gateway's registry (the `models:` list of the YAML file; not
// settable from the environment). Built-in models (`extractive`, `wattos-embed`) are
// always present unless an entry with the same id replaces them.
struct model_settings {
  std::string id;                         //!< the name clients ask for
  std::string display_name;               //!< shown in pickers (default: id)
  std::string provider;                   //!< openai, anthropic, extractive, embedder
  std::string endpoint;                   //!< provider base URL, e.g. https://api.mistral.ai/v1
  std::string upstream_model;             //!< the model's name at the provider (default: id)
  std::string api_key_env;                //!< environment variable holding the API key
  std::string api_key_file;               //!< or a file holding it (first line)
  std::string region = "eu";              //!< eu, or where else the provider processes data (us, ...)
  bool external = true;                   //!< text leaves the organisation: PII is redacted first
  int context_window = 8192;              //!< tokens
  std::vector<std::string> capabilities;  //!< chat, tools, vision, embeddings, rerank, speech, transcription
  double price_in_per_1m = 0;             //!< currency units per 1M prompt tokens
  double price_out_per_1m = 0;            //!< per 1M completion tokens
  std::vector<std::string> fallbacks;     //!< models tried in order when this one fails
  int dimensions = 0;                     //!< embedding size (embedding models)
  int max_output_tokens = 4096;           //!< default max_tokens sent to providers that need one
};

struct llm_settings {
  std::string default_model = "extractive";      //!< chat model when a request names none
  std::string embedding_model = "wattos-embed";  //!< default embedding model
  int max_retries = 2;                           //!< retries per model on 429, 5xx and connection errors
  int retry_base_ms = 250;                       //!< first backoff; doubles per retry, with full jitter
  int retry_max_ms = 10000;                      //!< longest backoff (and longest Retry-After honoured)
  int connect_timeout_ms = 10000;                //!< connecting to a provider
  int first_token_timeout_ms = 60000;            //!< until the provider starts answering
  int idle_timeout_ms = 60000;                   //!< silence within a streamed answer
  int breaker_failures = 5;                      //!< consecutive failures that open an endpoint's circuit
  int breaker_open_ms = 30000;                   //!< how long an open circuit refuses calls before a trial
  bool redact_pii = true;                        //!< redact PII before text goes to an external model
  int image_check_threads = 1;                   //!< threads that read images (OCR) bound for external models
  int image_check_queue = 8;                     //!< requests with images in their check at once; more get 503
  std::int64_t user_daily_tokens = 0;            //!< tokens per user and day (0: unlimited)
  std::string role_daily_tokens;                 //!< per-role daily tokens, e.g. "member=200000,editor=1000000"
  int extractive_delay_ms = 0;                   //!< pause between streamed words of the extractive model
  std::uint64_t max_request_bytes = 8ull << 20;  //!< body limit of /v1 requests
};

struct rag_settings {
  std::string vector_backend = "hnsw";  //!< hnsw (files under data_dir/vectors) or pgvector
  std::string pgvector_url;             //!< libpq URL of a PostgreSQL with pgvector (vector_backend pgvector)
  std::string compound_dictionary = "/usr/share/dict/ngerman";  //!< German word list for compound splitting ("": off)
};

struct persona_settings {
  std::string draft_model;                      //!< model that drafts personas from a description ("": templates only)
  std::uint64_t avatar_max_bytes = 5ull << 20;  //!< largest uploaded avatar image
  int avatar_size = 256;                        //!< edge in pixels of the stored (square) avatar
};

struct queue_settings {
  std::string backend = "sql";          //!< sql (the database, embedded default) or redis (shared by worker processes)
  std::string redis_url;                //!< redis://host:port when backend is redis
  std::string redis_prefix = "wattos";  //!< key prefix of the Redis queue (BullMQ layout: <prefix>:<queue>:...)
  int lease_ms = 30000;                 //!< a claimed job returns to the queue when its worker is silent this long
  int max_attempts = 5;                 //!< attempts before a job is dead-lettered
  int retry_base_ms = 1000;             //!< first retry delay; doubles per attempt, with full jitter
  int retry_max_ms = 300000;            //!< longest retry delay
};

struct ingest_settings {
  std::string files_dir;   //!< where ingested files are kept (empty: <data_dir>/files); shared by worker processes
  int workers = 2;         //!< jobs processed at once by this process (0: none, enqueue only)
  int chunk_tokens = 256;  //!< target chunk size in tokens
  int chunk_overlap_tokens = 32;                    //!< tokens repeated from the previous chunk
  std::uint64_t max_file_bytes = 256ull << 20;      //!< largest document accepted
  std::uint64_t max_unpacked_bytes = 512ull << 20;  //!< all entries of a ZIP container (DOCX, XLSX, ...) unpacked
  std::uint64_t max_text_bytes = 64ull << 20;       //!< text extracted from one document
  int max_pages = 5000;                             //!< pages of one PDF
  bool ocr = true;                                  //!< OCR images and PDF pages without a text layer (tesseract)
  std::string ocr_languages = "deu+eng";            //!< tesseract languages
  int ocr_dpi = 200;                                //!< resolution PDF pages are rendered at for OCR
  int max_ocr_pages = 100;                          //!< pages of one document that are OCRed
  int watch_debounce_ms = 1000;                     //!< quiet time after a file change before it is ingested
  bool isolate_parsers = true;  //!< parse each file in a child process (a crashing parser harms nothing else)
  int parse_timeout_s = 300;    //!< a child parser still busy after this is stopped (the file fails)
  int parse_memory_mb = 4096;   //!< address-space limit of a child parser
};

struct config {
  std::string data_dir = "./data";  //!< created at start; holds the SQLite file, keys, uploads
  server_settings server;
  log_settings log;
  database_settings database;
  auth_settings auth;
  oidc_settings oidc;
  rate_limit_settings rate_limit;
  cors_settings cors;
  services_settings services;
  gateway_settings gateway;
  llm_settings llm;
  rag_settings rag;
  persona_settings persona;
  queue_settings queue;
  ingest_settings ingest;
  std::vector<model_settings> models;
};

// One documented option, for validation and for `wattos config` output.
struct option_info {
  std::string path;      //!< YAML path, e.g. "server.port"
  std::string env_name;  //!< e.g. "WATTOS_SERVER_PORT"
  std::string type;      //!< "string", "int", "bool", ...
  std::string default_value;
  std::string description;
};

// The full option table, in file order.
const std::vector<option_info>& config_options();

using environment = std::map<std::string, std::string, std::less<>>;

// Builds an environment map from a `char** environ`-style array.
environment environment_from(char** envp);

// Parses YAML text (may be empty) and applies environment overrides, then validates.
result<config> parse_config(std::string_view yaml_text, const environment& env);

// Reads the file (if `path` is empty, starts from defaults), then as parse_config.
result<config> load_config(const std::string& path, const environment& env);

// Parses llm.role_daily_tokens ("member=200000,editor=1000000").
result<std::map<std::string, std::int64_t>> parse_role_budgets(std::string_view text);

// oidc.role_map ("group=role,group2=role2") as (group, role) pairs, in order;
// invalid_argument naming the first entry that is not group=role.
result<std::vector<std::pair<std::string, std::string>>> parse_role_map(std::string_view text);

// Hides the password of a URL's user part, for logs and `wattos config`.
std::string redact_url_password(std::string_view url);

// Renders the effective configuration as YAML (for `wattos config`); secrets redacted.
std::string dump_config(const config& cfg);

}  // namespace wattos::core
