#include "api/middleware.hpp"

namespace wattos::api {
namespace {

boost::asio::awaitable<net::response> add_security_headers(net::request& req, const net::handler& next) {
  net::response res = co_await next(req);
  auto set_default = [&res](const char* name, const char* value) {
    if (!res.headers.contains(name)) res.headers.add(name, value);
  };
  set_default("X-Content-Type-Options", "nosniff");
  set_default("X-Frame-Options", "DENY");
  set_default("Referrer-Policy", "no-referrer");
  co_return res;
}

}  // namespace

net::middleware security_headers() {
  return add_security_headers;
}

}  // namespace wattos::api
