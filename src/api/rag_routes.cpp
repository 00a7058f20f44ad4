#include "api/rag_routes.hpp"

#include <boost/json.hpp>

#include "api/identity/permissions.hpp"
#include "api/route_helpers.hpp"
#include "infra/llm/json_wire.hpp"
#include "net/http_error.hpp"
#include "net/json_body.hpp"

namespace wattos::api {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace rag = streams::rag;
using asio::awaitable;

json::object space_json(const rag::space_info& s) {
  return json::object{{"id", s.id},
                      {"name", s.name},
                      {"description", s.description},
                      {"owner_id", s.owner_id},
                      {"embedding_model", s.embedding_model},
                      {"dimensions", s.dimensions},
                      {"created_at", s.created_at},
                      {"access", s.access},
                      {"chunks", s.chunks}};
}

core::result<rag::search_request> search_request_from(const json::object& obj) {
  rag::search_request r;
  r.query = infra::llm::json_string(obj, "query");
  if (obj.contains("mode")) {
    WATTOS_ASSIGN_OR_RETURN(r.mode, rag::parse_search_mode(infra::llm::json_string(obj, "mode")));
  }
  if (obj.contains("k")) {
    const auto k = infra::llm::json_int(obj, "k");
    if (k < 1 || k > 100) return core::error::invalid_argument("k must be from 1 to 100");
    r.k = static_cast<std::size_t>(k);
  }
  if (const auto* l = obj.if_contains("mmr_lambda"); l != nullptr && l->is_number())
    r.mmr_lambda = l->to_number<double>();
  r.rerank_model = infra::llm::json_string(obj, "rerank_model");
  if (const auto* f = obj.if_contains("filters"); f != nullptr && f->is_object()) {
    const auto& fo = f->get_object();
    WATTOS_ASSIGN_OR_RETURN(r.filters.document_ids, net::json_string_list(fo, "document_ids", 100));
    WATTOS_ASSIGN_OR_RETURN(r.filters.doc_types, net::json_string_list(fo, "doc_types", 100));
    WATTOS_ASSIGN_OR_RETURN(r.filters.tags, net::json_string_list(fo, "tags", 100));
    r.filters.from_date = infra::llm::json_string(fo, "from");
    r.filters.to_date = infra::llm::json_string(fo, "to");
  }
  return r;
}

json::object hit_json(const rag::search_hit& h) {
  json::object explanation;
  explanation["lexical_rank"] = h.lexical_rank ? json::value(*h.lexical_rank) : json::value(nullptr);
  explanation["vector_rank"] = h.vector_rank ? json::value(*h.vector_rank) : json::value(nullptr);
  json::array matched;
  for (const auto& t : h.matched_terms) matched.emplace_back(t);
  explanation["matched_terms"] = std::move(matched);
  return json::object{{"chunk_id", std::to_string(h.chunk_key)},
                      {"score", h.score},
                      {"text", h.text},
                      {"space_id", h.source.space_id},
                      {"document_id", h.source.document_id},
                      {"title", h.source.title},
                      {"page", h.source.page},
                      {"heading_path", h.source.heading_path},
                      {"char_start", h.source.char_start},
                      {"char_end", h.source.char_end},
                      {"snippet", h.source.snippet},
                      {"explanation", std::move(explanation)}};
}

awaitable<net::response> run_search(rag::rag_service& svc, net::request& req, std::vector<std::string> spaces) {
  auto obj = net::parse_json_object_body(req);
  if (!obj) co_return net::error_response(obj.err(), req.request_id);
  auto request = search_request_from(*obj);
  if (!request) co_return net::error_response(request.err(), req.request_id);
  if (spaces.empty()) {
    auto listed = net::json_string_list(*obj, "spaces", 50);
    if (!listed) co_return net::error_response(listed.err(), req.request_id);
    spaces = std::move(*listed);
  }
  request->space_ids = std::move(spaces);
  std::int64_t context_tokens = 0;
  if (obj->contains("context_tokens")) {
    context_tokens = infra::llm::json_int(*obj, "context_tokens");
    if (context_tokens < 0 || context_tokens > 200000) {
      co_return net::error_response(core::error::invalid_argument("context_tokens must be from 0 to 200000"),
                                    req.request_id);
    }
  }
  const rag::requester who = rag_requester_of(req);
  auto hits = co_await svc.search(who, std::move(*request));
  if (!hits) co_return net::error_response(hits.err(), req.request_id);
  json::array items;
  for (const auto& h : *hits) items.push_back(hit_json(h));
  json::object out{{"hits", std::move(items)}};
  if (context_tokens > 0) {
    auto ctx = rag::rag_service::build_context(*hits, context_tokens);
    out["context"] =
        json::object{{"text", ctx.text}, {"tokens", ctx.tokens}, {"citations", citations_json(ctx.citations)}};
  }
  co_return json_response(200, out);
}

awaitable<net::response> index_document(rag::rag_service& svc, net::request& req) {
  auto obj = net::parse_json_object_body(req);
  if (!obj) co_return net::error_response(obj.err(), req.request_id);
  rag::document_input doc;
  doc.document_id = infra::llm::json_string(*obj, "document_id");
  doc.title = infra::llm::json_string(*obj, "title");
  doc.doc_type = infra::llm::json_string(*obj, "doc_type");
  doc.date = infra::llm::json_string(*obj, "date");
  auto tags = net::json_string_list(*obj, "tags", 100);
  if (!tags) co_return net::error_response(tags.err(), req.request_id);
  doc.tags = std::move(*tags);
  const auto* chunks = obj->if_contains("chunks");
  if (chunks == nullptr || !chunks->is_array()) {
    co_return net::error_response(core::error::invalid_argument("chunks must be a list"), req.request_id);
  }
  for (const auto& cv : chunks->get_array()) {
    const auto* c = cv.if_object();
    if (c == nullptr)
      co_return net::error_response(core::error::invalid_argument("chunks[] must be objects"), req.request_id);
    rag::chunk_input ch;
    ch.text = infra::llm::json_string(*c, "text");
    ch.page = static_cast<int>(infra::llm::json_int(*c, "page"));
    ch.heading_path = infra::llm::json_string(*c, "heading_path");
    ch.char_start = infra::llm::json_int(*c, "char_start");
    ch.char_end = infra::llm::json_int(*c, "char_end");
    if (ch.page < 0 || ch.char_start < 0 || ch.char_end < ch.char_start) {
      co_return net::error_response(
          core::error::invalid_argument("page and offsets must be >= 0, char_end >= char_start"), req.request_id);
    }
    doc.chunks.push_back(std::move(ch));
  }
  const rag::requester who = rag_requester_of(req);
  std::string space_id(req.param("id"));  // named: no temporaries in co_await (docs/coroutines.md)
  auto indexed = co_await svc.index_document(who, std::move(space_id), std::move(doc));
  if (!indexed) co_return net::error_response(indexed.err(), req.request_id);
  co_return json_response(200, json::object{{"chunks", *indexed}});
}

}  // namespace

json::array citations_json(const std::vector<rag::citation>& citations) {
  json::array out;
  for (const auto& c : citations) {
    out.push_back(json::object{{"number", c.number},
                               {"space_id", c.space_id},
                               {"document_id", c.document_id},
                               {"title", c.title},
                               {"page", c.page},
                               {"heading_path", c.heading_path},
                               {"char_start", c.char_start},
                               {"char_end", c.char_end},
                               {"snippet", c.snippet}});
  }
  return out;
}

rag::requester rag_requester_of(const net::request& req) {
  rag::requester who;
  who.request_id = req.request_id;
  if (auto p = principal_of(req)) {
    who.user_id = p->user_id;
    who.admin = p->can(perm::all);
  }
  return who;
}

void add_rag_routes(route_table& routes, rag::rag_service& rag) {
  rag::rag_service* svc = &rag;
  routes.add("GET", "/api/v1/spaces", access_rule::needs(perm::spaces_read),
             [svc](net::request& req) -> awaitable<net::response> {
               auto spaces = svc->list_spaces(rag_requester_of(req));
               if (!spaces) co_return net::error_response(spaces.err(), req.request_id);
               json::array items;
               for (const auto& s : *spaces) items.push_back(space_json(s));
               co_return json_response(200, json::object{{"items", std::move(items)}});
             });
  routes.add("POST", "/api/v1/spaces", access_rule::needs(perm::spaces_write),
             [svc](net::request& req) -> awaitable<net::response> {
               auto obj = net::parse_json_object_body(req);
               if (!obj) co_return net::error_response(obj.err(), req.request_id);
               auto s = svc->create_space(rag_requester_of(req), infra::llm::json_string(*obj, "name"),
                                          infra::llm::json_string(*obj, "description"),
                                          infra::llm::json_string(*obj, "embedding_model"));
               if (!s) co_return net::error_response(s.err(), req.request_id);
               co_return json_response(201, space_json(*s));
             });
  routes.add("GET", "/api/v1/spaces/{id}", access_rule::needs(perm::spaces_read),
             [svc](net::request& req) -> awaitable<net::response> {
               auto s = svc->get_space(rag_requester_of(req), req.param("id"));
               if (!s) co_return net::error_response(s.err(), req.request_id);
               co_return json_response(200, space_json(*s));
             });
  routes.add("PATCH", "/api/v1/spaces/{id}", access_rule::needs(perm::spaces_write),
             [svc](net::request& req) -> awaitable<net::response> {
               auto obj = net::parse_json_object_body(req);
               if (!obj) co_return net::error_response(obj.err(), req.request_id);
               std::optional<std::string> name;
               std::optional<std::string> description;
               if (obj->contains("name")) name = infra::llm::json_string(*obj, "name");
               if (obj->contains("description")) description = infra::llm::json_string(*obj, "description");
               auto s = svc->update_space(rag_requester_of(req), req.param("id"), name, description);
               if (!s) co_return net::error_response(s.err(), req.request_id);
               co_return json_response(200, space_json(*s));
             });
  routes.add("DELETE", "/api/v1/spaces/{id}", access_rule::needs(perm::spaces_write),
             [svc](net::request& req) -> awaitable<net::response> {
               auto st = svc->delete_space(rag_requester_of(req), req.param("id"));
               if (!st) co_return net::error_response(st.err(), req.request_id);
               co_return net::response::no_content();
             });
  routes.add("GET", "/api/v1/spaces/{id}/members", access_rule::needs(perm::spaces_read),
             [svc](net::request& req) -> awaitable<net::response> {
               auto members = svc->list_members(rag_requester_of(req), req.param("id"));
               if (!members) co_return net::error_response(members.err(), req.request_id);
               json::array items;
               for (const auto& m : *members) items.push_back(json::object{{"user_id", m.user_id}, {"role", m.role}});
               co_return json_response(200, json::object{{"items", std::move(items)}});
             });
  routes.add("PUT", "/api/v1/spaces/{id}/members/{user}", access_rule::needs(perm::spaces_write),
             [svc](net::request& req) -> awaitable<net::response> {
               auto obj = net::parse_json_object_body(req);
               if (!obj) co_return net::error_response(obj.err(), req.request_id);
               const std::string role = infra::llm::json_string(*obj, "role");
               auto st = svc->set_member(rag_requester_of(req), req.param("id"), req.param("user"), role);
               if (!st) co_return net::error_response(st.err(), req.request_id);
               co_return json_response(200, json::object{{"user_id", req.param("user")}, {"role", role}});
             });
  routes.add("DELETE", "/api/v1/spaces/{id}/members/{user}", access_rule::needs(perm::spaces_write),
             [svc](net::request& req) -> awaitable<net::response> {
               auto st = svc->remove_member(rag_requester_of(req), req.param("id"), req.param("user"));
               if (!st) co_return net::error_response(st.err(), req.request_id);
               co_return net::response::no_content();
             });
  net::route_options big;
  big.body_limit = 32ull << 20;
  routes.add(
      "POST", "/api/v1/spaces/{id}/documents", access_rule::needs(perm::documents_write),
      [svc](net::request& req) { return index_document(*svc, req); }, big);
  routes.add("DELETE", "/api/v1/spaces/{id}/documents/{doc}", access_rule::needs(perm::documents_write),
             [svc](net::request& req) -> awaitable<net::response> {
               auto removed = svc->delete_document(rag_requester_of(req), req.param("id"), req.param("doc"));
               if (!removed) co_return net::error_response(removed.err(), req.request_id);
               co_return json_response(200, json::object{{"chunks_removed", *removed}});
             });
  routes.add("POST", "/api/v1/spaces/{id}/reembed", access_rule::needs(perm::spaces_write),
             [svc](net::request& req) -> awaitable<net::response> {
               auto obj = net::parse_json_object_body(req);
               if (!obj) co_return net::error_response(obj.err(), req.request_id);
               const std::string model = infra::llm::json_string(*obj, "embedding_model");
               if (model.empty()) {
                 co_return net::error_response(core::error::invalid_argument("embedding_model is required"),
                                               req.request_id);
               }
               const rag::requester who = rag_requester_of(req);
               std::string space_id(req.param("id"));
               auto s = co_await svc->reembed_space(who, std::move(space_id), model);
               if (!s) co_return net::error_response(s.err(), req.request_id);
               co_return json_response(200, space_json(*s));
             });
  routes.add("POST", "/api/v1/spaces/{id}/search", access_rule::needs(perm::spaces_read), [svc](net::request& req) {
    std::vector<std::string> one{std::string(req.param("id"))};
    return run_search(*svc, req, std::move(one));
  });
  routes.add("POST", "/api/v1/search", access_rule::needs(perm::spaces_read),
             [svc](net::request& req) { return run_search(*svc, req, {}); });
}

}  // namespace wattos::api
