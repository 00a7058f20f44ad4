#include "core/clock.hpp"

#include <ctime>

namespace wattos::core {
namespace {

std::string format_now(const char* format) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  const std::size_t n = std::strftime(buf, sizeof buf, format, &tm);
  return std::string(buf, n);
}

}  // namespace

std::string utc_now_iso() {
  return format_now("%Y-%m-%dT%H:%M:%SZ");
}
std::string utc_today() {
  return format_now("%Y-%m-%d");
}

}  // namespace wattos::core
