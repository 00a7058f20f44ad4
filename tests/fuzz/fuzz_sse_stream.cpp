// Event streams from model providers: the incremental SSE parser, fed the same bytes
// once whole and once in two pieces split at a point the input chooses; both must
// produce the same events.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "net/sse_parser.hpp"

namespace {

std::vector<std::string> parse(std::string_view a, std::string_view b) {
  wattos::net::sse_parser parser(4096, 16384);
  std::vector<std::string> events;
  auto collect = [&](const wattos::net::sse_parser::event& e) {
    events.push_back(e.event + "\x1f" + e.data + "\x1f" + e.id);
    return true;
  };
  if (!parser.feed(a, collect).ok()) return {"error"};
  if (!parser.feed(b, collect).ok()) return {"error"};
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t split = data[0] % size;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t at = std::min(split, text.size());
  auto whole = parse(text, {});
  auto pieces = parse(text.substr(0, at), text.substr(at));
  // A line-length error may surface in either order; otherwise the split must not matter.
  if (whole != pieces && whole != std::vector<std::string>{"error"} && pieces != std::vector<std::string>{"error"}) {
    std::abort();
  }
  return 0;
}
