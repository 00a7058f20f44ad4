#include "api/ingest_routes.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <map>

#include "api/identity/permissions.hpp"
#include "api/rag_routes.hpp"
#include "api/route_helpers.hpp"
#include "core/utf8.hpp"
#include "infra/db/offload.hpp"
#include "infra/llm/json_wire.hpp"
#include "net/http_error.hpp"
#include "net/json_body.hpp"

namespace wattos::api {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace ingest = streams::ingest;
namespace rag = streams::rag;
using asio::awaitable;

// How far back each poll of the change feed looks: covers rows committed late by
// other processes (their clocks and transactions); repeats are dropped by version.
constexpr std::int64_t change_overlap_ms = 5000;
constexpr auto change_poll = std::chrono::milliseconds(1000);

json::object file_json(const ingest::file_info& f) {
  return json::object{{"id", f.id},
                      {"space_id", f.space_id},
                      {"filename", f.filename},
                      {"source", f.source},
                      {"source_path", f.source_path},
                      {"owner_id", f.owner_id},
                      {"format", f.format},
                      {"mime_type", f.mime_type},
                      {"size_bytes", f.size_bytes},
                      {"sha256", f.sha256},
                      {"status", f.status},
                      {"progress", f.progress},
                      {"attempts", f.attempts},
                      {"error", f.error},
                      {"chunks", f.chunks},
                      {"pages", f.pages},
                      {"ocr_pages", f.ocr_pages},
                      {"title", f.title},
                      {"created_at", f.created_at},
                      {"updated_at", f.updated_at},
                      {"version", f.version},
                      {"duplicate", f.duplicate}};
}

json::object error_json(const core::error& e) {
  return json::object{{"code", core::errc_name(e.code())}, {"message", e.message()}};
}

// The client's file name is untrusted: its last path part, at most 255 bytes, with
// control characters dropped.
std::string safe_filename(std::string_view name) {
  const auto slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  std::string out;
  for (const char c : name) {
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) out.push_back(c);
  }
  out = std::string(core::utf8_prefix(out, 255));
  if (out.empty() || out == "." || out == "..") out = "upload";
  return out;
}

awaitable<net::response> upload(ingest::ingest_service& svc, net::request& req) {
  const rag::requester who = rag_requester_of(req);
  const std::string space_id(req.param("id"));
  std::vector<net::uploaded_file> files;
  for (auto& f : req.files) {
    if (f.field_name == "file") files.push_back(f);
  }
  if (files.empty()) {
    co_return net::error_response(core::error::invalid_argument("send the document as a multipart part named 'file'"),
                                  req.request_id);
  }
  json::array items;
  std::optional<core::error> first_error;
  std::size_t accepted = 0;
  for (const auto& f : files) {
    ingest::submit_request sr;
    sr.space_id = space_id;
    sr.path = f.path;
    sr.filename = safe_filename(f.filename);
    sr.source = "upload";
    sr.move = true;
    // Named, capturing references only: a lambda with non-trivial captures in a
    // co_await is destroyed twice by g++ 12 (docs/coroutines.md, rule 2); `sr` lives in
    // this frame until the work is done.
    auto submit = [&svc, &who, &sr] { return svc.submit(who, sr); };
    auto submitted = co_await infra::db::offload(std::move(submit));
    if (submitted) {
      ++accepted;
      items.push_back(file_json(*submitted));
    } else {
      if (!first_error) first_error = submitted.err();
      items.push_back(json::object{{"filename", sr.filename}, {"error", error_json(submitted.err())}});
    }
  }
  if (accepted == 0) co_return net::error_response(*first_error, req.request_id);
  co_return json_response(202, json::object{{"items", std::move(items)}});
}

// The change feed of a space's files: the newest files first as a snapshot, then
// every change, whether it happened in this process (woken at once) or another
// (seen by the next poll).
net::response file_events(ingest::ingest_service& svc, rag::requester who, std::string space_id,
                          std::vector<ingest::file_info> snapshot) {
  net::sse_producer producer = [&svc, who, space_id, snapshot](net::sse_stream& sse) -> awaitable<void> {
    std::map<std::string, std::int64_t> sent;  // file id -> version
    std::int64_t since_ms = 0;
    std::int64_t event_id = 0;
    auto send = [&](const ingest::file_info& f) -> awaitable<bool> {
      auto it = sent.find(f.id);
      if (it != sent.end() && it->second >= f.version) co_return true;
      sent[f.id] = f.version;
      since_ms = std::max(since_ms, f.updated_ms);
      net::sse_event ev{std::to_string(++event_id), "file", json::serialize(file_json(f)), std::nullopt};
      co_return co_await sse.send(std::move(ev));
    };
    for (auto it = snapshot.rbegin(); it != snapshot.rend(); ++it) {
      if (!co_await send(*it)) co_return;
    }
    while (!sse.closed() && !sse.stopping()) {
      const auto seen = svc.change_generation();
      const std::int64_t from = std::max<std::int64_t>(0, since_ms - change_overlap_ms);
      auto changed =
          co_await infra::db::offload([&svc, &who, &space_id, from] { return svc.changes(who, space_id, from); });
      if (!changed) {  // the space went away or the store failed: say so; the client reconnects
        net::sse_event ev{"", "error", json::serialize(json::object{{"error", error_json(changed.err())}}),
                          std::nullopt};
        co_await sse.send(std::move(ev));
        co_return;
      }
      for (const auto& f : *changed) {
        if (!co_await send(f)) co_return;
      }
      co_await svc.wait_for_change(seen, change_poll);
    }
  };
  return net::response::event_stream(std::move(producer));
}

}  // namespace

void add_ingest_routes(route_table& routes, ingest::ingest_service& ingest, ingest::folder_watcher& watcher,
                       infra::queue::job_queue& queue, std::uint64_t upload_limit_bytes) {
  ingest::ingest_service* svc = &ingest;
  ingest::folder_watcher* watch = &watcher;
  infra::queue::job_queue* jobs = &queue;
  net::route_options uploads;
  uploads.multipart_upload = true;
  uploads.upload_limit = upload_limit_bytes;
  routes.add(
      "POST", "/api/v1/spaces/{id}/files", access_rule::needs(perm::documents_write, rate_class::upload),
      [svc](net::request& req) { return upload(*svc, req); }, uploads);
  routes.add("GET", "/api/v1/spaces/{id}/files", access_rule::needs(perm::spaces_read),
             [svc](net::request& req) -> awaitable<net::response> {
               const rag::requester who = rag_requester_of(req);
               const std::string space(req.param("id"));
               const std::string status(req.query_param("status").value_or(""));
               auto files = co_await infra::db::offload(
                   [svc, &who, &space, &status] { return svc->list_files(who, space, status); });
               if (!files) co_return net::error_response(files.err(), req.request_id);
               json::array items;
               for (const auto& f : *files) items.push_back(file_json(f));
               co_return json_response(200, json::object{{"items", std::move(items)}});
             });
  routes.add("GET", "/api/v1/spaces/{id}/files/events", access_rule::needs(perm::spaces_read),
             [svc](net::request& req) -> awaitable<net::response> {
               rag::requester who = rag_requester_of(req);
               std::string space(req.param("id"));
               // Access and the snapshot before the stream starts: a stranger gets a 404.
               auto files = co_await infra::db::offload([svc, &who, &space] { return svc->list_files(who, space); });
               if (!files) co_return net::error_response(files.err(), req.request_id);
               co_return file_events(*svc, std::move(who), std::move(space), std::move(*files));
             });
  routes.add("GET", "/api/v1/spaces/{id}/files/{file}", access_rule::needs(perm::spaces_read),
             [svc](net::request& req) -> awaitable<net::response> {
               const rag::requester who = rag_requester_of(req);
               const std::string space(req.param("id"));
               const std::string file(req.param("file"));
               auto f =
                   co_await infra::db::offload([svc, &who, &space, &file] { return svc->get_file(who, space, file); });
               if (!f) co_return net::error_response(f.err(), req.request_id);
               co_return json_response(200, file_json(*f));
             });
  routes.add("DELETE", "/api/v1/spaces/{id}/files/{file}", access_rule::needs(perm::documents_write),
             [svc](net::request& req) -> awaitable<net::response> {
               const rag::requester who = rag_requester_of(req);
               const std::string space(req.param("id"));
               const std::string file(req.param("file"));
               auto st = co_await infra::db::offload(
                   [svc, &who, &space, &file] { return svc->delete_file(who, space, file); });
               if (!st) co_return net::error_response(st.err(), req.request_id);
               co_return net::response::no_content();
             });
  routes.add(
      "POST", "/api/v1/spaces/{id}/files/{file}/retry", access_rule::needs(perm::documents_write),
      [svc](net::request& req) -> awaitable<net::response> {
        const rag::requester who = rag_requester_of(req);
        const std::string space(req.param("id"));
        const std::string file(req.param("file"));
        auto f = co_await infra::db::offload([svc, &who, &space, &file] { return svc->retry_file(who, space, file); });
        if (!f) co_return net::error_response(f.err(), req.request_id);
        co_return json_response(200, file_json(*f));
      });
  routes.add("GET", "/api/v1/spaces/{id}/watch", access_rule::needs(perm::spaces_read),
             [watch](net::request& req) -> awaitable<net::response> {
               const rag::requester who = rag_requester_of(req);
               const std::string space(req.param("id"));
               auto w = co_await infra::db::offload([watch, &who, &space] { return watch->get_watch(who, space); });
               if (!w) co_return net::error_response(w.err(), req.request_id);
               if (!*w)
                 co_return net::error_response(core::error::not_found("this space has no watched folder"),
                                               req.request_id);
               co_return json_response(200, json::object{{"space_id", (*w)->space_id},
                                                         {"path", (*w)->path},
                                                         {"created_by", (*w)->created_by},
                                                         {"created_at", (*w)->created_at}});
             });
  routes.add("PUT", "/api/v1/spaces/{id}/watch", access_rule::needs(perm::all),
             [watch](net::request& req) -> awaitable<net::response> {
               auto obj = net::parse_json_object_body(req);
               if (!obj) co_return net::error_response(obj.err(), req.request_id);
               const rag::requester who = rag_requester_of(req);
               const std::string space(req.param("id"));
               const std::string path = infra::llm::json_string(*obj, "path");
               auto w = co_await infra::db::offload(
                   [watch, &who, &space, &path] { return watch->set_watch(who, space, path); });
               if (!w) co_return net::error_response(w.err(), req.request_id);
               co_return json_response(200, json::object{{"space_id", w->space_id},
                                                         {"path", w->path},
                                                         {"created_by", w->created_by},
                                                         {"created_at", w->created_at}});
             });
  routes.add("DELETE", "/api/v1/spaces/{id}/watch", access_rule::needs(perm::all),
             [watch](net::request& req) -> awaitable<net::response> {
               const rag::requester who = rag_requester_of(req);
               const std::string space(req.param("id"));
               auto st = co_await infra::db::offload([watch, &who, &space] { return watch->remove_watch(who, space); });
               if (!st) co_return net::error_response(st.err(), req.request_id);
               co_return net::response::no_content();
             });
  routes.add("GET", "/api/v1/admin/ingest/queue", access_rule::needs(perm::all),
             [jobs](net::request& req) -> awaitable<net::response> {
               const int limit = query_int(req, "limit", 50, 1, 500);
               auto report = co_await infra::db::offload([jobs, limit]() -> core::result<json::object> {
                 WATTOS_ASSIGN_OR_RETURN(auto c, jobs->counts("ingest"));
                 WATTOS_ASSIGN_OR_RETURN(
                     auto dead, jobs->list("ingest", infra::queue::job_state::dead, static_cast<std::size_t>(limit)));
                 json::array items;
                 for (const auto& j : dead) {
                   items.push_back(json::object{{"id", j.id},
                                                {"attempts", j.attempts},
                                                {"last_error", j.last_error},
                                                {"finished_at_ms", j.finished_at_ms}});
                 }
                 return json::object{{"counts", json::object{{"waiting", c.waiting},
                                                             {"delayed", c.delayed},
                                                             {"active", c.active},
                                                             {"completed", c.completed},
                                                             {"dead", c.dead}}},
                                     {"dead", std::move(items)}};
               });
               if (!report) co_return net::error_response(report.err(), req.request_id);
               co_return json_response(200, *report);
             });
}

}  // namespace wattos::api
