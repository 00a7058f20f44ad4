// The streaming multipart parser fed in chunks whose sizes come from the input itself,
// so that every split of a delimiter across chunks gets exercised.
#include <cstdint>
#include <string>
#include <string_view>

#include "net/multipart.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  std::size_t parts = 0;
  std::size_t bytes = 0;
  wattos::net::multipart_limits limits;
  limits.max_parts = 8;
  limits.max_part_header_bytes = 512;
  wattos::net::multipart_parser parser("XyZ",
                                       {[&](const wattos::net::multipart_part_info& info) -> wattos::core::status {
                                          ++parts;
                                          bytes += info.name.size();
                                          return {};
                                        },
                                        [&](std::string_view d) -> wattos::core::status {
                                          bytes += d.size();
                                          return {};
                                        },
                                        [&]() -> wattos::core::status { return {}; }},
                                       limits);
  for (std::size_t i = 0; i < body.size(); i += chunk) {
    if (!parser.feed(body.substr(i, chunk)).ok()) return 0;
  }
  (void)parser.finish();
  auto boundary = wattos::net::multipart_boundary(body.substr(0, 200));
  (void)boundary;
  return 0;
}
