// File: api/services.hpp
//
// The services of the platform, their ports when run alone, and which service owns
// which API path: the one table behind `wattos serve --service NAME` (the routes that
// process serves) and the gateway's proxy (the prefixes it forwards to
// `services.<name>_url`). Ownership goes by the longest matching prefix, compared whole
// segment by whole segment against a route pattern (`{id}` in a prefix matches only
// `{id}` in a pattern), so `/api/v1/spaces/{id}/files` belongs to ingestion while the
// rest of `/api/v1/spaces` belongs to RAG.
//
//   kernel     /healthz, /readyz, /metrics, /api/v1/version (every process serves them)
//   gateway    /api/v1/auth, /api/v1/api-keys (sign-in and a caller's own keys)
//   admin      /api/v1/admin (users, roles, API keys, audit log, usage, feedback)
//   chat, rag, agent, persona, voice, llm, ingestion: the prefixes of service_prefixes()
//
// A lone gateway serves what the gateway and admin own and forwards the rest.
//
// Example:
//   auto svc = api::find_service("rag");   // {"rag", 3007}
//   routes.serve_only([](std::string_view pattern) { return api::serves("rag", pattern); });
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace wattos::api {

struct service_info {
  std::string_view name;
  std::uint16_t port;  // its port when it runs alone (docs/architecture.md)
};

// Every service, in the order of the ports table.
std::span<const service_info> services();
std::optional<service_info> find_service(std::string_view name);

struct service_prefix {
  std::string_view prefix;   // "/api/v1/spaces/{id}/files"
  std::string_view service;  // "ingestion", or "kernel" for the operational routes
};

// The ownership table (longest prefix wins; see the banner).
std::span<const service_prefix> service_prefixes();

// The service that owns a route pattern: "kernel", a service name, or empty when no
// prefix matches (a route only the all-in-one process serves).
std::string_view owner_of(std::string_view pattern);

// Whether a process running `service` ("all" or a service name) registers the route.
bool serves(std::string_view service, std::string_view pattern);

}  // namespace wattos::api
