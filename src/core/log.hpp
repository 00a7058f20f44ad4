// File: core/log.hpp
//
// Structured logging: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-24T22:40:01.123Z","level":"info","msg":"request","request_id":"...","status":200}
// Fields are passed explicitly (a request id travels with the request, not in a
// thread-local, because a coroutine may resume on another thread).
//
// Example:
//   core::log_info("listening", {{"port", 3001}, {"host", "127.0.0.1"}});
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace wattos::core {

enum class log_level { debug = 0, info = 1, warn = 2, error = 3 };

struct log_field {
  using value_type = std::variant<std::string_view, std::int64_t, double, bool>;
  std::string_view key;
  value_type value;

  log_field(std::string_view k, std::string_view v) : key(k), value(v) {}
  log_field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  log_field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  log_field(std::string_view k, bool v) : key(k), value(v) {}
  log_field(std::string_view k, double v) : key(k), value(v) {}
  template <typename Int>
  requires std::is_integral_v<Int> log_field(std::string_view k, Int v) : key(k), value(static_cast<std::int64_t>(v)) {}
};

// Parses "debug", "info", "warn", "error"; anything else gives info.
log_level parse_log_level(std::string_view name) noexcept;

// Process-wide settings; call before the first worker thread starts.
void set_log_level(log_level level) noexcept;
bool log_enabled(log_level level) noexcept;

// Redirects lines (without the trailing newline) to `sink`; an empty sink restores stderr.
// For tests.
void set_log_sink(std::function<void(std::string_view)> sink);

// Formats one log line as JSON (no newline). Exposed for tests.
std::string format_log_line(log_level level, std::string_view message, std::initializer_list<log_field> fields);

void log(log_level level, std::string_view message, std::initializer_list<log_field> fields = {});
inline void log_debug(std::string_view m, std::initializer_list<log_field> f = {}) {
  log(log_level::debug, m, f);
}
inline void log_info(std::string_view m, std::initializer_list<log_field> f = {}) {
  log(log_level::info, m, f);
}
inline void log_warn(std::string_view m, std::initializer_list<log_field> f = {}) {
  log(log_level::warn, m, f);
}
inline void log_error(std::string_view m, std::initializer_list<log_field> f = {}) {
  log(log_level::error, m, f);
}

}  // namespace wattos::core
