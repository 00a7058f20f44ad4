#include "app/commands.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "api/audit_log.hpp"
#include "api/chat_routes.hpp"
#include "api/gateway.hpp"
#include "api/health_routes.hpp"
#include "api/identity/identity_service.hpp"
#include "api/identity_routes.hpp"
#include "api/ingest_routes.hpp"
#include "api/llm_routes.hpp"
#include "api/persona_routes.hpp"
#include "api/proxy.hpp"
#include "api/rag_routes.hpp"
#include "api/services.hpp"
#include "app/eval_command.hpp"
#include "core/config.hpp"
#include "core/id.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/version.hpp"
#include "infra/cache/rate_limiter.hpp"
#include "infra/db/database.hpp"
#include "infra/db/migrations.hpp"
#include "infra/llm/llm_gateway.hpp"
#include "infra/queue/job_queue.hpp"
#include "net/http_server.hpp"
#include "persona/persona.hpp"
#include "streams/chat/chat_service.hpp"
#include "streams/ingest/folder_watcher.hpp"
#include "streams/ingest/ingest_service.hpp"
#include "streams/ingest/isolated_parse.hpp"
#include "streams/ingest/parsers.hpp"
#include "streams/rag/rag_service.hpp"

namespace wattos::app {
namespace {

// Migrations of the kernel itself; each service adds its own component.
const std::vector<infra::db::migration>& core_migrations() {
  static const std::vector<infra::db::migration> list = {
      {1, "instance", "CREATE TABLE instance (id TEXT PRIMARY KEY, created_at TEXT NOT NULL)", ""},
  };
  return list;
}

core::result<core::config> load(const std::string& config_path, char** envp) {
  auto env = core::environment_from(envp);
  std::string path = config_path;
  if (path.empty()) {
    auto it = env.find("WATTOS_CONFIG");
    if (it != env.end()) path = it->second;
  }
  WATTOS_ASSIGN_OR_RETURN(auto cfg, core::load_config(path, env));
  std::error_code ec;
  std::filesystem::create_directories(cfg.data_dir, ec);
  if (ec) return core::error::unavailable("cannot create data_dir " + cfg.data_dir + ": " + ec.message());
  if (cfg.database.sqlite_path.empty()) {
    cfg.database.sqlite_path = (std::filesystem::path(cfg.data_dir) / "wattos.db").string();
  }
  return cfg;
}

// Opens the database and applies the kernel's and the audit log's migrations (the
// identity service applies its own when it is created).
core::result<std::unique_ptr<infra::db::database>> open_store(const core::config& cfg) {
  WATTOS_ASSIGN_OR_RETURN(auto db, infra::db::database::open(cfg.database));
  WATTOS_RETURN_IF_ERROR(infra::db::migrate(*db, "core", core_migrations()));
  WATTOS_RETURN_IF_ERROR(infra::db::migrate(*db, "audit", api::audit_log::migrations()));
  WATTOS_RETURN_IF_ERROR(infra::db::migrate(*db, "llm", infra::llm::llm_gateway::migrations()));
  WATTOS_RETURN_IF_ERROR(infra::db::migrate(*db, "rag", streams::rag::rag_service::migrations()));
  WATTOS_RETURN_IF_ERROR(infra::db::migrate(*db, "chat", streams::chat::chat_service::migrations()));
  WATTOS_RETURN_IF_ERROR(infra::db::migrate(*db, "persona", persona::persona_store::migrations()));
  WATTOS_RETURN_IF_ERROR(infra::db::migrate(*db, "queue", infra::queue::sql_queue_migrations()));
  WATTOS_RETURN_IF_ERROR(infra::db::migrate(*db, "ingest", streams::ingest::ingest_service::migrations()));
  return db;
}

core::result<std::unique_ptr<infra::rate_limiter>> make_limiter(const core::rate_limit_settings& settings) {
  if (settings.backend == "redis") return infra::make_redis_rate_limiter(settings.redis_url);
  return infra::make_memory_rate_limiter();
}

// The instance id is made once, on the first start against an empty store.
core::result<std::string> instance_id(infra::db::database& db) {
  WATTOS_ASSIGN_OR_RETURN(auto rows, db.execute("SELECT id FROM instance", {}));
  if (!rows.rows.empty()) return rows.rows.front().get_text(0);
  std::string id = core::new_uuid_v7();
  WATTOS_RETURN_IF_ERROR(
      db.execute("INSERT INTO instance (id, created_at) VALUES (?, CURRENT_TIMESTAMP)", {infra::db::value(id)}));
  return id;
}

std::filesystem::path files_dir_of(const core::config& cfg) {
  if (!cfg.ingest.files_dir.empty()) return cfg.ingest.files_dir;
  return std::filesystem::path(cfg.data_dir) / "files";
}

// Child parser processes run this same executable (`wattos parse`).
streams::ingest::isolation_settings isolation_of(const core::ingest_settings& settings) {
  streams::ingest::isolation_settings iso;
  std::error_code ec;
  if (settings.isolate_parsers) iso.executable = std::filesystem::read_symlink("/proc/self/exe", ec);
  iso.timeout = std::chrono::seconds(settings.parse_timeout_s);
  iso.memory_bytes = static_cast<std::uint64_t>(settings.parse_memory_mb) << 20;
  return iso;
}

int fail(const core::error& err) {
  core::log_error("start failed", {{"code", core::errc_name(err.code())}, {"error", err.message()}});
  return err.code() == core::errc::invalid_argument ? 2 : 1;
}

int serve(const std::string& config_path, const std::string& service, std::optional<int> port_override, char** envp) {
  auto cfg = load(config_path, envp);
  if (!cfg) return fail(cfg.err());
  core::set_log_level(core::parse_log_level(cfg->log.level));

  // "all": every service in this process; otherwise one service on its own port.
  const std::string mode = service.empty() ? "all" : service;
  const bool all = mode == "all";
  if (!all) {
    auto info = api::find_service(mode);
    if (!info) return fail(core::error::invalid_argument("unknown service '" + service + "'"));
    cfg->server.port = info->port;
  }
  if (port_override) cfg->server.port = static_cast<std::uint16_t>(*port_override);

  auto db = open_store(*cfg);
  if (!db) return fail(db.err());
  auto id = instance_id(**db);
  if (!id) return fail(id.err());

  api::audit_log audit(**db);
  auto identity = api::identity_service::create(**db, audit, cfg->auth, cfg->data_dir, cfg->oidc);
  if (!identity) return fail(identity.err());
  auto one_time_password = (*identity)->bootstrap();
  if (!one_time_password) return fail(one_time_password.err());
  if (*one_time_password) {
    // Printed once, on the first start against an empty store; only its hash is kept.
    std::printf("\n  Initial admin account: %s\n  One-time password:     %s\n  Change it after the first login.\n\n",
                cfg->auth.initial_admin_email.c_str(), one_time_password->value().c_str());
    std::fflush(stdout);
  }
  auto limiter = make_limiter(cfg->rate_limit);
  if (!limiter) return fail(limiter.err());
  auto llm = infra::llm::llm_gateway::create(*cfg, **db, core::environment_from(envp));
  if (!llm) return fail(llm.err());

  const int threads = cfg->server.threads > 0 ? cfg->server.threads
                                              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  boost::asio::io_context io(threads);
  core::metrics_registry metrics;
  (*llm)->export_metrics(metrics);
  streams::rag::rag_service rag(**db, **llm, cfg->data_dir, cfg->rag);
  persona::persona_store personas(**db);
  auto jobs = infra::queue::make_job_queue(cfg->queue, **db);
  if (!jobs) return fail(jobs.err());
  streams::ingest::ingest_service ingest(**db, **jobs, rag, cfg->ingest, cfg->queue, files_dir_of(*cfg));
  ingest.isolate_parsers(isolation_of(cfg->ingest));
  rag.on_space_deleted([&ingest](const std::string& space_id) {
    if (auto st = ingest.purge_space(space_id); !st.ok()) {
      core::log_warn("ingest: files of a deleted space not removed",
                     {{"space", space_id}, {"error", st.err().message()}});
    }
  });
  streams::ingest::folder_watcher watcher(**db, ingest, rag, cfg->ingest.watch_debounce_ms);
  // Each answer gets its conversation's persona (KAYA when none is set): the character
  // layer hands its prompt generator down to the chat pipeline.
  streams::chat::chat_service chat(**db, **llm, rag, [&personas](std::string_view persona_id) {
    return api::persona_prompt_for(personas, persona_id);
  });
  net::router router;
  api::route_table routes(router);
  // A lone service registers only the routes it owns (api/services.hpp) and the kernel's.
  if (!all) {
    routes.serve_only([mode](std::string_view pattern) {
      if (api::owner_of(pattern).empty()) {
        core::log_warn("route of no service (add it to api/services.cpp): all-in-one only", {{"route", pattern}});
      }
      return api::serves(mode, pattern);
    });
  }
  api::readiness_checks checks;
  checks.add("database", [store = db->get()] { return store->ping(); });
  api::add_health_routes(routes, checks, metrics, {{mode}, *id});
  api::add_identity_routes(routes, **identity, audit);
  // In the all-in-one process a service whose URL is set is forwarded, not served (with
  // services.llm_url set, /v1 belongs to the remote LLM gateway). A lone service serves
  // its own routes whatever URLs the shared configuration names.
  auto in_process = [all](const std::string& url) { return !all || url.empty(); };
  if (in_process(cfg->services.llm_url)) {
    // Budgets are checked against the user store where it is this process's own (all in
    // one); a lone LLM service keeps its own schema and does not hold the users.
    api::add_llm_routes(routes, **llm, cfg->services.rag_url.empty() ? &rag : nullptr,
                        cfg->services.persona_url.empty() ? &personas : nullptr, all ? identity->get() : nullptr);
  }
  if (in_process(cfg->services.rag_url)) api::add_rag_routes(routes, rag);
  if (in_process(cfg->services.chat_url)) api::add_chat_routes(routes, chat, personas);
  if (in_process(cfg->services.persona_url)) api::add_persona_routes(routes, personas, cfg->persona, &**llm);
  if (in_process(cfg->services.ingestion_url)) {
    api::add_ingest_routes(routes, ingest, watcher, **jobs, cfg->ingest.max_file_bytes);
  }
  const bool runs_ingestion = all ? cfg->services.ingestion_url.empty() : mode == "ingestion";
  // Only the public entry forwards: the all-in-one process or a lone gateway.
  const bool is_entry = all || mode == "gateway";
  const auto upstreams = is_entry ? api::configured_upstreams(cfg->services) : std::vector<api::upstream>{};
  routes.serve_only({});  // the forwarding routes are the lone gateway's own
  api::add_proxy_routes(routes, upstreams, cfg->gateway);
  for (const auto& up : upstreams) {
    for (const auto& url : up.base_urls) core::log_info("forwarding service", {{"service", up.service}, {"url", url}});
  }
  if (mode == "gateway") {
    for (const auto& s : api::services()) {
      const bool forwarded = std::any_of(upstreams.begin(), upstreams.end(),
                                         [&s](const api::upstream& up) { return up.service == s.name; });
      if (s.name != "gateway" && s.name != "admin" && !forwarded) {
        core::log_info("service not configured, its paths answer 404", {{"service", s.name}});
      }
    }
  }
  if (!all && mode != "gateway" && cfg->gateway.identity_secret.empty()) {
    core::log_warn("gateway.identity_secret not set: requests forwarded by a gateway are not authenticated");
  }

  net::server_hooks hooks;
  hooks.upload_dir = std::filesystem::path(cfg->data_dir) / "uploads" / "incoming";
  if (is_entry) hooks.static_dir = cfg->server.static_dir;  // the web UI belongs to the public entry
  hooks.access_log = cfg->log.access_log;
  net::http_server server(io, cfg->server, router, metrics, hooks);
  api::gateway gateway(routes, **identity, audit, **limiter, cfg->rate_limit, cfg->cors);
  if (!cfg->gateway.identity_secret.empty()) gateway.trust_identity_header(cfg->gateway.identity_secret);
  gateway.install(server);
  if (auto st = server.listen(); !st.ok()) return fail(st.err());
  server.shutdown_on_signals();
  core::log_info("listening", {{"host", cfg->server.host},
                               {"port", server.port()},
                               {"threads", threads},
                               {"services", mode},
                               {"data_dir", cfg->data_dir},
                               {"database", cfg->database.backend},
                               {"rate_limit", cfg->rate_limit.backend},
                               {"version", core::version_string}});

  if (runs_ingestion) {
    ingest.start_workers(cfg->ingest.workers);
    if (auto st = watcher.start(); !st.ok())
      core::log_warn("folder watcher not started", {{"error", st.err().message()}});
  }

  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i) workers.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& w : workers) w.join();
  watcher.stop();
  ingest.stop();  // a job cut short here is taken up again when its lease runs out
  core::log_info("stopped");
  return 0;
}

int migrate_command(const std::string& config_path, char** envp) {
  auto cfg = load(config_path, envp);
  if (!cfg) return fail(cfg.err());
  auto db = open_store(*cfg);
  if (!db) return fail(db.err());
  auto applied = infra::db::applied_migrations(**db, "core");
  if (!applied) return fail(applied.err());
  for (const auto& m : *applied) std::printf("core %d %s\n", m.version, m.name.c_str());
  return 0;
}

int audit_verify_command(const std::string& config_path, char** envp) {
  auto cfg = load(config_path, envp);
  if (!cfg) return fail(cfg.err());
  auto db = open_store(*cfg);
  if (!db) return fail(db.err());
  api::audit_log audit(**db);
  auto report = audit.verify();
  if (!report) return fail(report.err());
  if (report->intact) {
    std::printf("audit log intact: %lld rows, last hash %s\n", static_cast<long long>(report->rows),
                report->last_hash.c_str());
    return 0;
  }
  std::printf("audit log BROKEN at row %lld: %s\n", static_cast<long long>(report->first_broken_seq),
              report->problem.c_str());
  return 3;
}

struct search_args {
  std::string space;
  std::string query;
  std::string mode = "hybrid";
  int k = 5;
};

// `wattos search`: the operator's view of a space, straight from the store (it runs
// with admin rights: whoever can read the data directory can read the spaces anyway).
int search_command(const std::string& config_path, const search_args& args, char** envp) {
  auto cfg = load(config_path, envp);
  if (!cfg) return fail(cfg.err());
  core::set_log_level(core::log_level::warn);
  auto db = open_store(*cfg);
  if (!db) return fail(db.err());
  auto llm = infra::llm::llm_gateway::create(*cfg, **db, core::environment_from(envp));
  if (!llm) return fail(llm.err());
  auto mode = streams::rag::parse_search_mode(args.mode);
  if (!mode) return fail(mode.err());
  streams::rag::rag_service rag(**db, **llm, cfg->data_dir, cfg->rag);
  const streams::rag::requester cli_operator{"cli", true, core::random_hex(8)};
  auto space = rag.get_space(cli_operator, args.space);
  if (!space) return fail(space.err());
  streams::rag::search_request request;
  request.space_ids = {space->id};
  request.query = args.query;
  request.mode = *mode;
  request.k = static_cast<std::size_t>(args.k);
  boost::asio::io_context io;
  std::optional<core::result<std::vector<streams::rag::search_hit>>> hits;
  boost::asio::co_spawn(
      io,
      [](streams::rag::rag_service& r, streams::rag::requester who, streams::rag::search_request req,
         std::optional<core::result<std::vector<streams::rag::search_hit>>>& out) -> boost::asio::awaitable<void> {
        auto found = co_await r.search(who, std::move(req));
        out.emplace(std::move(found));
      }(rag, cli_operator, std::move(request), hits),
      boost::asio::detached);
  io.run();
  if (!hits || !*hits) return fail(hits ? hits->err() : core::error::internal("search did not run"));
  int n = 0;
  for (const auto& h : **hits) {
    std::printf("%d. %s%s%s  score %.4f\n   %s\n\n", ++n, h.source.title.c_str(),
                h.source.page > 0 ? (", Seite " + std::to_string(h.source.page)).c_str() : "",
                h.source.heading_path.empty() ? "" : (" (" + h.source.heading_path + ")").c_str(), h.score,
                h.source.snippet.c_str());
  }
  if (n == 0) std::printf("no matches in '%s'\n", space->name.c_str());
  return 0;
}

struct ingest_args {
  std::vector<std::string> paths;
  std::string space;
  bool create = false;
  bool wait = true;
};

// Files of the given paths (folders recursively, hidden entries left out), sorted.
std::vector<std::filesystem::path> collect_files(const std::vector<std::string>& paths) {
  std::vector<std::filesystem::path> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      for (auto it = std::filesystem::recursive_directory_iterator(p, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        const auto name = it->path().filename().string();
        if (!name.empty() && name.front() == '.') {
          if (it->is_directory(ec)) it.disable_recursion_pending();
          continue;
        }
        if (it->is_regular_file(ec)) out.push_back(it->path());
      }
    } else {
      out.emplace_back(p);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

void print_progress(std::int64_t done, std::int64_t failed, std::int64_t total) {
  constexpr int width = 30;
  const std::int64_t finished = done + failed;
  const int filled = total > 0 ? static_cast<int>(width * finished / total) : width;
  std::fprintf(stderr, "\r[%s%s] %lld/%lld done, %lld failed",
               std::string(static_cast<std::size_t>(filled), '#').c_str(),
               std::string(static_cast<std::size_t>(width - filled), '-').c_str(), static_cast<long long>(done),
               static_cast<long long>(total), static_cast<long long>(failed));
  std::fflush(stderr);
}

// `wattos ingest`: the operator ingests files into a space from the command line, with
// the store's queue and workers of this process (and of any server sharing the store).
int ingest_command(const std::string& config_path, const ingest_args& args, char** envp) {
  auto cfg = load(config_path, envp);
  if (!cfg) return fail(cfg.err());
  core::set_log_level(core::log_level::warn);
  auto db = open_store(*cfg);
  if (!db) return fail(db.err());
  auto llm = infra::llm::llm_gateway::create(*cfg, **db, core::environment_from(envp));
  if (!llm) return fail(llm.err());
  auto jobs = infra::queue::make_job_queue(cfg->queue, **db);
  if (!jobs) return fail(jobs.err());
  streams::rag::rag_service rag(**db, **llm, cfg->data_dir, cfg->rag);
  streams::ingest::ingest_service ingest(**db, **jobs, rag, cfg->ingest, cfg->queue, files_dir_of(*cfg));
  ingest.isolate_parsers(isolation_of(cfg->ingest));
  const auto who = streams::ingest::ingest_service::system_requester();
  auto space = rag.get_space(who, args.space);
  if (!space && space.err().code() == core::errc::not_found && args.create) {
    space = rag.create_space(who, args.space, "", "");
  }
  if (!space) return fail(space.err());

  const auto files = collect_files(args.paths);
  if (files.empty()) return fail(core::error::invalid_argument("no files found"));
  std::vector<std::string> ids;
  int refused = 0;
  for (const auto& f : files) {
    streams::ingest::submit_request req;
    req.space_id = space->id;
    req.path = f;
    req.filename = f.filename().string();
    req.source = "cli";
    auto submitted = ingest.submit(who, req);
    if (!submitted) {
      std::fprintf(stderr, "%s: %s\n", f.string().c_str(), submitted.err().message().c_str());
      ++refused;
      continue;
    }
    ids.push_back(submitted->id);
  }
  std::printf("%zu files submitted to '%s'%s\n", ids.size(), space->name.c_str(),
              refused > 0 ? (", " + std::to_string(refused) + " refused").c_str() : "");
  if (!args.wait) return refused > 0 ? 1 : 0;

  ingest.start_workers(std::max(1, cfg->ingest.workers));
  std::int64_t done = 0;
  std::int64_t failed = 0;
  const auto total = static_cast<std::int64_t>(ids.size());
  std::vector<std::string> pending = ids;
  while (!pending.empty()) {
    std::vector<std::string> still;
    for (const auto& id : pending) {
      auto f = ingest.get_file(who, space->id, id);
      if (f && f->status == "done") {
        ++done;
      } else if (f && f->status == "failed") {
        ++failed;
        std::fprintf(stderr, "\n%s: %s\n", f->filename.c_str(), f->error.c_str());
      } else {
        still.push_back(id);
      }
    }
    pending.swap(still);
    print_progress(done, failed, total);
    if (!pending.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a progress bar's refresh
  }
  std::fprintf(stderr, "\n");
  ingest.stop();
  return failed + refused > 0 ? 1 : 0;
}

struct parse_args {
  std::string file;
  bool json = false;
  streams::ingest::parse_limits limits;
  std::uint64_t memory_bytes = 0;
  int cpu_seconds = 0;
};

// `wattos parse FILE`: what the parsers make of a file (also the child process that
// ingestion workers start for each file, with --json).
int parse_command(const parse_args& args) {
  core::set_log_level(core::log_level::error);
  if (args.json) return streams::ingest::run_parse_child(args.file, args.limits, args.memory_bytes, args.cpu_seconds);
  auto doc = streams::ingest::parse_file(args.file, args.limits);
  if (!doc) {
    std::fprintf(stderr, "%s: %s (%s)\n", args.file.c_str(), doc.err().message().c_str(),
                 std::string(core::errc_name(doc.err().code())).c_str());
    return 1;
  }
  std::printf("format: %s (%s)\ntitle: %s\npages: %d, OCR pages: %d, blocks: %zu\n", doc->format.c_str(),
              doc->mime_type.c_str(), doc->title.c_str(), doc->pages, doc->ocr_pages, doc->blocks.size());
  for (const auto& [k, v] : doc->metadata) std::printf("%s: %s\n", k.c_str(), v.c_str());
  for (const auto& w : doc->warnings) std::printf("warning: %s\n", w.c_str());
  int page = -1;
  for (const auto& b : doc->blocks) {
    if (b.page != page) {
      page = b.page;
      if (page > 0) std::printf("\n--- page %d ---\n", page);
    }
    std::string prefix;
    if (b.kind == streams::ingest::block_kind::heading)
      prefix = std::string(static_cast<std::size_t>(b.level), '#') + " ";
    if (b.kind == streams::ingest::block_kind::list_item) prefix = "- ";
    std::printf("\n%s%s\n", prefix.c_str(), b.text.c_str());
  }
  return 0;
}

}  // namespace

int run_cli(int argc, char** argv, char** envp) {
  CLI::App cli{"WattOS KI: self-hosted AI platform"};
  cli.require_subcommand(1);
  std::string config_path;
  std::string service;
  std::optional<int> port;

  auto* serve_cmd = cli.add_subcommand("serve", "Run the platform (all services in one process by default)");
  serve_cmd->add_option("--config", config_path, "YAML configuration file (default: $WATTOS_CONFIG)");
  std::vector<std::string> service_names = {"all"};
  for (const auto& s : api::services()) service_names.emplace_back(s.name);
  serve_cmd->add_option("--service", service, "Run only this service on its own port")
      ->check(CLI::IsMember(service_names));
  serve_cmd->add_option("--port", port, "Listen on this port (0: any free port)")->check(CLI::Range(0, 65535));

  auto* migrate_cmd = cli.add_subcommand("migrate", "Apply pending database migrations and list them");
  migrate_cmd->add_option("--config", config_path, "YAML configuration file (default: $WATTOS_CONFIG)");

  auto* config_cmd = cli.add_subcommand("config", "Print the effective configuration (secrets redacted)");
  config_cmd->add_option("--config", config_path, "YAML configuration file (default: $WATTOS_CONFIG)");

  auto* audit_cmd = cli.add_subcommand("audit", "Audit log tools");
  auto* verify_cmd = audit_cmd->add_subcommand("verify", "Check the hash chain; exit 3 if a row was edited or deleted");
  verify_cmd->add_option("--config", config_path, "YAML configuration file (default: $WATTOS_CONFIG)");
  audit_cmd->require_subcommand(1);

  eval_retrieval_args eval_args;
  auto* eval_cmd = cli.add_subcommand("eval", "Evaluation tools");
  auto* eval_retrieval_cmd = eval_cmd->add_subcommand(
      "retrieval", "nDCG@10, Recall@100, MRR@10 and latency of lexical, vector and hybrid search (BEIR-style)");
  eval_retrieval_cmd
      ->add_option("--corpus", eval_args.corpus, "corpus.jsonl (BEIR) or corpus CSV (doc_id,title,abstract)")
      ->required()
      ->check(CLI::ExistingFile);
  eval_retrieval_cmd->add_option("--queries", eval_args.queries, "queries.jsonl (BEIR) or claims CSV (id,claim)")
      ->required()
      ->check(CLI::ExistingFile);
  eval_retrieval_cmd->add_option("--qrels", eval_args.qrels, "qrels TSV (query-id, corpus-id, score)")
      ->required()
      ->check(CLI::ExistingFile);
  eval_retrieval_cmd->add_option("--modes", eval_args.modes, "lexical, vector, hybrid")->delimiter(',');
  eval_retrieval_cmd->add_option("--index", eval_args.index, "vector index: hnsw or exact")
      ->check(CLI::IsMember({"hnsw", "exact"}));
  eval_retrieval_cmd->add_option("--dimensions", eval_args.dimensions, "embedding size")->check(CLI::Range(8, 4096));
  eval_retrieval_cmd->add_flag("--json", eval_args.json, "print JSON instead of a table");
  eval_retrieval_cmd->add_flag("!--no-query-idf", eval_args.query_idf, "do not weight query embeddings by IDF");
  eval_retrieval_cmd
      ->add_option("--prf-docs", eval_args.prf_docs, "vector-side feedback from the top N lexical hits (0: off)")
      ->check(CLI::Range(0, 20));
  eval_cmd->require_subcommand(1);

  search_args search;
  auto* search_cmd = cli.add_subcommand("search", "Search a knowledge space (as the operator, from the store)");
  search_cmd->add_option("--config", config_path, "YAML configuration file (default: $WATTOS_CONFIG)");
  search_cmd->add_option("--space", search.space, "space name or id")->required();
  search_cmd->add_option("--mode", search.mode, "lexical, vector or hybrid")
      ->check(CLI::IsMember({"lexical", "vector", "hybrid"}));
  search_cmd->add_option("-k", search.k, "number of results")->check(CLI::Range(1, 100));
  search_cmd->add_option("query", search.query, "what to look for")->required();

  ingest_args ingest;
  auto* ingest_cmd = cli.add_subcommand("ingest", "Ingest files or folders into a knowledge space (as the operator)");
  ingest_cmd->add_option("--config", config_path, "YAML configuration file (default: $WATTOS_CONFIG)");
  ingest_cmd->add_option("--space", ingest.space, "space name or id")->required();
  ingest_cmd->add_flag("--create", ingest.create, "create the space when it does not exist");
  ingest_cmd->add_flag("!--no-wait", ingest.wait, "only queue the files; workers of a server do the rest");
  ingest_cmd->add_option("paths", ingest.paths, "files or folders")->required()->check(CLI::ExistingPath);

  parse_args parse;
  auto* parse_cmd = cli.add_subcommand("parse", "Show what the parsers make of a file (text, headings, pages)");
  parse_cmd->add_option("file", parse.file, "the file")->required();
  parse_cmd->add_flag("--json", parse.json, "the parsed document as JSON (what ingestion workers read)");
  parse_cmd->add_option("--max-file-bytes", parse.limits.max_file_bytes);
  parse_cmd->add_option("--max-unpacked-bytes", parse.limits.max_unpacked_bytes);
  parse_cmd->add_option("--max-text-bytes", parse.limits.max_text_bytes);
  parse_cmd->add_option("--max-pages", parse.limits.max_pages);
  parse_cmd->add_option("--ocr", parse.limits.ocr, "OCR pages without text (1/0)");
  parse_cmd->add_option("--ocr-languages", parse.limits.ocr_languages);
  parse_cmd->add_option("--ocr-dpi", parse.limits.ocr_dpi);
  parse_cmd->add_option("--max-ocr-pages", parse.limits.max_ocr_pages);
  parse_cmd->add_option("--memory-bytes", parse.memory_bytes, "address-space limit (0: none)");
  parse_cmd->add_option("--cpu-seconds", parse.cpu_seconds, "CPU time limit (0: none)");

  cli.add_subcommand("version", "Print the version");

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e);
  }
  if (*serve_cmd) return serve(config_path, service, port, envp);
  if (*migrate_cmd) return migrate_command(config_path, envp);
  if (*verify_cmd) return audit_verify_command(config_path, envp);
  if (*eval_retrieval_cmd) return eval_retrieval(eval_args);
  if (*search_cmd) return search_command(config_path, search, envp);
  if (*ingest_cmd) return ingest_command(config_path, ingest, envp);
  if (*parse_cmd) return parse_command(parse);
  if (*config_cmd) {
    auto env = core::environment_from(envp);
    std::string path = config_path;
    if (path.empty() && env.count("WATTOS_CONFIG")) path = env.at("WATTOS_CONFIG");
    auto cfg = core::load_config(path, env);
    if (!cfg) return fail(cfg.err());
    std::cout << core::dump_config(*cfg);
    return 0;
  }
  std::printf("wattos %s\n", core::version_string);
  return 0;
}

}  // namespace wattos::app
