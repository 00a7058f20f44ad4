#include "streams/ingest/isolated_parse.hpp"

#include <boost/json.hpp>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "streams/ingest/parsers.hpp"

extern char** environ;

namespace wattos::streams::ingest {
namespace {

namespace json = boost::json;

const char* kind_name(block_kind k) {
  switch (k) {
    case block_kind::heading:
      return "heading";
    case block_kind::list_item:
      return "list_item";
    case block_kind::table_row:
      return "table_row";
    case block_kind::code:
      return "code";
    default:
      return "paragraph";
  }
}

block_kind kind_of(std::string_view name) {
  if (name == "heading") return block_kind::heading;
  if (name == "list_item") return block_kind::list_item;
  if (name == "table_row") return block_kind::table_row;
  if (name == "code") return block_kind::code;
  return block_kind::paragraph;
}

core::errc errc_from_name(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(core::errc::internal); ++i) {
    const auto code = static_cast<core::errc>(i);
    if (core::errc_name(code) == name) return code;
  }
  return core::errc::internal;
}

std::string string_of(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::int64_t int_of(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_int64() ? v->get_int64() : 0;
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool address_sanitizer = true;
#else
constexpr bool address_sanitizer = false;
#endif

}  // namespace

std::string document_to_json(const parsed_document& doc) {
  json::object meta;
  for (const auto& [k, v] : doc.metadata) meta[k] = v;
  json::array warnings;
  for (const auto& w : doc.warnings) warnings.emplace_back(w);
  json::array blocks;
  blocks.reserve(doc.blocks.size());
  for (const auto& b : doc.blocks) {
    blocks.push_back(json::array{kind_name(b.kind), b.level, b.page, b.text});
  }
  json::object out{{"format", doc.format},       {"mime_type", doc.mime_type},      {"title", doc.title},
                   {"date", doc.date},           {"metadata", std::move(meta)},     {"pages", doc.pages},
                   {"ocr_pages", doc.ocr_pages}, {"warnings", std::move(warnings)}, {"blocks", std::move(blocks)}};
  return json::serialize(out);
}

core::result<parsed_document> document_from_json(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return core::error::internal("the parser process answered no JSON");
  const auto& o = v.get_object();
  if (const auto* e = o.if_contains("error"); e && e->is_object()) {
    return core::error(errc_from_name(string_of(e->get_object(), "code")), string_of(e->get_object(), "message"));
  }
  parsed_document d;
  d.format = string_of(o, "format");
  d.mime_type = string_of(o, "mime_type");
  d.title = string_of(o, "title");
  d.date = string_of(o, "date");
  d.pages = static_cast<int>(int_of(o, "pages"));
  d.ocr_pages = static_cast<int>(int_of(o, "ocr_pages"));
  if (const auto* m = o.if_contains("metadata"); m && m->is_object()) {
    for (const auto& [k, val] : m->get_object()) {
      if (val.is_string()) d.metadata[std::string(k)] = std::string(val.get_string());
    }
  }
  if (const auto* w = o.if_contains("warnings"); w && w->is_array()) {
    for (const auto& x : w->get_array()) {
      if (x.is_string()) d.warnings.emplace_back(x.get_string());
    }
  }
  if (const auto* bs = o.if_contains("blocks"); bs && bs->is_array()) {
    d.blocks.reserve(bs->get_array().size());
    for (const auto& bv : bs->get_array()) {
      const auto* a = bv.if_array();
      if (!a || a->size() != 4 || !(*a)[0].is_string() || !(*a)[1].is_int64() || !(*a)[2].is_int64() ||
          !(*a)[3].is_string()) {
        return core::error::internal("the parser process answered a malformed block");
      }
      d.blocks.push_back({kind_of((*a)[0].get_string()), static_cast<int>((*a)[1].get_int64()),
                          std::string((*a)[3].get_string()), static_cast<int>((*a)[2].get_int64())});
    }
  }
  return d;
}

int run_parse_child(const std::filesystem::path& file, const parse_limits& limits, std::uint64_t memory_bytes,
                    int cpu_seconds) {
  if (cpu_seconds > 0) {
    rlimit cpu{static_cast<rlim_t>(cpu_seconds), static_cast<rlim_t>(cpu_seconds) + 5};
    (void)setrlimit(RLIMIT_CPU, &cpu);
  }
  if (memory_bytes > 0 && !address_sanitizer) {
    rlimit as{static_cast<rlim_t>(memory_bytes), static_cast<rlim_t>(memory_bytes)};
    (void)setrlimit(RLIMIT_AS, &as);
  }
  auto parsed = parse_file(file, limits);
  std::string out;
  if (parsed) {
    out = document_to_json(*parsed);
  } else {
    out = json::serialize(json::object{
        {"error", json::object{{"code", core::errc_name(parsed.err().code())}, {"message", parsed.err().message()}}}});
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return 0;
}

core::result<parsed_document> parse_file_isolated(const std::filesystem::path& file, const parse_limits& limits,
                                                  const isolation_settings& isolation) {
  if (isolation.executable.empty()) return parse_file(file, limits);
  if (isolation.in_process_text_bytes > 0) {
    if (auto text = parse_file_if_plain_text(file, limits, isolation.in_process_text_bytes)) return std::move(*text);
  }
  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return core::error::unavailable("cannot create a pipe for the parser");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  const std::string exe = isolation.executable.string();
  const std::string path = file.string();
  std::vector<std::string> args = {exe,
                                   "parse",
                                   "--json",
                                   "--max-file-bytes",
                                   std::to_string(limits.max_file_bytes),
                                   "--max-unpacked-bytes",
                                   std::to_string(limits.max_unpacked_bytes),
                                   "--max-text-bytes",
                                   std::to_string(limits.max_text_bytes),
                                   "--max-pages",
                                   std::to_string(limits.max_pages),
                                   "--ocr",
                                   limits.ocr ? "1" : "0",
                                   "--ocr-languages",
                                   limits.ocr_languages,
                                   "--ocr-dpi",
                                   std::to_string(limits.ocr_dpi),
                                   "--max-ocr-pages",
                                   std::to_string(limits.max_ocr_pages),
                                   "--memory-bytes",
                                   std::to_string(isolation.memory_bytes),
                                   "--cpu-seconds",
                                   std::to_string(isolation.timeout.count()),
                                   path};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    return core::error::unavailable("cannot start the parser process: " + std::string(std::strerror(rc)));
  }

  // Read its answer until it closes stdout or the deadline passes.
  const auto deadline = std::chrono::steady_clock::now() + isolation.timeout;
  const std::uint64_t max_output = limits.max_text_bytes * 2 + (16u << 20);  // text plus JSON framing
  std::string output;
  bool timed_out = false;
  bool too_large = false;
  char buffer[65536];
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{out_pipe[0], POLLIN, 0};
    const int n = ::poll(&pfd, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1000)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    const ssize_t got = ::read(out_pipe[0], buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    output.append(buffer, static_cast<std::size_t>(got));
    if (output.size() > max_output) {
      too_large = true;
      break;
    }
  }
  ::close(out_pipe[0]);
  if (timed_out || too_large) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return core::error::invalid_argument("parsing took longer than " + std::to_string(isolation.timeout.count()) +
                                         " s and was stopped");
  }
  if (too_large) return core::error::payload_too_large("the document's text is larger than the limit");
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    if (sig == SIGXCPU) return core::error::invalid_argument("parsing used more CPU time than allowed and was stopped");
    return core::error::invalid_argument("the parser crashed on this file (signal " + std::to_string(sig) + ")");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    // Out of memory under RLIMIT_AS ends in std::bad_alloc and abort, or an exit code.
    return core::error::invalid_argument("the parser failed on this file (exit code " +
                                         std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
  }
  return document_from_json(output);
}

}  // namespace wattos::streams::ingest
