// File: api/gateway.hpp
//
// The gateway's request pipeline, as middleware applied in this order:
//   security_headers -> cors -> authenticate -> rate_limit -> audit -> authorize -> handler
//
// * authenticate: `Authorization: Bearer <access token | API key>` or `X-API-Key`;
//   a credential that does not verify is answered 401 at once. The principal is put on
//   the request (see principal_of).
// * rate_limit: token buckets per route class (login, chat, upload, default), keyed
//   by the principal or, when anonymous, the client IP; 429 with Retry-After and
//   RateLimit-* headers.
// * audit: every state-changing request (POST, PUT, PATCH, DELETE) under /api or /v1
//   is written to the audit log with its outcome, denied ones included. The request
//   awaits its row's group commit (audit_log::append_async) without holding the I/O
//   thread; a row that cannot be written turns the answer into 503 unavailable. A
//   stream (SSE) sends its first event while its row commits; later events and its end
//   wait for the commit, and a failed row ends it with an error event (docs/api.md).
// * authorize: every API route has an access rule (public, authenticated, or a named
//   permission) in the route_table; an API route without one is refused (deny by
//   default), so a forgotten rule fails closed.
//
// Example:
//   api::route_table routes(router);
//   routes.add("GET", "/api/v1/admin/users", api::access_rule::needs(api::perm::users_read), list_users);
//   api::gateway gw(routes, identity, audit, limiter, cfg.rate_limit, cfg.cors);
//   gw.install(server);
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "api/audit_log.hpp"
#include "api/identity/identity_service.hpp"
#include "core/config.hpp"
#include "infra/cache/rate_limiter.hpp"
#include "net/http_server.hpp"
#include "net/router.hpp"

namespace wattos::api {

enum class rate_class { login, chat, upload, standard };

struct access_rule {
  enum class kind { open, authenticated, permission };
  kind who = kind::authenticated;
  std::string permission;
  rate_class rate = rate_class::standard;
  bool audited_by_handler = false;  // the handler writes a richer audit row itself

  static access_rule open_to_all(rate_class r = rate_class::standard) { return {kind::open, {}, r, false}; }
  static access_rule signed_in() { return {kind::authenticated, {}, rate_class::standard, false}; }
  static access_rule needs(std::string_view permission, rate_class r = rate_class::standard) {
    return {kind::permission, std::string(permission), r, false};
  }
  access_rule& self_audited() {
    audited_by_handler = true;
    return *this;
  }
};

// The router plus an access rule for every route.
class route_table {
 public:
  explicit route_table(net::router& router) : router_(router) {}
  // Routes whose pattern `keep` refuses are left out when added (a lone service adds every
  // route group through this filter, api/services.hpp); an empty `keep` lets all through.
  void serve_only(std::function<bool(std::string_view pattern)> keep) { keep_ = std::move(keep); }
  void add(std::string method, std::string pattern, access_rule rule, net::handler h, net::route_options options = {});
  void add_websocket(std::string pattern, access_rule rule, net::websocket_handler h, net::route_options options = {});
  // The rule of a matched route (HEAD uses GET's); nullptr when the route has none.
  const access_rule* rule_for(std::string_view method, std::string_view pattern) const;
  net::router& router() { return router_; }

 private:
  // (method, pattern), looked up by string_views: rule_for runs several times a request.
  struct rule_key_less {
    using is_transparent = void;
    using view = std::pair<std::string_view, std::string_view>;
    static view as_view(const std::pair<std::string, std::string>& key) { return {key.first, key.second}; }
    static view as_view(const view& key) { return key; }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return as_view(a) < as_view(b);
    }
  };
  net::router& router_;
  std::map<std::pair<std::string, std::string>, access_rule, rule_key_less> rules_;
  std::function<bool(std::string_view)> keep_;
};

// The principal that `authenticate` put on the request, if any.
std::optional<principal> principal_of(const net::request& req);

class gateway {
 public:
  gateway(route_table& routes, identity_service& identity, audit_log& audit, infra::rate_limiter& limiter,
          core::rate_limit_settings limits, core::cors_settings cors);

  // Adds the middleware chain to the server.
  void install(net::http_server& server);

  // A service behind a gateway: accept the identity that gateway signed into
  // X-WattOS-Identity with this secret (api/proxy.hpp), when no credential is sent.
  void trust_identity_header(std::string secret) { identity_secret_ = std::move(secret); }

  net::middleware cors();
  net::middleware authenticate();
  net::middleware rate_limit();
  net::middleware audit();
  net::middleware authorize();

 private:
  route_table& routes_;
  identity_service& identity_;
  audit_log& audit_;
  infra::rate_limiter& limiter_;
  core::rate_limit_settings limits_;
  std::vector<std::string> allowed_origins_;
  bool allow_credentials_;
  std::string identity_secret_;
};

}  // namespace wattos::api
