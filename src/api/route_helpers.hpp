// File: api/route_helpers.hpp
//
// Small pieces every route file of the API layer uses: a JSON answer from a Boost.JSON
// value, and a bounded integer query parameter.
#pragma once

#include <boost/json/value.hpp>

#include <string_view>

#include "net/http_types.hpp"

namespace wattos::api {

net::response json_response(int status, const boost::json::value& v);

// The integer query parameter `name`, clamped to [min, max]; `fallback` when it is
// absent or not a whole number.
int query_int(const net::request& req, std::string_view name, int fallback, int min, int max);

}  // namespace wattos::api
