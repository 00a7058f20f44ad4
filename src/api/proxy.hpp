// File: api/proxy.hpp
//
// The gateway's proxy to services that run in other processes (`services.*_url`).
// For each configured service its path prefixes are forwarded with the request id, a
// W3C traceparent, X-Forwarded-For, and the authenticated identity in
// `X-WattOS-Identity`, signed with `gateway.identity_secret` so the service can trust
// it (verify_identity). The caller's own credentials are not forwarded, and an
// identity header arriving from outside is dropped. Server-Sent Events are relayed
// as they arrive, WebSockets message by message; a service that is down answers 502,
// one that is too slow 504, both as JSON errors. Connections to `http://` services are
// kept alive and reused (net/http_client.hpp: pooled per io_context, one retry of an
// idempotent request on a connection the service had closed).
//
// Example:
//   api::add_proxy_routes(routes, api::configured_upstreams(cfg.services), cfg.gateway);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "api/gateway.hpp"
#include "api/identity/identity_service.hpp"
#include "core/config.hpp"
#include "core/crypto.hpp"

namespace wattos::api {

struct upstream {
  std::string service;                 // "chat", "rag", ...
  std::vector<std::string> base_urls;  // replicas: http://host:port, no trailing slash
  std::vector<std::string> prefixes;   // "/api/v1/chat", ...
  rate_class rate = rate_class::standard;
};

// The replica for a request: a path with a resource id after the prefix
// ("/api/v1/conversations/{id}/...") always goes to the same replica (so a streaming
// answer and its reconnects meet in one process); other requests spread by request id.
const std::string& replica_for(const upstream& up, std::string_view path, std::string_view request_id);

// The upstreams of the services whose URL is set; a comma-separated list of URLs names
// the replicas of one service.
std::vector<upstream> configured_upstreams(const core::services_settings& services);

// Adds GET/POST/PUT/PATCH/DELETE routes and a WebSocket route for every prefix.
void add_proxy_routes(route_table& routes, const std::vector<upstream>& upstreams,
                      const core::gateway_settings& settings);

// Writes signed identity headers: base64url(JSON claims) "." base64url(HMAC-SHA256).
// The claims are written by hand from the request's principal attributes (the
// gateway's authenticate middleware sets them), and the HMAC key is set up once: this
// runs on every proxied request. The principal's claims come first, padded with JSON
// whitespace to a multiple of 3 bytes, so their base64 text and the HMAC state after it
// can be kept per thread for the last principal signed (a program sending many
// requests with one key pays for them once); the request id and time follow.
class identity_signer {
 public:
  explicit identity_signer(std::string_view secret);
  // The header for the principal of `req`; empty when the request has none.
  std::string sign(const net::request& req, std::int64_t now_s) const;
  std::string sign(const principal& who, std::string_view request_id, std::int64_t now_s) const;

 private:
  struct claims;
  std::string sign(const claims& c) const;
  core::hmac_sha256_key key_;
  std::uint64_t id_;  // tells the signers apart in the per-thread cache of the last principal
};

// The signed identity header, and its check on the service side (max_age_s bounds
// replay of a captured header).
std::string sign_identity(const principal& who, std::string_view request_id, std::int64_t now_s,
                          std::string_view secret);
core::result<principal> verify_identity(std::string_view header, std::string_view secret, std::int64_t now_s,
                                        std::int64_t max_age_s = 300);

// A traceparent for the next hop: the incoming trace continued, or a new one.
std::string next_traceparent(std::string_view incoming);

}  // namespace wattos::api
