// Feeds arbitrary bytes through the request path up to the handler: Beast's parser with
// the server's limits, the origin-form target parser (and the server's shortcut for plain
// paths, which must agree with it), query decoding and the router.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/url/parse.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "net/origin_form.hpp"
#include "net/router.hpp"

namespace {

wattos::net::router& routes() {
  static wattos::net::router r = [] {
    wattos::net::router built;
    wattos::net::handler noop;  // never called: only matching is fuzzed
    built.add("GET", "/healthz", noop);
    built.add("GET", "/api/v1/spaces/{id}", noop);
    built.add("POST", "/api/v1/spaces/{id}/documents", noop);
    built.add("GET", "/static/{*path}", noop);
    return built;
  }();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace http = boost::beast::http;
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(std::uint64_t{64} * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t consumed = 0;
  while (consumed < input.size() && !parser.is_done()) {
    std::size_t n = parser.put(boost::asio::buffer(input.data() + consumed, input.size() - consumed), ec);
    if (ec == http::error::need_more) break;
    if (ec) return 0;
    if (n == 0) break;
    consumed += n;
  }
  if (!parser.is_header_done()) return 0;
  auto& msg = parser.get();
  auto target = boost::urls::parse_origin_form(msg.target());
  if (wattos::net::is_plain_origin_path(msg.target())) {
    // The server takes such a target as its own path without parsing it.
    if (!target || target->path() != msg.target() || target->has_query()) std::abort();
  }
  if (!target) return 0;
  std::string path = target->path();
  std::size_t params = 0;
  for (auto param : target->params()) params += param.key.size() + param.value.size();
  auto match = routes().find(msg.method_string(), path);
  (void)match;
  (void)params;
  return 0;
}
