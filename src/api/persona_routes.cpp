#include "api/persona_routes.hpp"

#include <boost/json.hpp>

#include "api/identity/permissions.hpp"
#include "api/route_helpers.hpp"
#include "core/crypto.hpp"
#include "infra/db/offload.hpp"
#include "net/http_error.hpp"
#include "net/json_body.hpp"
#include "persona/drafter.hpp"

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

// An avatar response: private (personas are for signed-in users), revalidated by ETag.
net::response avatar_response(const net::request& req, std::string body, std::string content_type,
                              const std::string& etag) {
  const std::string quoted = "\"" + etag + "\"";
  net::response res = req.header("If-None-Match") == quoted ? net::response::text(304, "", content_type)
                                                            : net::response::text(200, std::move(body), content_type);
  res.headers.set("ETag", quoted);
  res.headers.set("Cache-Control", "private, no-cache");
  // An image is never a document: nothing in it may run if it is opened directly.
  res.headers.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox");
  res.headers.set("X-Content-Type-Options", "nosniff");
  return res;
}

}  // namespace

std::string persona_prompt_for(persona::persona_store& personas, std::string_view persona_id) {
  if (!persona_id.empty()) {
    if (auto c = personas.get(persona_id); c.ok()) return persona::system_prompt(*c);
  }
  return persona::system_prompt(persona::kaya());
}

void add_persona_routes(route_table& routes, persona::persona_store& personas, const core::persona_settings& settings,
                        infra::llm::llm_gateway* llm) {
  persona::persona_store* store = &personas;
  const persona::avatar_limits limits{.max_bytes = settings.avatar_max_bytes, .size = settings.avatar_size};
  const std::string draft_model = settings.draft_model;
  routes.add("GET", "/api/v1/personas", access_rule::signed_in(),
             [store](net::request& req) -> awaitable<net::response> {
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
               co_return net::response::json(200, json::serialize(json::object{{"prompt", persona::system_prompt(*c)},
                                                                               {"greeting", c->greeting}}));
             });
  routes.add("GET", "/api/v1/personas/{id}/avatar.svg", access_rule::signed_in(),
             [store](net::request& req) -> awaitable<net::response> {
               auto c = store->get(req.param("id"));
               if (!c) co_return net::error_response(c.err(), req.request_id);
               std::string svg = persona::avatar_svg(*c);
               const std::string etag = core::sha256_hex(svg).substr(0, 32);
               co_return avatar_response(req, std::move(svg), "image/svg+xml", etag);
             });
  // The avatar: the uploaded image when there is one, the generated SVG otherwise. The
  // persona is read once; its avatar_etag says whether there is an image, and a client
  // that has it already (If-None-Match) gets 304 without the image being read.
  routes.add("GET", "/api/v1/personas/{id}/avatar", access_rule::signed_in(),
             [store](net::request& req) -> awaitable<net::response> {
               struct avatar_read {
                 persona::character persona;
                 std::string png;  // empty: the generated SVG, or the client's copy is current
               };
               const std::string id(req.param("id"));
               const std::string cached(req.header("If-None-Match"));
               auto read = [store, id, cached]() -> core::result<avatar_read> {  // named (docs/coroutines.md, rule 2)
                 WATTOS_ASSIGN_OR_RETURN(auto c, store->get(id));
                 if (c.avatar_etag.empty() || cached == "\"" + c.avatar_etag + "\"") {
                   return avatar_read{std::move(c), {}};
                 }
                 auto png = store->avatar_png(c);
                 if (!png && png.err().code() == core::errc::not_found) {
                   c.avatar_etag.clear();  // removed since the persona was read: the generated one
                   return avatar_read{std::move(c), {}};
                 }
                 if (!png) return png.err();
                 return avatar_read{std::move(c), std::move(*png)};
               };
               auto found = co_await infra::db::offload(std::move(read));
               if (!found) co_return net::error_response(found.err(), req.request_id);
               if (!found->persona.avatar_etag.empty()) {
                 co_return avatar_response(req, std::move(found->png), "image/png", found->persona.avatar_etag);
               }
               std::string svg = persona::avatar_svg(found->persona);
               const std::string etag = core::sha256_hex(svg).substr(0, 32);
               co_return avatar_response(req, std::move(svg), "image/svg+xml", etag);
             });
  // Upload: the request body is the image itself (PNG, JPEG, WebP or GIF), whatever
  // Content-Type says; decoding runs off the I/O threads.
  routes.add(
      "PUT", "/api/v1/personas/{id}/avatar", access_rule::needs(perm::personas_write),
      [store, limits](net::request& req) -> awaitable<net::response> {
        const std::string id(req.param("id"));
        const std::string user = user_of(req);
        const bool admin = is_admin(req);
        std::string body = std::move(req.body);
        auto store_image = [store, id, user, admin, limits, body = std::move(body)] {
          return store->upload_avatar(user, admin, id, body, limits);  // the owner check comes first
        };
        auto updated = co_await infra::db::offload(std::move(store_image));
        if (!updated) co_return net::error_response(updated.err(), req.request_id);
        co_return persona_response(200, *updated);
      },
      net::route_options{.body_limit = settings.avatar_max_bytes});
  routes.add("DELETE", "/api/v1/personas/{id}/avatar", access_rule::needs(perm::personas_write),
             [store](net::request& req) -> awaitable<net::response> {
               auto updated = store->remove_avatar(user_of(req), is_admin(req), req.param("id"));
               if (!updated) co_return net::error_response(updated.err(), req.request_id);
               co_return persona_response(200, *updated);
             });
  routes.add(
      "POST", "/api/v1/personas/preview", access_rule::signed_in(), [](net::request& req) -> awaitable<net::response> {
        auto c = persona_from(req);
        if (!c) co_return net::error_response(c.err(), req.request_id);
        if (auto st = persona::validate(*c); !st.ok()) co_return net::error_response(st.err(), req.request_id);
        co_return net::response::json(200, json::serialize(json::object{{"prompt", persona::system_prompt(*c)}}));
      });
  routes.add(
      "POST", "/api/v1/personas/draft", access_rule::signed_in(),
      [llm, draft_model](net::request& req) -> awaitable<net::response> {
        auto obj = net::parse_json_object_body(req);
        if (!obj) co_return net::error_response(obj.err(), req.request_id);
        const auto* d = obj->if_contains("description");
        if (d == nullptr || !d->is_string() || d->get_string().empty() || d->get_string().size() > 2000) {
          co_return net::error_response(core::error::invalid_argument("description (1 to 2000 bytes) is required"),
                                        req.request_id);
        }
        auto text_field = [&](std::string_view key) -> core::result<std::string> {
          const auto* v = obj->if_contains(key);
          if (v == nullptr || v->is_null()) return std::string();
          if (!v->is_string() || v->get_string().size() > 200) {
            return core::error::invalid_argument(std::string(key) + " must be a string of at most 200 bytes");
          }
          return std::string(v->get_string());
        };
        auto language = text_field("language");
        if (!language) co_return net::error_response(language.err(), req.request_id);
        if (!language->empty() && *language != "de" && *language != "en") {
          co_return net::error_response(core::error::invalid_argument("language must be de or en"), req.request_id);
        }
        // The request may name a model; "template" asks for the keyword drafter.
        auto model = text_field("model");
        if (!model) co_return net::error_response(model.err(), req.request_id);
        std::string use = model->empty() ? draft_model : (*model == "template" ? std::string() : *model);
        const infra::llm::caller who = llm_caller_of(req);
        std::string description(d->get_string());
        auto draft =
            co_await persona::draft_persona(llm, who, std::move(use), std::move(description), std::move(*language));
        if (!draft) co_return net::error_response(draft.err(), req.request_id);
        json::object out{{"persona", json::parse(persona::to_json(draft->persona))},
                         {"prompt", persona::system_prompt(draft->persona)},
                         {"generator", draft->generator}};
        if (!draft->model.empty()) out["model"] = draft->model;
        if (!draft->note.empty()) out["note"] = draft->note;
        co_return net::response::json(200, json::serialize(out));
      });
}

}  // namespace wattos::api
