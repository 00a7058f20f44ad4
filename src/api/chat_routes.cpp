#include "api/chat_routes.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <charconv>

#include "api/identity/permissions.hpp"
#include "api/rag_routes.hpp"
#include "api/route_helpers.hpp"
#include "infra/llm/json_wire.hpp"
#include "net/http_error.hpp"
#include "net/json_body.hpp"

namespace wattos::api {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace chat = streams::chat;
using asio::awaitable;

json::object conversation_json(const chat::conversation_info& c) {
  json::array spaces;
  for (const auto& s : c.spaces) spaces.emplace_back(s);
  return json::object{{"id", c.id},
                      {"title", c.title},
                      {"model", c.model},
                      {"persona_id", c.persona_id.empty() ? std::string("kaya") : c.persona_id},
                      {"spaces", spaces},
                      {"created_at", c.created_at},
                      {"updated_at", c.updated_at}};
}

json::object message_json(const chat::message_info& m) {
  boost::system::error_code ec;
  json::value citations = json::parse(m.citations_json, ec);
  if (ec) citations = json::array{};
  return json::object{
      {"id", m.id},
      {"seq", m.seq},
      {"role", m.role},
      {"content", m.content},
      {"citations", std::move(citations)},
      {"model", m.model},
      {"usage", json::object{{"prompt_tokens", m.prompt_tokens}, {"completion_tokens", m.completion_tokens}}},
      {"status", m.status},
      {"error", m.error},
      {"created_at", m.created_at}};
}

// Streams a turn's events from `after` on; the turn goes on when the client leaves.
net::response turn_stream(std::shared_ptr<chat::chat_turn> turn, std::int64_t after) {
  net::sse_producer producer = [turn, after](net::sse_stream& sse) -> awaitable<void> {
    std::int64_t last = after;
    while (true) {
      auto events = co_await turn->next(last);
      if (events.empty()) co_return;
      for (auto& e : events) {
        last = e.id;
        net::sse_event ev{std::to_string(e.id), std::move(e.type), std::move(e.data), std::nullopt};
        if (!co_await sse.send(std::move(ev))) co_return;
      }
    }
  };
  auto res = net::response::event_stream(std::move(producer));
  res.headers.set("X-Message-Id", turn->message_id());
  return res;
}

std::int64_t last_event_id_of(const net::request& req) {
  std::string_view v = req.last_event_id();
  std::int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && out > 0 ? out : 0;
}

awaitable<net::response> send_message(chat::chat_service& svc, net::request& req) {
  auto obj = net::parse_json_object_body(req);
  if (!obj) co_return net::error_response(obj.err(), req.request_id);
  const auto who = rag_requester_of(req);
  chat::send_request request{infra::llm::json_string(*obj, "content"), infra::llm::json_string(*obj, "model")};
  std::string conversation_id(req.param("id"));
  auto turn = co_await svc.send(who, std::move(conversation_id), std::move(request));
  if (!turn) co_return net::error_response(turn.err(), req.request_id);
  co_return turn_stream(std::move(*turn), 0);
}

awaitable<net::response> edit_message(chat::chat_service& svc, net::request& req) {
  auto obj = net::parse_json_object_body(req);
  if (!obj) co_return net::error_response(obj.err(), req.request_id);
  const auto who = rag_requester_of(req);
  std::string conversation_id(req.param("id"));
  std::string message_id(req.param("mid"));
  std::string content = infra::llm::json_string(*obj, "content");
  auto turn = co_await svc.edit(who, std::move(conversation_id), std::move(message_id), std::move(content));
  if (!turn) co_return net::error_response(turn.err(), req.request_id);
  co_return turn_stream(std::move(*turn), 0);
}

awaitable<net::response> regenerate(chat::chat_service& svc, net::request& req) {
  std::string model;
  if (!req.body.empty()) {
    auto obj = net::parse_json_object_body(req);
    if (!obj) co_return net::error_response(obj.err(), req.request_id);
    model = infra::llm::json_string(*obj, "model");
  }
  const auto who = rag_requester_of(req);
  std::string conversation_id(req.param("id"));
  auto turn = co_await svc.regenerate(who, std::move(conversation_id), std::move(model));
  if (!turn) co_return net::error_response(turn.err(), req.request_id);
  co_return turn_stream(std::move(*turn), 0);
}

// One chat WebSocket: requests in, every running answer's events out, on one socket.
struct socket_session {
  explicit socket_session(asio::any_io_executor ex) : all_done(ex) {}
  int running = 0;  // forwarders still writing
  bool closing = false;
  asio::steady_timer all_done;
  std::vector<std::shared_ptr<asio::cancellation_signal>> stops;
};

awaitable<void> forward_turn(std::shared_ptr<socket_session> session, net::websocket_stream& ws,
                             std::shared_ptr<chat::chat_turn> turn) {
  std::int64_t last = 0;
  while (!session->closing) {
    auto events = co_await turn->next(last);
    if (events.empty()) break;
    bool ok = true;
    for (const auto& e : events) {
      last = e.id;
      boost::system::error_code ec;
      json::value data = json::parse(e.data, ec);
      json::object frame{{"type", "event"},
                         {"conversation_id", turn->conversation_id()},
                         {"message_id", turn->message_id()},
                         {"id", e.id},
                         {"event", e.type},
                         {"data", std::move(data)}};
      std::string text = json::serialize(frame);
      if (!(co_await ws.write(std::move(text))).ok()) {
        ok = false;
        break;
      }
    }
    if (!ok) break;
  }
  if (--session->running == 0) session->all_done.cancel();
}

awaitable<void> chat_socket(chat::chat_service& svc, net::request& req, net::websocket_stream& ws) {
  auto executor = co_await asio::this_coro::executor;
  auto session = std::make_shared<socket_session>(executor);
  const auto who = rag_requester_of(req);
  auto reply_error = [&ws](const core::error& err) -> awaitable<bool> {
    json::object frame{
        {"type", "error"}, {"code", std::string(core::errc_name(err.code()))}, {"message", err.message()}};
    std::string text = json::serialize(frame);
    auto st = co_await ws.write(std::move(text));
    co_return st.ok();
  };
  while (true) {
    auto message = co_await ws.read();
    if (!message) break;
    boost::system::error_code ec;
    json::value parsed = json::parse(message->data, ec);
    if (ec || !parsed.is_object()) {
      const core::error not_json = core::error::invalid_argument("send JSON objects");  // named: g++ 12 coroutines
      if (!co_await reply_error(not_json)) break;
      continue;
    }
    const auto& obj = parsed.get_object();
    const std::string type = infra::llm::json_string(obj, "type");
    std::string conversation_id = infra::llm::json_string(obj, "conversation_id");
    core::result<std::shared_ptr<chat::chat_turn>> turn =
        core::error::invalid_argument("type must be send, regenerate or cancel");
    if (type == "send") {
      chat::send_request request{infra::llm::json_string(obj, "content"), infra::llm::json_string(obj, "model")};
      turn = co_await svc.send(who, std::move(conversation_id), std::move(request));
    } else if (type == "regenerate") {
      std::string model = infra::llm::json_string(obj, "model");
      turn = co_await svc.regenerate(who, std::move(conversation_id), std::move(model));
    } else if (type == "cancel") {
      auto st = svc.cancel(who, conversation_id, infra::llm::json_string(obj, "message_id"));
      if (!st.ok() && !co_await reply_error(st.err())) break;
      continue;
    }
    if (!turn) {
      if (!co_await reply_error(turn.err())) break;
      continue;
    }
    auto stop = std::make_shared<asio::cancellation_signal>();
    session->stops.push_back(stop);
    ++session->running;
    asio::co_spawn(executor, forward_turn(session, ws, std::move(*turn)),
                   asio::bind_cancellation_slot(stop->slot(), asio::detached));
  }
  // The socket is gone: stop the forwarders (the answers go on and are stored) and wait
  // for them, since they write to `ws`, which ends with this handler.
  session->closing = true;
  for (auto& stop : session->stops) stop->emit(asio::cancellation_type::terminal);
  while (session->running > 0) {
    session->all_done.expires_at(asio::steady_timer::time_point::max());
    boost::system::error_code ec;
    co_await session->all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace

void add_chat_routes(route_table& routes, chat::chat_service& chat_svc, persona::persona_store& personas) {
  chat::chat_service* svc = &chat_svc;
  persona::persona_store* store = &personas;
  const auto use = access_rule::needs(perm::chat_use);
  const auto stream = access_rule::needs(perm::chat_use, rate_class::chat);

  routes.add("POST", "/api/v1/conversations", use, [svc, store](net::request& req) -> awaitable<net::response> {
    auto obj = net::parse_json_object_body(req);
    if (!obj) co_return net::error_response(obj.err(), req.request_id);
    auto spaces = net::json_string_list(*obj, "spaces", 20);
    if (!spaces) co_return net::error_response(spaces.err(), req.request_id);
    std::string model = infra::llm::json_string(*obj, "model");
    std::string persona_id = infra::llm::json_string(*obj, "persona_id");
    if (!persona_id.empty()) {
      // The persona's defaults fill what the request leaves open.
      auto p = store->get(persona_id);
      if (!p) co_return net::error_response(p.err(), req.request_id);
      persona_id = p->id;
      if (model.empty()) model = p->default_model;
      if (spaces->empty()) *spaces = p->default_spaces;
    }
    auto c = svc->create_conversation(rag_requester_of(req), infra::llm::json_string(*obj, "title"), std::move(model),
                                      std::move(*spaces), std::move(persona_id));
    if (!c) co_return net::error_response(c.err(), req.request_id);
    co_return json_response(201, conversation_json(*c));
  });
  routes.add("GET", "/api/v1/conversations", use, [svc](net::request& req) -> awaitable<net::response> {
    const std::string search(req.query_param("search").value_or(""));
    auto items = svc->list_conversations(rag_requester_of(req), search, query_int(req, "limit", 50, 1, 200),
                                         query_int(req, "offset", 0, 0, 1 << 30));
    if (!items) co_return net::error_response(items.err(), req.request_id);
    json::array out;
    for (const auto& c : *items) out.push_back(conversation_json(c));
    co_return json_response(200, json::object{{"items", std::move(out)}});
  });
  routes.add("GET", "/api/v1/conversations/{id}", use, [svc](net::request& req) -> awaitable<net::response> {
    auto c = svc->get_conversation(rag_requester_of(req), req.param("id"));
    if (!c) co_return net::error_response(c.err(), req.request_id);
    co_return json_response(200, conversation_json(*c));
  });
  routes.add("PATCH", "/api/v1/conversations/{id}", use, [svc, store](net::request& req) -> awaitable<net::response> {
    auto obj = net::parse_json_object_body(req);
    if (!obj) co_return net::error_response(obj.err(), req.request_id);
    std::optional<std::string> title;
    std::optional<std::string> model;
    std::optional<std::vector<std::string>> spaces;
    if (obj->contains("title")) title = infra::llm::json_string(*obj, "title");
    if (obj->contains("model")) model = infra::llm::json_string(*obj, "model");
    if (obj->contains("spaces")) {
      auto list = net::json_string_list(*obj, "spaces", 20);
      if (!list) co_return net::error_response(list.err(), req.request_id);
      spaces = std::move(*list);
    }
    std::optional<std::string> persona_id;
    if (obj->contains("persona_id")) {
      auto p = store->get(infra::llm::json_string(*obj, "persona_id"));
      if (!p) co_return net::error_response(p.err(), req.request_id);
      persona_id = p->id;
    }
    auto c = svc->update_conversation(rag_requester_of(req), req.param("id"), title, model, spaces, persona_id);
    if (!c) co_return net::error_response(c.err(), req.request_id);
    co_return json_response(200, conversation_json(*c));
  });
  routes.add("DELETE", "/api/v1/conversations/{id}", use, [svc](net::request& req) -> awaitable<net::response> {
    auto st = svc->delete_conversation(rag_requester_of(req), req.param("id"));
    if (!st) co_return net::error_response(st.err(), req.request_id);
    co_return net::response::no_content();
  });
  routes.add("GET", "/api/v1/conversations/{id}/messages", use, [svc](net::request& req) -> awaitable<net::response> {
    auto items = svc->list_messages(rag_requester_of(req), req.param("id"), query_int(req, "after", 0, 0, 1 << 30),
                                    query_int(req, "limit", 100, 1, 500));
    if (!items) co_return net::error_response(items.err(), req.request_id);
    json::array out;
    for (const auto& m : *items) out.push_back(message_json(m));
    co_return json_response(200, json::object{{"items", std::move(out)}});
  });
  routes.add("POST", "/api/v1/conversations/{id}/messages", stream,
             [svc](net::request& req) { return send_message(*svc, req); });
  routes.add("PUT", "/api/v1/conversations/{id}/messages/{mid}", stream,
             [svc](net::request& req) { return edit_message(*svc, req); });
  routes.add("POST", "/api/v1/conversations/{id}/regenerate", stream,
             [svc](net::request& req) { return regenerate(*svc, req); });
  routes.add("GET", "/api/v1/conversations/{id}/messages/{mid}/events", use,
             [svc](net::request& req) -> awaitable<net::response> {
               auto turn = svc->turn(rag_requester_of(req), req.param("id"), req.param("mid"));
               if (!turn) co_return net::error_response(turn.err(), req.request_id);
               co_return turn_stream(std::move(*turn), last_event_id_of(req));
             });
  routes.add("POST", "/api/v1/conversations/{id}/messages/{mid}/cancel", use,
             [svc](net::request& req) -> awaitable<net::response> {
               auto st = svc->cancel(rag_requester_of(req), req.param("id"), req.param("mid"));
               if (!st) co_return net::error_response(st.err(), req.request_id);
               co_return json_response(202, json::object{{"status", "cancelling"}});
             });
  routes.add("POST", "/api/v1/conversations/{id}/messages/{mid}/feedback", use,
             [svc](net::request& req) -> awaitable<net::response> {
               auto obj = net::parse_json_object_body(req);
               if (!obj) co_return net::error_response(obj.err(), req.request_id);
               const auto rating = infra::llm::json_int(*obj, "rating");
               auto st = svc->give_feedback(rag_requester_of(req), req.param("id"), req.param("mid"),
                                            static_cast<int>(rating), infra::llm::json_string(*obj, "comment"));
               if (!st) co_return net::error_response(st.err(), req.request_id);
               co_return json_response(200, json::object{{"rating", rating}});
             });
  routes.add_websocket(
      "/api/v1/chat/ws", access_rule::needs(perm::chat_use),
      [svc](net::request& req, net::websocket_stream& ws) -> awaitable<void> { co_await chat_socket(*svc, req, ws); });
  routes.add(
      "GET", "/api/v1/admin/feedback", access_rule::needs(perm::feedback_review),
      [svc](net::request& req) -> awaitable<net::response> {
        std::optional<int> rating;
        if (auto r = req.query_param("rating")) {
          if (*r == "1")
            rating = 1;
          else if (*r == "-1")
            rating = -1;
          else
            co_return net::error_response(core::error::invalid_argument("rating must be 1 or -1"), req.request_id);
        }
        auto items =
            svc->review_feedback(rating, query_int(req, "limit", 50, 1, 500), query_int(req, "offset", 0, 0, 1 << 30));
        if (!items) co_return net::error_response(items.err(), req.request_id);
        json::array out;
        for (const auto& f : *items) {
          boost::system::error_code ec;
          json::value citations = json::parse(f.citations_json, ec);
          if (ec) citations = json::array{};
          out.push_back(json::object{{"message_id", f.message_id},
                                     {"user_id", f.user_id},
                                     {"rating", f.rating},
                                     {"comment", f.comment},
                                     {"question", f.question},
                                     {"answer", f.answer},
                                     {"citations", std::move(citations)},
                                     {"model", f.model},
                                     {"created_at", f.created_at}});
        }
        co_return json_response(200, json::object{{"items", std::move(out)}});
      });
}

}  // namespace wattos::api
