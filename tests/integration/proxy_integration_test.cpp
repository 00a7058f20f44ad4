// The gateway's proxy end to end: the real binary forwards to an upstream service
// run inside this test (the same net::http_server the services use).
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/serialize.hpp>

#include <future>

#include "api/proxy.hpp"
#include "wattos_process.hpp"

namespace {

using namespace wattos::testing;
using namespace wattos;
namespace json = boost::json;
using asio::awaitable;

const std::string secret = "a-shared-identity-secret-of-40-characters";

class proxy_test : public wattos_binary {
 protected:
  void SetUp() override {
    wattos_binary::SetUp();
    upstream_.settings.read_timeout_ms = 5000;
    upstream_.settings.sse_heartbeat_ms = 60000;
    upstream_.routes.add("POST", "/api/v1/chat/echo", [this](net::request& req) -> awaitable<net::response> {
      ++hits_;
      json::object seen;
      for (const auto& h : req.headers) {
        std::string name = h.name;
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        seen[name] = h.value;
      }
      seen["body"] = req.body;
      seen["target"] = req.target;
      auto res = net::response::json(201, json::serialize(seen));
      res.headers.set("X-Up", "1");
      co_return res;
    });
    upstream_.routes.add("GET", "/api/v1/chat/stream", [this](net::request&) -> awaitable<net::response> {
      co_return net::response::event_stream([this](net::sse_stream& out) -> awaitable<void> {
        net::sse_event first{"1", "token", "Hallo", std::nullopt};
        co_await out.send(std::move(first));
        // The second event waits until the client has seen the first through the gateway.
        asio::steady_timer poll(co_await asio::this_coro::executor);
        while (!second_allowed_.load() && !out.closed()) {
          poll.expires_after(std::chrono::milliseconds(5));
          co_await poll.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        net::sse_event second{"2", "token", "Welt", std::nullopt};
        co_await out.send(std::move(second));
      });
    });
    upstream_.routes.add("GET", "/api/v1/chat/endless", [this](net::request&) -> awaitable<net::response> {
      co_return net::response::event_stream([this](net::sse_stream& out) -> awaitable<void> {
        asio::steady_timer tick(co_await asio::this_coro::executor);
        int i = 0;
        while (!out.closed()) {
          net::sse_event e{std::to_string(i++), "token", "x", std::nullopt};
          co_await out.send(std::move(e));
          tick.expires_after(std::chrono::milliseconds(20));
          co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        upstream_saw_disconnect_.set_value();
      });
    });
    upstream_.routes.add("GET", "/api/v1/chat/slow", [](net::request&) -> awaitable<net::response> {
      asio::steady_timer wait(co_await asio::this_coro::executor, std::chrono::seconds(3));
      co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
      co_return net::response::text(200, "late");
    });
    upstream_.routes.add_websocket(
        "/api/v1/chat/ws", [](net::request& req, net::websocket_stream& ws) -> awaitable<void> {
          const std::string who(req.header("X-WattOS-Identity").empty() ? "nobody" : "identified");
          while (true) {
            auto msg = co_await ws.read();
            if (!msg) co_return;
            auto st = co_await ws.write(who + ":" + msg->data);
            if (!st.ok()) co_return;
          }
        });
    upstream_.start();
    std::uint16_t closed_port;
    {
      asio::io_context io;
      tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
      closed_port = a.local_endpoint().port();
    }
    gateway_ = start({"serve"},
                     {"WATTOS_SERVICES_CHAT_URL=http://127.0.0.1:" + std::to_string(upstream_.port()),
                      "WATTOS_SERVICES_RAG_URL=http://127.0.0.1:" + std::to_string(closed_port),
                      "WATTOS_GATEWAY_IDENTITY_SECRET=" + secret, "WATTOS_GATEWAY_UPSTREAM_FIRST_BYTE_TIMEOUT_MS=500"});
    auto line = gateway_->wait_for_line("\"msg\":\"listening\"");
    ASSERT_FALSE(line.empty()) << gateway_->captured;
    port_ = port_from(line);
    auto pw = gateway_->captured.substr(gateway_->captured.find("One-time password:") + 18);
    pw = pw.substr(pw.find_first_not_of(' '));
    pw = pw.substr(0, pw.find('\n'));
    auto login = send_request(port_, "POST", "/api/v1/auth/login",
                              json::serialize(json::object{{"email", "admin@localhost"}, {"password", pw}}),
                              {{"Content-Type", "application/json"}});
    ASSERT_EQ(login.status, 200) << login.body;
    auto doc = json::parse(login.body);
    token_ = std::string(doc.at("access_token").as_string());
    admin_id_ = std::string(doc.at("user").at("id").as_string());
  }

 public:  // read by the client coroutines of the tests
  net::testing::test_server upstream_;
  std::atomic<int> hits_{0};
  std::atomic<bool> second_allowed_{false};
  std::promise<void> upstream_saw_disconnect_;
  std::unique_ptr<child_process> gateway_;
  std::uint16_t port_ = 0;
  std::string token_;
  std::string admin_id_;
};

TEST_F(proxy_test, forwards_with_signed_identity_request_id_and_trace) {
  const std::string trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto r = send_request(port_, "POST", "/api/v1/chat/echo?x=1", R"({"q":"hi"})",
                        {{"Authorization", "Bearer " + token_},
                         {"Content-Type", "application/json"},
                         {"X-Request-Id", "req-proxy-1"},
                         {"traceparent", trace},
                         {"X-WattOS-Identity", "forged.by-client"},
                         {"X-Custom", "kept"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers["x-up"], "1");
  auto seen = json::parse(r.body).as_object();
  EXPECT_EQ(seen["target"].as_string(), "/api/v1/chat/echo?x=1");
  EXPECT_EQ(seen["body"].as_string(), R"({"q":"hi"})");
  EXPECT_EQ(seen["x-custom"].as_string(), "kept");
  EXPECT_FALSE(seen.contains("authorization"));  // credentials stay at the gateway
  EXPECT_EQ(seen["x-request-id"].as_string(), "req-proxy-1");
  std::string parent(seen["traceparent"].as_string());
  EXPECT_EQ(parent.substr(0, 36), trace.substr(0, 36));    // same trace id
  EXPECT_NE(parent.substr(36, 16), trace.substr(36, 16));  // a new span
  EXPECT_EQ(seen["x-forwarded-for"].as_string(), "127.0.0.1");
  auto identity = api::verify_identity(
      std::string(seen["x-wattos-identity"].as_string()), secret,
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  ASSERT_TRUE(identity.ok()) << identity.err().message();
  EXPECT_EQ(identity->user_id, admin_id_);
  EXPECT_TRUE(identity->can("users:write"));
  // The identity does not verify with another secret.
  EXPECT_FALSE(api::verify_identity(std::string(seen["x-wattos-identity"].as_string()), secret + "x", 0).ok());
}

TEST_F(proxy_test, anonymous_callers_never_reach_the_service) {
  auto r = send_request(port_, "POST", "/api/v1/chat/echo", "{}", {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(hits_.load(), 0);
}

TEST_F(proxy_test, sse_is_relayed_as_it_arrives) {
  auto received = run_client([](proxy_test* self) -> awaitable<std::string> {
    auto stream = co_await connect_to(self->port_);
    std::string raw =
        "GET /api/v1/chat/stream HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + self->token_ + "\r\n\r\n";
    co_await asio::async_write(stream, asio::buffer(raw), asio::use_awaitable);
    std::string got;
    co_await read_until_contains(stream, got, "data: Hallo\n\n");
    // Only now may the upstream send its second event: the first came through unbuffered.
    self->second_allowed_ = true;
    got += co_await read_until_closed(stream);
    co_return got;
  }(this));
  EXPECT_NE(received.find("text/event-stream"), std::string::npos) << received;
  EXPECT_NE(received.find("id: 1\nevent: token\ndata: Hallo\n\n"), std::string::npos);
  EXPECT_NE(received.find("id: 2\nevent: token\ndata: Welt\n\n"), std::string::npos);
}

TEST_F(proxy_test, client_that_leaves_ends_the_upstream_stream) {
  auto saw = upstream_saw_disconnect_.get_future();
  run_client([](proxy_test* self) -> awaitable<int> {
    auto stream = co_await connect_to(self->port_);
    std::string raw =
        "GET /api/v1/chat/endless HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + self->token_ + "\r\n\r\n";
    co_await asio::async_write(stream, asio::buffer(raw), asio::use_awaitable);
    std::string got;
    co_await read_until_contains(stream, got, "id: 3\n");
    co_return 0;  // the stream closes here
  }(this));
  EXPECT_EQ(saw.wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

TEST_F(proxy_test, down_and_slow_services_get_502_and_504_json) {
  auto down = send_request(port_, "GET", "/api/v1/spaces", {}, {{"Authorization", "Bearer " + token_}});
  EXPECT_EQ(down.status, 502);
  EXPECT_EQ(json::parse(down.body).at("error").at("code").as_string(), "bad_gateway");
  auto slow = send_request(port_, "GET", "/api/v1/chat/slow", {}, {{"Authorization", "Bearer " + token_}});
  EXPECT_EQ(slow.status, 504);
  EXPECT_EQ(json::parse(slow.body).at("error").at("code").as_string(), "upstream_timeout");
}

TEST_F(proxy_test, websocket_is_relayed_and_needs_a_principal) {
  auto echoed = run_client([](proxy_test* self) -> awaitable<std::string> {
    beast::websocket::stream<beast::tcp_stream> ws(co_await connect_to(self->port_));
    ws.set_option(beast::websocket::stream_base::decorator([token = self->token_](beast::websocket::request_type& req) {
      req.set(beast::http::field::authorization, "Bearer " + token);
    }));
    co_await ws.async_handshake("127.0.0.1", "/api/v1/chat/ws", asio::use_awaitable);
    beast::get_lowest_layer(ws).expires_after(client_deadline);
    co_await ws.async_write(asio::buffer(std::string("ping")), asio::use_awaitable);
    beast::flat_buffer buffer;
    co_await ws.async_read(buffer, asio::use_awaitable);
    co_return beast::buffers_to_string(buffer.data());
  }(this));
  EXPECT_EQ(echoed, "identified:ping");
  auto refused = run_client([](std::uint16_t port) -> awaitable<std::string> {
    beast::websocket::stream<beast::tcp_stream> ws(co_await connect_to(port));
    beast::websocket::response_type res;
    co_await ws.async_handshake(res, "127.0.0.1", "/api/v1/chat/ws", asio::as_tuple(asio::use_awaitable));
    co_return std::to_string(res.result_int());
  }(port_));
  EXPECT_EQ(refused, "401");
}

}  // namespace

namespace wattos::api {
namespace {

TEST(proxy_replicas, a_resource_id_always_reaches_the_same_replica) {
  upstream up{"chat", {"http://a:1", "http://b:2", "http://c:3"}, {"/api/v1/conversations"}, rate_class::chat};
  const auto& first = replica_for(up, "/api/v1/conversations/01abc/messages", "req-1");
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(replica_for(up, "/api/v1/conversations/01abc/messages/x/events", "req-" + std::to_string(i)), first);
  }
  // Without an id, requests spread over the replicas.
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) seen.insert(replica_for(up, "/api/v1/conversations", "req-" + std::to_string(i)));
  EXPECT_EQ(seen.size(), 3u);
  upstream single{"chat", {"http://only:1"}, {"/api/v1/conversations"}, rate_class::chat};
  EXPECT_EQ(replica_for(single, "/api/v1/conversations/x", "r"), "http://only:1");
}

TEST(proxy_replicas, configured_as_a_comma_separated_list) {
  core::services_settings s;
  s.chat_url = "http://a:1/, http://b:2";
  auto ups = configured_upstreams(s);
  ASSERT_EQ(ups.size(), 1u);
  EXPECT_EQ(ups[0].base_urls, (std::vector<std::string>{"http://a:1", "http://b:2"}));
  EXPECT_FALSE(core::parse_config("services:\n  chat_url: 'http://a:1,ftp://b'\n"
                                  "gateway:\n  identity_secret: 0123456789abcdef0123456789abcdef\n",
                                  {})
                   .ok());
}

}  // namespace
}  // namespace wattos::api
