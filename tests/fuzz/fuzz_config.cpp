// Configuration files: YAML parsing and validation must fail with a message, never crash.
#include <cstdint>
#include <string_view>

#include "core/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto cfg = wattos::core::parse_config(std::string_view(reinterpret_cast<const char*>(data), size), {});
  (void)cfg;
  return 0;
}
