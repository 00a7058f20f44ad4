// File: api/middleware.hpp
//
// Middleware of the public API, applied in this order by the app:
//   security_headers   nosniff, frame and referrer policy on every response
//
// Example:
//   server.use(api::security_headers());
#pragma once

#include "net/http_types.hpp"

namespace wattos::api {

// Adds conservative security headers unless the handler set them already.
net::middleware security_headers();

}  // namespace wattos::api
