// File: api/route_helpers.hpp
//
// Small pieces every route file of the API layer uses: a JSON answer from a Boost.JSON
// value, a bounded integer query parameter, and the LLM gateway's caller of a request.
#pragma once

#include <boost/json/value.hpp>

#include <string_view>

#include "infra/llm/llm_gateway.hpp"
#include "net/http_types.hpp"

namespace wattos::api {

net::response json_response(int status, const boost::json::value& v);

// The integer query parameter `name`, clamped to [min, max]; `fallback` when it is
// absent or not a whole number.
int query_int(const net::request& req, std::string_view name, int fallback, int min, int max);

// Who a model call is for (user, API key, roles, request id), from the request's principal.
infra::llm::caller llm_caller_of(const net::request& req);

}  // namespace wattos::api
