#include "api/persona_routes.hpp"

#include <boost/json.hpp>

#include "api/identity/permissions.hpp"
#include "net/http_error.hpp"
#include "net/json_body.hpp"

namespace wattos::api {
namespace {

namespace json = boost::json;
using boost::asio::awaitable;

net::response persona_response(int status, const persona::character& c) {
  return net::response::json(status, persona::to_json(c));
}

// A persona from a request body: the JSON fields of persona::to_json.
core::result<persona::character> persona_from(const net::request& req) {
  WATTOS_ASSIGN_OR_RETURN(auto obj, net::parse_json_object_body(req));
  return persona::from_json(json::serialize(obj));
}

bool is_admin(const net::request& req) {
  auto p = principal_of(req);
  return p && p->can(perm::all);
}

std::string user_of(const net::request& req) {
  auto p = principal_of(req);
  return p ? p->user_id : std::string();
}

}  // namespace

std::string persona_prompt_for(persona::persona_store& personas, std::string_view persona_id) {
  if (!persona_id.empty()) {
    if (auto c = personas.get(persona_id); c.ok()) return persona::system_prompt(*c);
  }
  return persona::system_prompt(persona::kaya());
}

void add_persona_routes(route_table& routes, persona::persona_store& personas) {
  persona::persona_store* store = &personas;
  routes.add("GET", "/api/v1/personas", access_rule::signed_in(), [store](net::request& req) -> awaitable<net::response> {
    auto list = store->list();
    if (!list) co_return net::error_response(list.err(), req.request_id);
    json::array items;
    for (const auto& c : *list) items.push_back(json::parse(persona::to_json(c)));
    co_return net::response::json(200, json::serialize(json::object{{"items", std::move(items)}}));
  });
  routes.add("POST", "/api/v1/personas", access_rule::needs(perm::personas_write),
             [store](net::request& req) -> awaitable<net::response> {
               auto c = persona_from(req);
               if (!c) co_return net::error_response(c.err(), req.request_id);
               auto created = store->create(user_of(req), std::move(*c));
               if (!created) co_return net::error_response(created.err(), req.request_id);
               co_return persona_response(201, *created);
             });
  routes.add("GET", "/api/v1/personas/{id}", access_rule::signed_in(),
             [store](net::request& req) -> awaitable<net::response> {
               auto c = store->get(req.param("id"));
               if (!c) co_return net::error_response(c.err(), req.request_id);
               co_return persona_response(200, *c);
             });
  routes.add("PUT", "/api/v1/personas/{id}", access_rule::needs(perm::personas_write),
             [store](net::request& req) -> awaitable<net::response> {
               auto c = persona_from(req);
               if (!c) co_return net::error_response(c.err(), req.request_id);
               auto updated = store->update(user_of(req), is_admin(req), req.param("id"), std::move(*c));
               if (!updated) co_return net::error_response(updated.err(), req.request_id);
               co_return persona_response(200, *updated);
             });
  routes.add("DELETE", "/api/v1/personas/{id}", access_rule::needs(perm::personas_write),
             [store](net::request& req) -> awaitable<net::response> {
               auto st = store->remove(user_of(req), is_admin(req), req.param("id"));
               if (!st) co_return net::error_response(st.err(), req.request_id);
               co_return net::response::no_content();
             });
  routes.add("GET", "/api/v1/personas/{id}/prompt", access_rule::signed_in(),
             [store](net::request& req) -> awaitable<net::response> {
               auto c = store->get(req.param("id"));
               if (!c) co_return net::error_response(c.err(), req.request_id);
               co_return net::response::json(
                   200, json::serialize(json::object{{"prompt", persona::system_prompt(*c)}, {"greeting", c->greeting}}));
             });
  routes.add("GET", "/api/v1/personas/{id}/avatar.svg", access_rule::signed_in(),
             [store](net::request& req) -> awaitable<net::response> {
               auto c = store->get(req.param("id"));
               if (!c) co_return net::error_response(c.err(), req.request_id);
               auto res = net::response::text(200, persona::avatar_svg(*c), "image/svg+xml");
               res.headers.set("Cache-Control", "private, max-age=300");
               co_return res;
             });
  routes.add("POST", "/api/v1/personas/preview", access_rule::signed_in(),
             [](net::request& req) -> awaitable<net::response> {
               auto c = persona_from(req);
               if (!c) co_return net::error_response(c.err(), req.request_id);
               if (auto st = persona::validate(*c); !st.ok()) co_return net::error_response(st.err(), req.request_id);
               co_return net::response::json(200, json::serialize(json::object{{"prompt", persona::system_prompt(*c)}}));
             });
  routes.add("POST", "/api/v1/personas/draft", access_rule::signed_in(),
             [](net::request& req) -> awaitable<net::response> {
               auto obj = net::parse_json_object_body(req);
               if (!obj) co_return net::error_response(obj.err(), req.request_id);
               const auto* d = obj->if_contains("description");
               if (d == nullptr || !d->is_string() || d->get_string().empty() || d->get_string().size() > 2000) {
                 co_return net::error_response(
                     core::error::invalid_argument("description (1 to 2000 bytes) is required"), req.request_id);
               }
               std::string language = obj->contains("language") && obj->at("language").is_string()
                                          ? std::string(obj->at("language").get_string())
                                          : std::string();
               auto draft = persona::draft_from_description(std::string(d->get_string()), language);
               json::object out{{"persona", json::parse(persona::to_json(draft))},
                                {"prompt", persona::system_prompt(draft)},
                                {"generator", "template"}};
               co_return net::response::json(200, json::serialize(out));
             });
}

}  // namespace wattos::api
