#include "api/route_helpers.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>

namespace wattos::api {

net::response json_response(int status, const boost::json::value& v) {
  return net::response::json(status, boost::json::serialize(v));
}

int query_int(const net::request& req, std::string_view name, int fallback, int min, int max) {
  auto v = req.query_param(name);
  if (!v) return fallback;
  int parsed = fallback;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), parsed);
  if (ec != std::errc() || ptr != v->data() + v->size()) return fallback;
  return std::clamp(parsed, min, max);
}

}  // namespace wattos::api
