#include "api/identity_routes.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <charconv>

#include "api/identity/permissions.hpp"
#include "api/route_helpers.hpp"
#include "net/http_error.hpp"
#include "net/json_body.hpp"

namespace wattos::api {
namespace {

using boost::asio::awaitable;
namespace json = boost::json;

json::array to_array(const std::vector<std::string>& items) {
  json::array a;
  for (const auto& s : items) a.emplace_back(s);
  return a;
}

json::object to_json(const user_info& u) {
  return {{"id", u.id},
          {"email", u.email},
          {"display_name", u.display_name},
          {"status", u.status},
          {"roles", to_array(u.roles)},
          {"created_at", u.created_at},
          {"locked_until", u.locked_until}};
}

json::object to_json(const role_info& r) {
  return {{"id", r.id},
          {"name", r.name},
          {"description", r.description},
          {"permissions", to_array(r.permissions)},
          {"builtin", r.builtin}};
}

json::object to_json(const api_key_info& k) {
  return {{"id", k.id},
          {"owner_id", k.owner_id},
          {"name", k.name},
          {"prefix", k.prefix},
          {"permissions", to_array(k.permissions)},
          {"created_at", k.created_at},
          {"expires_at", k.expires_at},
          {"revoked_at", k.revoked_at},
          {"last_used_at", k.last_used_at}};
}

json::object to_json(const token_pair& t) {
  return {{"access_token", t.access_token},
          {"refresh_token", t.refresh_token},
          {"token_type", "Bearer"},
          {"expires_in", t.expires_in}};
}

json::object to_json(const audit_row& r) {
  return {{"seq", r.seq},
          {"at_ms", r.at_ms},
          {"actor", r.event.actor},
          {"action", r.event.action},
          {"target", r.event.target},
          {"outcome", r.event.outcome},
          {"request_id", r.event.request_id},
          {"ip", r.event.ip},
          {"details", r.event.details},
          {"prev_hash", r.prev_hash},
          {"hash", r.hash}};
}

// Typed access to a JSON body's fields with 400s that name the field.
class body_reader {
 public:
  static core::result<body_reader> from(const net::request& req) {
    WATTOS_ASSIGN_OR_RETURN(auto value, net::parse_json_body(req));
    if (!value.is_object()) return core::error::invalid_argument("body must be a JSON object");
    return body_reader(std::move(value.as_object()));
  }

  core::result<std::string> text(const char* name, std::size_t max = 4096) const {
    auto* v = obj_.if_contains(name);
    if (!v || !v->is_string()) return core::error::invalid_argument(std::string("'") + name + "' must be a string");
    if (v->as_string().size() > max) return core::error::invalid_argument(std::string("'") + name + "' is too long");
    return std::string(v->as_string());
  }
  core::result<std::optional<std::string>> optional_text(const char* name, std::size_t max = 4096) const {
    if (!obj_.contains(name)) return std::optional<std::string>{};
    WATTOS_ASSIGN_OR_RETURN(auto s, text(name, max));
    return std::optional<std::string>(std::move(s));
  }
  core::result<std::vector<std::string>> list(const char* name) const {
    auto* v = obj_.if_contains(name);
    if (!v) return std::vector<std::string>{};
    if (!v->is_array() || v->as_array().size() > 100) {
      return core::error::invalid_argument(std::string("'") + name + "' must be an array of at most 100 strings");
    }
    std::vector<std::string> out;
    for (const auto& item : v->as_array()) {
      if (!item.is_string()) return core::error::invalid_argument(std::string("'") + name + "' must hold strings");
      out.emplace_back(item.as_string());
    }
    return out;
  }
  bool has(const char* name) const { return obj_.contains(name); }
  core::result<std::int64_t> integer(const char* name, std::int64_t fallback) const {
    auto* v = obj_.if_contains(name);
    if (!v) return fallback;
    if (!v->is_int64()) return core::error::invalid_argument(std::string("'") + name + "' must be an integer");
    return v->as_int64();
  }

 private:
  explicit body_reader(json::object obj) : obj_(std::move(obj)) {}
  json::object obj_;
};

client_context context_of(const net::request& req) {
  return {req.remote_address, req.request_id};
}

std::optional<std::int64_t> query_int64(const net::request& req, std::string_view name) {
  auto v = req.query_param(name);
  if (!v) return std::nullopt;
  std::int64_t parsed = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), parsed);
  if (ec != std::errc() || ptr != v->data() + v->size()) return std::nullopt;
  return parsed;
}

audit_filter filter_of(const net::request& req, int default_limit, int max_limit) {
  audit_filter f;
  auto opt = [&](const char* name) -> std::optional<std::string> {
    auto v = req.query_param(name);
    return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
  };
  f.actor = opt("actor");
  f.action = opt("action");
  f.target = opt("target");
  f.outcome = opt("outcome");
  f.since_ms = query_int64(req, "since_ms");
  f.until_ms = query_int64(req, "until_ms");
  f.before_seq = query_int64(req, "before_seq");
  f.limit = query_int(req, "limit", default_limit, 1, max_limit);
  return f;
}

// NOLINTBEGIN(bugprone-macro-parentheses): `lhs` is a name being declared.
#define WATTOS_OR_ERROR_RESPONSE(lhs, expr)                                              \
  auto WATTOS_CONCAT_(tmp_, __LINE__) = (expr);                                          \
  if (!WATTOS_CONCAT_(tmp_, __LINE__).ok())                                              \
    co_return net::error_response(WATTOS_CONCAT_(tmp_, __LINE__).err(), req.request_id); \
  lhs = std::move(WATTOS_CONCAT_(tmp_, __LINE__)).value()
// NOLINTEND(bugprone-macro-parentheses)

#define WATTOS_STATUS_OR_ERROR_RESPONSE(expr)                                           \
  if (auto WATTOS_CONCAT_(st_, __LINE__) = (expr); !WATTOS_CONCAT_(st_, __LINE__).ok()) \
  co_return net::error_response(WATTOS_CONCAT_(st_, __LINE__).err(), req.request_id)

}  // namespace

void add_identity_routes(route_table& routes, identity_service& identity, audit_log& audit) {
  identity_service* id = &identity;
  audit_log* log = &audit;

  // --- sessions ---------------------------------------------------------------------
  routes.add("POST", "/api/v1/auth/login", access_rule::open_to_all(rate_class::login).self_audited(),
             [id](net::request& req) -> awaitable<net::response> {
               WATTOS_OR_ERROR_RESPONSE(auto body, body_reader::from(req));
               WATTOS_OR_ERROR_RESPONSE(auto email, body.text("email", 254));
               WATTOS_OR_ERROR_RESPONSE(auto password, body.text("password", 1024));
               WATTOS_OR_ERROR_RESPONSE(auto session, id->login(email, password, context_of(req)));
               auto out = to_json(session.first);
               out["user"] = to_json(session.second);
               co_return json_response(200, out);
             });
  routes.add("POST", "/api/v1/auth/refresh", access_rule::open_to_all(rate_class::login).self_audited(),
             [id](net::request& req) -> awaitable<net::response> {
               WATTOS_OR_ERROR_RESPONSE(auto body, body_reader::from(req));
               WATTOS_OR_ERROR_RESPONSE(auto token, body.text("refresh_token", 256));
               WATTOS_OR_ERROR_RESPONSE(auto tokens, id->refresh(token, context_of(req)));
               co_return json_response(200, to_json(tokens));
             });
  routes.add("POST", "/api/v1/auth/logout", access_rule::signed_in().self_audited(),
             [id](net::request& req) -> awaitable<net::response> {
               WATTOS_STATUS_OR_ERROR_RESPONSE(id->logout(*principal_of(req), context_of(req)));
               co_return net::response::no_content();
             });
  routes.add("GET", "/api/v1/auth/me", access_rule::signed_in(), [id](net::request& req) -> awaitable<net::response> {
    auto who = *principal_of(req);
    WATTOS_OR_ERROR_RESPONSE(auto user, id->get_user(who.user_id));
    auto out = to_json(user);
    out["permissions"] = to_array(who.permissions);
    out["auth"] = who.kind;
    co_return json_response(200, out);
  });
  routes.add("POST", "/api/v1/auth/password", access_rule::signed_in().self_audited(),
             [id](net::request& req) -> awaitable<net::response> {
               WATTOS_OR_ERROR_RESPONSE(auto body, body_reader::from(req));
               WATTOS_OR_ERROR_RESPONSE(auto current, body.text("current_password", 1024));
               WATTOS_OR_ERROR_RESPONSE(auto next, body.text("new_password", 1024));
               WATTOS_STATUS_OR_ERROR_RESPONSE(id->change_password(*principal_of(req), current, next, context_of(req)));
               co_return net::response::no_content();
             });

  // --- one's own API keys ----------------------------------------------------------------
  auto create_key = [id](net::request& req) -> awaitable<net::response> {
    WATTOS_OR_ERROR_RESPONSE(auto body, body_reader::from(req));
    WATTOS_OR_ERROR_RESPONSE(auto name, body.text("name", 100));
    WATTOS_OR_ERROR_RESPONSE(auto permissions, body.list("permissions"));
    WATTOS_OR_ERROR_RESPONSE(auto days, body.integer("expires_in_days", 0));
    WATTOS_OR_ERROR_RESPONSE(auto created, id->create_api_key(*principal_of(req), name, permissions, days));
    auto out = to_json(created.first);
    out["key"] = created.second;  // shown once
    co_return json_response(201, out);
  };
  routes.add("POST", "/api/v1/api-keys", access_rule::needs(perm::api_keys_own), create_key);
  routes.add("GET", "/api/v1/api-keys", access_rule::needs(perm::api_keys_own),
             [id](net::request& req) -> awaitable<net::response> {
               WATTOS_OR_ERROR_RESPONSE(auto keys, id->list_api_keys(principal_of(req)->user_id));
               json::array items;
               for (const auto& k : keys) items.push_back(to_json(k));
               co_return json_response(200, json::object{{"items", std::move(items)}});
             });
  routes.add("DELETE", "/api/v1/api-keys/{id}", access_rule::needs(perm::api_keys_own),
             [id](net::request& req) -> awaitable<net::response> {
               WATTOS_STATUS_OR_ERROR_RESPONSE(id->revoke_api_key(req.param("id"), principal_of(req)->user_id));
               co_return net::response::no_content();
             });

  // --- admin: users ------------------------------------------------------------------------
  routes.add("GET", "/api/v1/admin/users", access_rule::needs(perm::users_read),
             [id](net::request& req) -> awaitable<net::response> {
               WATTOS_OR_ERROR_RESPONSE(auto users, id->list_users(query_int(req, "limit", 100, 1, 1000),
                                                                   query_int(req, "offset", 0, 0, 1 << 30)));
               json::array items;
               for (const auto& u : users) items.push_back(to_json(u));
               co_return json_response(200, json::object{{"items", std::move(items)}});
             });
  routes.add("POST", "/api/v1/admin/users", access_rule::needs(perm::users_write),
             [id](net::request& req) -> awaitable<net::response> {
               WATTOS_OR_ERROR_RESPONSE(auto body, body_reader::from(req));
               WATTOS_OR_ERROR_RESPONSE(auto email, body.text("email", 254));
               WATTOS_OR_ERROR_RESPONSE(auto name, body.optional_text("display_name", 200));
               WATTOS_OR_ERROR_RESPONSE(auto password, body.text("password", 1024));
               WATTOS_OR_ERROR_RESPONSE(auto roles, body.list("roles"));
               WATTOS_OR_ERROR_RESPONSE(auto user, id->create_user(email, name.value_or(""), password, roles));
               co_return json_response(201, to_json(user));
             });
  routes.add("GET", "/api/v1/admin/users/{id}", access_rule::needs(perm::users_read),
             [id](net::request& req) -> awaitable<net::response> {
               WATTOS_OR_ERROR_RESPONSE(auto user, id->get_user(req.param("id")));
               co_return json_response(200, to_json(user));
             });
  routes.add("PATCH", "/api/v1/admin/users/{id}", access_rule::needs(perm::users_write),
             [id](net::request& req) -> awaitable<net::response> {
               WATTOS_OR_ERROR_RESPONSE(auto body, body_reader::from(req));
               WATTOS_OR_ERROR_RESPONSE(auto name, body.optional_text("display_name", 200));
               WATTOS_OR_ERROR_RESPONSE(auto status, body.optional_text("status", 20));
               if (status && *status == "disabled" && req.param("id") == principal_of(req)->user_id) {
                 co_return net::error_response(core::error::failed_precondition("you cannot disable yourself"),
                                               req.request_id);
               }
               WATTOS_OR_ERROR_RESPONSE(auto user, id->update_user(req.param("id"), name, status));
               co_return json_response(200, to_json(user));
             });
  routes.add("DELETE", "/api/v1/admin/users/{id}", access_rule::needs(perm::users_write),
             [id](net::request& req) -> awaitable<net::response> {
               if (req.param("id") == principal_of(req)->user_id) {
                 co_return net::error_response(core::error::failed_precondition("you cannot delete yourself"),
                                               req.request_id);
               }
               WATTOS_STATUS_OR_ERROR_RESPONSE(id->delete_user(req.param("id")));
               co_return net::response::no_content();
             });
  routes.add("PUT", "/api/v1/admin/users/{id}/roles", access_rule::needs(perm::users_write),
             [id](net::request& req) -> awaitable<net::response> {
               WATTOS_OR_ERROR_RESPONSE(auto body, body_reader::from(req));
               WATTOS_OR_ERROR_RESPONSE(auto roles, body.list("roles"));
               WATTOS_OR_ERROR_RESPONSE(auto user, id->set_user_roles(req.param("id"), roles));
               co_return json_response(200, to_json(user));
             });
  routes.add("POST", "/api/v1/admin/users/{id}/password", access_rule::needs(perm::users_write),
             [id](net::request& req) -> awaitable<net::response> {
               WATTOS_OR_ERROR_RESPONSE(auto body, body_reader::from(req));
               WATTOS_OR_ERROR_RESPONSE(auto password, body.text("password", 1024));
               WATTOS_STATUS_OR_ERROR_RESPONSE(id->reset_password(req.param("id"), password));
               co_return net::response::no_content();
             });

  // --- admin: roles and permissions -------------------------------------------------------
  routes.add("GET", "/api/v1/admin/permissions", access_rule::needs(perm::users_read),
             [](net::request&) -> awaitable<net::response> {
               co_return json_response(200, json::object{{"items", to_array(known_permissions())}});
             });
  routes.add("GET", "/api/v1/admin/roles", access_rule::needs(perm::users_read),
             [id](net::request& req) -> awaitable<net::response> {
               WATTOS_OR_ERROR_RESPONSE(auto roles, id->list_roles());
               json::array items;
               for (const auto& r : roles) items.push_back(to_json(r));
               co_return json_response(200, json::object{{"items", std::move(items)}});
             });
  routes.add("POST", "/api/v1/admin/roles", access_rule::needs(perm::roles_write),
             [id](net::request& req) -> awaitable<net::response> {
               WATTOS_OR_ERROR_RESPONSE(auto body, body_reader::from(req));
               WATTOS_OR_ERROR_RESPONSE(auto name, body.text("name", 64));
               WATTOS_OR_ERROR_RESPONSE(auto description, body.optional_text("description", 500));
               WATTOS_OR_ERROR_RESPONSE(auto permissions, body.list("permissions"));
               WATTOS_OR_ERROR_RESPONSE(auto role, id->create_role(name, description.value_or(""), permissions));
               co_return json_response(201, to_json(role));
             });
  routes.add("PATCH", "/api/v1/admin/roles/{id}", access_rule::needs(perm::roles_write),
             [id](net::request& req) -> awaitable<net::response> {
               WATTOS_OR_ERROR_RESPONSE(auto body, body_reader::from(req));
               WATTOS_OR_ERROR_RESPONSE(auto description, body.optional_text("description", 500));
               std::optional<std::vector<std::string>> permissions;
               if (body.has("permissions")) {
                 WATTOS_OR_ERROR_RESPONSE(permissions, body.list("permissions"));
               }
               WATTOS_OR_ERROR_RESPONSE(auto role, id->update_role(req.param("id"), description, permissions));
               co_return json_response(200, to_json(role));
             });
  routes.add("DELETE", "/api/v1/admin/roles/{id}", access_rule::needs(perm::roles_write),
             [id](net::request& req) -> awaitable<net::response> {
               WATTOS_STATUS_OR_ERROR_RESPONSE(id->delete_role(req.param("id")));
               co_return net::response::no_content();
             });

  // --- admin: every API key -------------------------------------------------------------
  routes.add("GET", "/api/v1/admin/api-keys", access_rule::needs(perm::api_keys_admin),
             [id](net::request& req) -> awaitable<net::response> {
               std::optional<std::string> owner;
               if (auto o = req.query_param("owner_id")) owner = std::string(*o);
               WATTOS_OR_ERROR_RESPONSE(auto keys, id->list_api_keys(owner));
               json::array items;
               for (const auto& k : keys) items.push_back(to_json(k));
               co_return json_response(200, json::object{{"items", std::move(items)}});
             });
  routes.add("DELETE", "/api/v1/admin/api-keys/{id}", access_rule::needs(perm::api_keys_admin),
             [id](net::request& req) -> awaitable<net::response> {
               WATTOS_STATUS_OR_ERROR_RESPONSE(id->revoke_api_key(req.param("id"), std::nullopt));
               co_return net::response::no_content();
             });

  // --- admin: audit log ------------------------------------------------------------------
  routes.add("GET", "/api/v1/admin/audit", access_rule::needs(perm::audit_read),
             [log](net::request& req) -> awaitable<net::response> {
               WATTOS_OR_ERROR_RESPONSE(auto rows, log->query(filter_of(req, 100, 1000)));
               json::array items;
               for (const auto& r : rows) items.push_back(to_json(r));
               json::object out{{"items", std::move(items)}};
               if (!rows.empty()) out["next_before_seq"] = rows.back().seq;
               co_return json_response(200, out);
             });
  routes.add("GET", "/api/v1/admin/audit/export", access_rule::needs(perm::audit_read),
             [log](net::request& req) -> awaitable<net::response> {
               WATTOS_OR_ERROR_RESPONSE(auto rows, log->query(filter_of(req, 100000, 100000)));
               std::string lines;
               // Oldest first, as a log reads.
               for (auto it = rows.rbegin(); it != rows.rend(); ++it) lines += json::serialize(to_json(*it)) + "\n";
               auto res = net::response::text(200, std::move(lines), "application/x-ndjson");
               res.headers.set("Content-Disposition", "attachment; filename=\"wattos-audit.jsonl\"");
               co_return res;
             });
  routes.add("GET", "/api/v1/admin/audit/verify", access_rule::needs(perm::audit_read),
             [log](net::request& req) -> awaitable<net::response> {
               WATTOS_OR_ERROR_RESPONSE(auto report, log->verify());
               json::object out{{"intact", report.intact}, {"rows", report.rows}, {"last_hash", report.last_hash}};
               if (!report.intact) {
                 out["first_broken_seq"] = report.first_broken_seq;
                 out["problem"] = report.problem;
               }
               co_return json_response(200, out);
             });
}

}  // namespace wattos::api
