// JSON request bodies: the depth-limited parser every handler uses.
#include <cstdint>
#include <string_view>

#include "net/json_body.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parsed = wattos::net::parse_json(std::string_view(reinterpret_cast<const char*>(data), size));
  (void)parsed;
  return 0;
}
