#include "api/gateway.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include <cmath>
#include <ctime>

#include "api/identity/permissions.hpp"
#include "api/middleware.hpp"
#include "api/proxy.hpp"
#include "core/log.hpp"
#include "net/http_error.hpp"

namespace wattos::api {
namespace asio = boost::asio;
namespace {

using boost::asio::awaitable;

bool is_api_path(std::string_view path) {
  return path.starts_with("/api/") || path.starts_with("/v1/");
}

// WebSocket routes have their rules under the pseudo-method WEBSOCKET.
std::string_view rule_method(const net::request& req) {
  return req.websocket_upgrade ? std::string_view("WEBSOCKET") : std::string_view(req.method);
}

bool is_state_changing(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

// A stream whose audit row is still committing: the first event goes out at once (the
// time to first token does not wait for the batch), every later one and the end of the
// stream wait for the commit. When the row cannot be written, the client gets an error
// event and the stream ends: no stream goes on, or ends, as a success without its row.
class audit_gated_stream final : public net::sse_stream {
 public:
  audit_gated_stream(net::sse_stream& inner, std::shared_ptr<audit_ticket> ticket, std::string_view request_id)
      : inner_(inner), ticket_(std::move(ticket)), request_id_(request_id) {}

  // Not coroutines (docs/coroutines.md, rule 2): an event that must wait is framed and
  // held here; the producer sends one event at a time, so one slot is enough.
  awaitable<bool> send(net::sse_event event) override {
    if (passes_now()) return inner_.send(std::move(event));
    held_ = net::format_sse_event(event);
    return send_held();
  }
  awaitable<bool> send_raw(std::string framed) override {
    if (passes_now()) return inner_.send_raw(std::move(framed));
    held_ = std::move(framed);
    return send_held();
  }
  bool closed() const noexcept override { return refused_ || inner_.closed(); }
  bool stopping() const noexcept override { return inner_.stopping(); }

  // After the producer returned: the stream ends once the row committed, or with the
  // error event when it failed.
  awaitable<void> finish() { co_await committed(); }

 private:
  // The first event, and every one once the row committed, goes out without waiting.
  bool passes_now() {
    if (refused_) return false;
    const auto& outcome = ticket_->outcome();
    const bool first = !sent_first_;
    sent_first_ = true;
    if (!outcome) return first;
    return outcome->ok();
  }

  awaitable<bool> send_held() {
    const bool may_send = co_await committed();  // named: docs/coroutines.md, rule 6
    if (!may_send) co_return false;
    co_return co_await inner_.send_raw(std::move(held_));
  }

  awaitable<bool> committed() {
    if (refused_) co_return false;
    const core::status st = co_await ticket_->wait();  // at once when the batch is done
    if (st.ok()) co_return true;
    refused_ = true;
    if (st.err().code() == core::errc::cancelled) co_return false;  // the stream is being torn down
    core::log_error("audit append failed", {{"request_id", request_id_}, {"error", st.err().message()}});
    const auto unaudited = net::error_response(core::error::unavailable("audit log unavailable"), request_id_);
    net::sse_event error_event{"", "error", unaudited.body, std::nullopt};
    co_await inner_.send(std::move(error_event));
    co_return false;
  }

  net::sse_stream& inner_;
  std::shared_ptr<audit_ticket> ticket_;
  std::string request_id_;
  std::string held_;
  bool sent_first_ = false;
  bool refused_ = false;
};

// Parameters by value: they live in the coroutine frame for the whole stream.
awaitable<void> run_audit_gated(net::sse_producer producer, std::shared_ptr<audit_ticket> ticket,
                                std::string request_id, net::sse_stream& out) {
  audit_gated_stream gated(out, std::move(ticket), request_id);
  co_await producer(gated);
  co_await gated.finish();
}

// Principal fields travel as request attributes (the transport type knows no principals).
void attach(net::request& req, const principal& p) {
  req.attributes.emplace_back("principal.kind", p.kind);
  req.attributes.emplace_back("principal.user_id", p.user_id);
  req.attributes.emplace_back("principal.email", p.email);
  req.attributes.emplace_back("principal.session_id", p.session_id);
  req.attributes.emplace_back("principal.api_key_id", p.api_key_id);
  req.attributes.emplace_back("principal.roles", join_permissions(p.roles));
  req.attributes.emplace_back("principal.permissions", join_permissions(p.permissions));
}

// The principal's actor ("user:<id>", "api_key:<id>", as principal::actor()) and its
// permission check, read from the attributes without building a principal: these run
// on every request.
std::string actor_of(const net::request& req) {
  const std::string_view kind = req.attribute("principal.kind");
  if (kind.empty()) return {};
  if (kind == "api_key") return "api_key:" + std::string(req.attribute("principal.api_key_id"));
  return "user:" + std::string(req.attribute("principal.user_id"));
}

bool attributes_grant(const net::request& req, std::string_view wanted) {
  std::string_view held = req.attribute("principal.permissions");  // joined by spaces
  while (!held.empty()) {
    const auto space = held.find(' ');
    const std::string_view one = held.substr(0, space);
    if (one == perm::all || one == wanted) return true;
    held = space == std::string_view::npos ? std::string_view() : held.substr(space + 1);
  }
  return false;
}

std::string_view bearer_credential(const net::request& req) {
  std::string_view auth = req.header("Authorization");
  if (auth.size() > 7 && net::iequals(auth.substr(0, 7), "Bearer ")) {
    auto token = auth.substr(7);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    return token;
  }
  return req.header("X-API-Key");
}

std::vector<std::string> split_origins(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

void route_table::add(std::string method, std::string pattern, access_rule rule, net::handler h,
                      net::route_options options) {
  if (keep_ && !keep_(pattern)) return;
  rules_.emplace(std::make_pair(method, pattern), std::move(rule));
  router_.add(std::move(method), std::move(pattern), std::move(h), options);
}

void route_table::add_websocket(std::string pattern, access_rule rule, net::websocket_handler h,
                                net::route_options options) {
  if (keep_ && !keep_(pattern)) return;
  rules_.emplace(std::make_pair(std::string("WEBSOCKET"), pattern), std::move(rule));
  router_.add_websocket(std::move(pattern), std::move(h), options);
}

const access_rule* route_table::rule_for(std::string_view method, std::string_view pattern) const {
  auto it = rules_.find(rule_key_less::view(method == "HEAD" ? "GET" : method, pattern));
  return it == rules_.end() ? nullptr : &it->second;
}

std::optional<principal> principal_of(const net::request& req) {
  auto kind = req.attribute("principal.kind");
  if (kind.empty()) return std::nullopt;
  principal p;
  p.kind = std::string(kind);
  p.user_id = std::string(req.attribute("principal.user_id"));
  p.email = std::string(req.attribute("principal.email"));
  p.session_id = std::string(req.attribute("principal.session_id"));
  p.api_key_id = std::string(req.attribute("principal.api_key_id"));
  p.roles = split_permissions(req.attribute("principal.roles"));
  p.permissions = split_permissions(req.attribute("principal.permissions"));
  return p;
}

gateway::gateway(route_table& routes, identity_service& identity, audit_log& audit, infra::rate_limiter& limiter,
                 core::rate_limit_settings limits, core::cors_settings cors)
    : routes_(routes),
      identity_(identity),
      audit_(audit),
      limiter_(limiter),
      limits_(std::move(limits)),
      allowed_origins_(split_origins(cors.allowed_origins)),
      allow_credentials_(cors.allow_credentials) {}

void gateway::install(net::http_server& server) {
  server.use(security_headers());
  server.use(cors());
  server.use(authenticate());
  server.use(rate_limit());
  server.use(audit());
  server.use(authorize());
}

net::middleware gateway::cors() {
  return [this](net::request& req, const net::handler& next) -> awaitable<net::response> {
    std::string origin(req.header("Origin"));
    const bool allowed = !origin.empty() &&
                         std::find(allowed_origins_.begin(), allowed_origins_.end(), origin) != allowed_origins_.end();
    net::response res;
    // Preflights are answered here for every path: no route needs an OPTIONS method.
    if (req.method == "OPTIONS") {
      res = net::response::no_content();
      if (allowed) {
        res.headers.set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
        res.headers.set("Access-Control-Allow-Headers",
                        "Authorization, Content-Type, X-API-Key, X-Request-Id, Last-Event-ID");
        res.headers.set("Access-Control-Max-Age", "600");
      }
    } else {
      res = co_await next(req);
    }
    if (allowed) {
      res.headers.set("Access-Control-Allow-Origin", origin);
      res.headers.set("Access-Control-Expose-Headers",
                      "X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset");
      if (allow_credentials_) res.headers.set("Access-Control-Allow-Credentials", "true");
    }
    if (!allowed_origins_.empty()) res.headers.add("Vary", "Origin");
    co_return res;
  };
}

net::middleware gateway::authenticate() {
  return [this](net::request& req, const net::handler& next) -> awaitable<net::response> {
    std::string_view credential = bearer_credential(req);
    if (!credential.empty()) {
      auto who = identity_.authenticate(credential);
      if (const auto& oidc = identity_.oidc()) {
        // The provider's token may need keys not fetched yet (first use, or rotated).
        if (!who && oidc->wants_keys_for(credential)) {
          co_await oidc_verifier::refresh_keys(oidc);
          who = identity_.authenticate(credential);
        } else if (oidc->keys_stale()) {
          // In the background: this request goes on with the keys held.
          auto executor = co_await asio::this_coro::executor;
          asio::co_spawn(executor, oidc_verifier::refresh_keys(oidc), asio::detached);
        }
      }
      if (!who) {
        auto res = net::error_response(who.err(), req.request_id);
        res.headers.set("WWW-Authenticate", "Bearer error=\"invalid_token\"");
        co_return res;
      }
      attach(req, *who);
    } else if (!identity_secret_.empty() && req.headers.contains("X-WattOS-Identity")) {
      // The gateway in front of this service authenticated the caller and signed who it is.
      auto who = verify_identity(req.header("X-WattOS-Identity"), identity_secret_,
                                 static_cast<std::int64_t>(std::time(nullptr)));
      if (!who) co_return net::error_response(who.err(), req.request_id);
      attach(req, *who);
      req.attributes.emplace_back("audited_by", "gateway");
    }
    co_return co_await next(req);
  };
}

net::middleware gateway::rate_limit() {
  return [this](net::request& req, const net::handler& next) -> awaitable<net::response> {
    const access_rule* rule = routes_.rule_for(rule_method(req), req.route_pattern);
    if (req.method == "OPTIONS" || (!rule && !is_api_path(req.path))) co_return co_await next(req);
    // API paths without a route (404s) count against the default bucket too: otherwise
    // an anonymous flood of POSTs to made-up paths would fill the audit log unchecked.
    static const access_rule unrouted = access_rule::open_to_all();
    if (!rule) rule = &unrouted;
    infra::rate_limit_rule limit;
    const char* bucket = "default";
    switch (rule->rate) {
      case rate_class::login:
        limit = {static_cast<double>(limits_.login_per_minute), static_cast<double>(limits_.login_burst)};
        bucket = "login";
        break;
      case rate_class::chat:
        limit = {static_cast<double>(limits_.chat_per_minute), static_cast<double>(limits_.chat_burst)};
        bucket = "chat";
        break;
      case rate_class::upload:
        limit = {static_cast<double>(limits_.upload_per_minute), static_cast<double>(limits_.upload_burst)};
        bucket = "upload";
        break;
      case rate_class::standard:
        limit = {static_cast<double>(limits_.default_per_minute), static_cast<double>(limits_.default_burst)};
        break;
    }
    // Login attempts count per IP whoever claims to be logging in; the account lock
    // covers guessing against one account from many IPs.
    std::string actor = rule->rate == rate_class::login ? std::string() : actor_of(req);
    std::string key = std::string(bucket) + ":" + (actor.empty() ? "ip:" + req.remote_address : actor);
    auto decision = limiter_.take(key, limit);
    if (!decision) {
      // A limiter that cannot answer (Redis down) lets the request through: the
      // platform stays usable, and the failure is logged loudly.
      core::log_error("rate limiter unavailable",
                      {{"request_id", req.request_id}, {"error", decision.err().message()}});
      co_return co_await next(req);
    }
    auto add_headers = [&](net::response& res) {
      res.headers.set("RateLimit-Limit", std::to_string(static_cast<long long>(limit.burst)));
      res.headers.set("RateLimit-Remaining", std::to_string(decision->remaining));
      res.headers.set("RateLimit-Reset", std::to_string((decision->reset_ms + 999) / 1000));
    };
    if (!decision->allowed) {
      auto res = net::error_response(core::error::rate_limited("too many requests"), req.request_id);
      res.headers.set("Retry-After",
                      std::to_string(std::max<std::int64_t>(1, (decision->retry_after_ms + 999) / 1000)));
      add_headers(res);
      co_return res;
    }
    auto res = co_await next(req);
    add_headers(res);
    co_return res;
  };
}

net::middleware gateway::audit() {
  return [this](net::request& req, const net::handler& next) -> awaitable<net::response> {
    if (!is_state_changing(req.method) || !is_api_path(req.path)) co_return co_await next(req);
    // Forwarded by the gateway in front (its identity verified): that gateway writes the
    // row, with the caller's own address and this answer's status; one row per request.
    if (req.attribute("audited_by") == "gateway") co_return co_await next(req);
    const access_rule* rule = routes_.rule_for(rule_method(req), req.route_pattern);
    auto res = co_await next(req);
    if (rule && rule->audited_by_handler) co_return res;
    auto who = principal_of(req);
    audit_event event{who ? who->actor() : "anonymous",
                      req.method + " " + req.route_pattern,
                      req.path,
                      std::to_string(res.status),
                      req.request_id,
                      req.remote_address,
                      {}};
    if (res.sse) {
      // A stream's first event does not wait for the commit (audit_gated_stream).
      auto ticket = co_await audit_.start_append(std::move(event));
      res.sse = [producer = std::move(res.sse), ticket = std::move(ticket),
                 request_id = req.request_id](net::sse_stream& out) -> awaitable<void> {
        return run_audit_gated(producer, ticket, request_id, out);
      };
      co_return res;
    }
    // The audit writer commits the row with every other row pending (group commit);
    // this coroutine awaits that commit, the I/O thread serves other requests meanwhile.
    auto st = co_await audit_.append_async(std::move(event));
    if (!st.ok()) {
      // An action that cannot be audited is not acknowledged as a success.
      core::log_error("audit append failed", {{"request_id", req.request_id}, {"error", st.err().message()}});
      co_return net::error_response(core::error::unavailable("audit log unavailable"), req.request_id);
    }
    co_return res;
  };
}

net::middleware gateway::authorize() {
  return [this](net::request& req, const net::handler& next) -> awaitable<net::response> {
    if (req.route_pattern == "unmatched" || req.route_pattern == "static") co_return co_await next(req);
    const access_rule* rule = routes_.rule_for(rule_method(req), req.route_pattern);
    if (!rule) {
      if (!is_api_path(req.path)) co_return co_await next(req);  // health, metrics, UI
      core::log_error("route without access rule refused", {{"route", req.route_pattern}, {"method", req.method}});
      co_return net::error_response(core::error::permission_denied("no access rule for this route"), req.request_id);
    }
    if (rule->who == access_rule::kind::open) co_return co_await next(req);
    if (req.attribute("principal.kind").empty()) {
      auto res = net::error_response(core::error::unauthenticated("sign in or send an API key"), req.request_id);
      res.headers.set("WWW-Authenticate", "Bearer");
      co_return res;
    }
    if (rule->who == access_rule::kind::permission && !attributes_grant(req, rule->permission)) {
      co_return net::error_response(core::error::permission_denied("missing permission " + rule->permission),
                                    req.request_id);
    }
    co_return co_await next(req);
  };
}

}  // namespace wattos::api
