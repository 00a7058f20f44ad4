#include "api/route_helpers.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>

#include "api/gateway.hpp"

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

infra::llm::caller llm_caller_of(const net::request& req) {
  infra::llm::caller who;
  who.request_id = req.request_id;
  if (auto p = principal_of(req)) {
    who.user_id = p->user_id;
    who.api_key_id = p->api_key_id;
    who.roles = p->roles;
  }
  return who;
}

}  // namespace wattos::api
