// File: net/http_error.hpp
//
// The one place where an error code becomes an HTTP status and a JSON body
// `{"error":{"code":"not_found","message":"...","request_id":"..."}}`.
//
// Example:
//   if (!space) co_return net::error_response(space.err(), req.request_id);
#pragma once

#include <string_view>

#include "core/error.hpp"
#include "net/http_types.hpp"

namespace wattos::net {

int http_status(core::errc code) noexcept;

// A JSON error response; rate_limited and unavailable errors get no Retry-After here
// (the caller that knows the delay sets it).
response error_response(const core::error& err, std::string_view request_id = {});
response error_response(int status, std::string_view code, std::string_view message, std::string_view request_id = {});

}  // namespace wattos::net
