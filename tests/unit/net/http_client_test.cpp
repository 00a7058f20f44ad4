// The outbound client against a scripted Beast server on loopback. The server runs on
// its own thread; each test drives the client on a private io_context with a deadline.
#include "net/http_client.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "net/http_plain.hpp"
#include "test_client.hpp"

namespace wattos::net {
namespace {

using namespace wattos::net::testing;
using asio::awaitable;
using namespace std::chrono_literals;

// Routes: /hello, /echo (body and X-Custom back), /status/404, /stream?n=&gap=
// (chunked, `gap` ms apart), /stall (never answers), /stall-after-first (one chunk,
// then silence), /big (1 MiB), /size (the length of the request body and its bytes off the
// pattern), /drop-second (answered as the first request on a
// connection; as a later one, the connection is closed unanswered, as by a server whose
// keep-alive limit ran out just as the request came).
class scripted_server {
 public:
  scripted_server() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~scripted_server() {
    io_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  std::atomic<int> disconnects{0};
  std::atomic<int> connections{0};         // accepted so far
  std::promise<void> closed_after_answer;  // /then-close closed its connection

 private:
  awaitable<void> accept_loop() {
    while (true) {
      auto [ec, sock] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      ++connections;
      asio::co_spawn(io_, serve(beast::tcp_stream(std::move(sock))), asio::detached);
    }
  }

  awaitable<void> serve(beast::tcp_stream stream) {
    beast::flat_buffer buffer;
    for (int served = 0;; ++served) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 << 20);  // /size takes bodies larger than a socket's send buffer
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      if (ec) break;
      http::request<http::string_body> req = parser.release();
      std::string target(req.target());
      if (target == "/drop-second" && served > 0) break;
      asio::steady_timer timer(stream.get_executor());
      if (target == "/stall") {
        timer.expires_after(60s);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        break;
      }
      if (target.starts_with("/stream") || target == "/stall-after-first") {
        int count = 5, gap = 20;
        if (target == "/stall-after-first") count = 1;
        if (auto p = target.find("n="); p != std::string::npos) count = std::stoi(target.substr(p + 2));
        if (auto p = target.find("gap="); p != std::string::npos) gap = std::stoi(target.substr(p + 4));
        http::response<http::empty_body> head{http::status::ok, 11};
        head.chunked(true);
        head.set(http::field::content_type, "text/plain");
        http::response_serializer<http::empty_body> sr(head);
        co_await http::async_write_header(stream, sr, asio::as_tuple(asio::use_awaitable));
        bool alive = true;
        for (int i = 0; i < count && alive; ++i) {
          std::string chunk = "chunk-" + std::to_string(i) + "\n";
          std::string framed = (std::ostringstream() << std::hex << chunk.size()).str() + "\r\n" + chunk + "\r\n";
          auto [wec, wn] =
              co_await asio::async_write(stream, asio::buffer(framed), asio::as_tuple(asio::use_awaitable));
          alive = !wec;
          timer.expires_after(std::chrono::milliseconds(gap));
          co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        if (target == "/stall-after-first") {
          timer.expires_after(60s);
          co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
          break;
        }
        if (!alive) {
          ++disconnects;
          break;
        }
        auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(std::string("0\r\n\r\n")),
                                                    asio::as_tuple(asio::use_awaitable));
        if (wec) ++disconnects;
        continue;
      }
      http::response<http::string_body> res{http::status::ok, req.version()};
      if (target == "/hello") {
        res.body() = "hello";
        res.set("X-Test", "1");
      } else if (target == "/echo") {
        res.body() = std::string(req.method_string()) + ":" + req.body();
        res.set("X-Got", req["X-Custom"]);
      } else if (target == "/status/404") {
        res.result(http::status::not_found);
        res.body() = "nope";
      } else if (target == "/then-close") {
        res.body() = "bye";
      } else if (target == "/drop-second") {
        res.body() = "first";
      } else if (target == "/size") {
        // The body's length, and how many bytes differ from the pattern the test sends.
        std::size_t wrong = 0;
        for (std::size_t i = 0; i < req.body().size(); ++i) wrong += req.body()[i] != static_cast<char>('a' + i % 26);
        res.body() = std::to_string(req.body().size()) + " " + std::to_string(wrong);
      } else if (target == "/big") {
        res.body() = std::string(1 << 20, 'b');
      }
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      if (target == "/then-close") {
        // Answered as kept alive, then closed: as a server whose idle limit ran out.
        boost::system::error_code ignored;
        stream.socket().close(ignored);
        closed_after_answer.set_value();
        break;
      }
      if (wec || !req.keep_alive()) break;
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

http_client_request get(std::string url) {
  http_client_request r;
  r.url = std::move(url);
  r.first_byte_timeout = 5s;
  r.idle_timeout = 5s;
  return r;
}

TEST(http_client, get_returns_status_headers_and_body) {
  scripted_server server;
  auto res = run_client([](std::string url) -> awaitable<core::result<http_client_response>> {
    http_client client(co_await asio::this_coro::executor);
    auto req = get(url);
    co_return co_await client.send(std::move(req));
  }(server.url("/hello")));
  ASSERT_TRUE(res.ok()) << res.err().message();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "hello");
  EXPECT_EQ(res->header("x-test"), "1");
  EXPECT_EQ(res->header("Content-Length"), "5");
}

TEST(http_client, post_sends_body_and_headers_error_status_is_a_response) {
  scripted_server server;
  auto results = run_client([](const scripted_server& s) -> awaitable<std::vector<http_client_response>> {
    http_client client(co_await asio::this_coro::executor);
    std::vector<http_client_response> out;
    auto post = get(s.url("/echo"));
    post.method = "POST";
    post.body = "{\"a\":1}";
    post.headers = {{"X-Custom", "wert-ü"}, {"Content-Type", "application/json"}};
    auto r1 = co_await client.send(std::move(post));
    if (r1) out.push_back(*r1);
    auto put = get(s.url("/echo"));
    put.method = "PUT";
    put.body = "x";
    auto r2 = co_await client.send(std::move(put));
    if (r2) out.push_back(*r2);
    auto missing = get(s.url("/status/404"));
    auto r3 = co_await client.send(std::move(missing));
    if (r3) out.push_back(*r3);
    co_return out;
  }(server));
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].body, "POST:{\"a\":1}");
  EXPECT_EQ(results[0].header("x-got"), "wert-ü");
  EXPECT_EQ(results[1].body, "PUT:x");
  EXPECT_EQ(results[2].status, 404);
  EXPECT_EQ(results[2].body, "nope");
}

TEST(http_client, request_bodies_larger_than_the_send_buffer_arrive_whole) {
  scripted_server server;
  auto results = run_client([](const scripted_server& s) -> awaitable<std::vector<http_client_response>> {
    http_client client(co_await asio::this_coro::executor);
    std::vector<http_client_response> out;
    for (std::size_t size : {std::size_t{16} << 20, std::size_t{100}}) {  // the second on the kept-alive connection
      auto post = get(s.url("/size"));
      post.method = "POST";
      post.body.resize(size);
      for (std::size_t i = 0; i < size; ++i) post.body[i] = static_cast<char>('a' + i % 26);
      auto r = co_await client.send(std::move(post));
      if (r) out.push_back(*r);
    }
    co_return out;
  }(server));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].body, std::to_string(std::size_t{16} << 20) + " 0");
  EXPECT_EQ(results[1].body, "100 0");
  EXPECT_EQ(server.connections.load(), 1);
}

TEST(http_client, stream_delivers_chunks_in_order) {
  scripted_server server;
  std::string received;
  int header_status = 0;
  auto status = run_client([](std::string url, std::string& got, int& hs) -> awaitable<core::result<int>> {
    http_client client(co_await asio::this_coro::executor);
    auto req = get(url);
    co_return co_await client.stream(
        std::move(req), [&hs](int s, const http_header_list&) { hs = s; },
        [&got](std::string_view chunk) {
          got.append(chunk);
          return true;
        });
  }(server.url("/stream?n=5&gap=10"), received, header_status));
  ASSERT_TRUE(status.ok()) << status.err().message();
  EXPECT_EQ(*status, 200);
  EXPECT_EQ(header_status, 200);
  EXPECT_EQ(received, "chunk-0\nchunk-1\nchunk-2\nchunk-3\nchunk-4\n");
}

TEST(http_client, returning_false_from_on_data_cancels) {
  scripted_server server;
  auto status = run_client([](std::string url) -> awaitable<core::result<int>> {
    http_client client(co_await asio::this_coro::executor);
    auto req = get(url);
    co_return co_await client.stream(std::move(req), {}, [](std::string_view) { return false; });
  }(server.url("/stream?n=50&gap=10")));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.err().code(), core::errc::cancelled);
}

TEST(http_client, cancellation_slot_aborts_the_transfer) {
  scripted_server server;
  auto outcome = run_client([](std::string url) -> awaitable<core::result<int>> {
    auto ex = co_await asio::this_coro::executor;
    http_client client(ex);
    asio::cancellation_signal cancel;
    int chunks = 0;
    auto req = get(url);
    // The consumer cancels after the first chunk, as a client that disconnects would.
    auto fut = asio::co_spawn(
        ex,
        as_optional(client.stream(std::move(req), {},
                                  [&](std::string_view) {
                                    if (++chunks == 1) {
                                      asio::post(ex, [&cancel] { cancel.emit(asio::cancellation_type::terminal); });
                                    }
                                    return true;
                                  })),
        asio::bind_cancellation_slot(cancel.slot(), asio::use_awaitable));
    auto finished = co_await std::move(fut);
    co_return std::move(*finished);
  }(server.url("/stream?n=1000&gap=10")));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.err().code(), core::errc::cancelled) << outcome.err().message();
}

TEST(http_client, timeouts_are_deadline_exceeded_with_their_kind) {
  scripted_server server;
  auto results = run_client([](const scripted_server& s) -> awaitable<std::vector<core::error>> {
    http_client client(co_await asio::this_coro::executor);
    std::vector<core::error> out;
    auto stall = get(s.url("/stall"));
    stall.first_byte_timeout = 200ms;
    auto r1 = co_await client.send(std::move(stall));
    out.push_back(r1.ok() ? core::error::internal("no error") : r1.err());
    auto idle = get(s.url("/stall-after-first"));
    idle.idle_timeout = 200ms;
    auto r2 = co_await client.stream(std::move(idle), {}, [](std::string_view) { return true; });
    out.push_back(r2.ok() ? core::error::internal("no error") : r2.err());
    auto total = get(s.url("/stream?n=100&gap=20"));
    total.total_timeout = 300ms;
    auto r3 = co_await client.stream(std::move(total), {}, [](std::string_view) { return true; });
    out.push_back(r3.ok() ? core::error::internal("no error") : r3.err());
    co_return out;
  }(server));
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].code(), core::errc::deadline_exceeded);
  EXPECT_EQ(results[0].message(), "first byte timeout");
  EXPECT_EQ(results[1].code(), core::errc::deadline_exceeded);
  EXPECT_EQ(results[1].message(), "idle timeout");
  EXPECT_EQ(results[2].code(), core::errc::deadline_exceeded);
  EXPECT_EQ(results[2].message(), "total timeout");
}

TEST(http_client, refused_connection_is_unavailable) {
  std::uint16_t closed_port;
  {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed_port = a.local_endpoint().port();
  }
  auto res = run_client([](std::uint16_t port) -> awaitable<core::result<http_client_response>> {
    http_client client(co_await asio::this_coro::executor);
    co_return co_await client.send(get("http://127.0.0.1:" + std::to_string(port) + "/"));
  }(closed_port));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.err().code(), core::errc::unavailable) << res.err().message();
}

TEST(http_client, only_http_and_https_are_allowed) {
  auto res = run_client([]() -> awaitable<core::result<http_client_response>> {
    http_client client(co_await asio::this_coro::executor);
    co_return co_await client.send(get("file:///etc/passwd"));
  }());
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.err().code(), core::errc::invalid_argument) << res.err().message();
}

TEST(http_client, buffered_body_over_limit_is_resource_exhausted) {
  scripted_server server;
  auto res = run_client([](std::string url) -> awaitable<core::result<http_client_response>> {
    http_client client(co_await asio::this_coro::executor);
    auto req = get(url);
    req.max_response_bytes = 1000;
    co_return co_await client.send(std::move(req));
  }(server.url("/big")));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.err().code(), core::errc::resource_exhausted);
}

TEST(http_client, many_concurrent_requests_share_one_thread) {
  scripted_server server;
  constexpr int count = 200;
  auto ok = run_client([](std::string url) -> awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    http_client client(ex);
    int succeeded = 0;
    int finished = 0;
    asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
    for (int i = 0; i < count; ++i) {
      asio::co_spawn(ex, as_optional(client.stream(get(url), {}, [](std::string_view) { return true; })),
                     [&](std::exception_ptr, std::optional<core::result<int>> r) {
                       if (r && r->ok() && **r == 200) ++succeeded;
                       if (++finished == count) all_done.cancel();
                     });
    }
    co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return succeeded;
  }(server.url("/stream?n=3&gap=5")));
  EXPECT_EQ(ok, count);
}

TEST(http_client, destroying_the_client_cancels_transfers_in_flight) {
  scripted_server server;
  auto outcome = run_client([](std::string url) -> awaitable<core::result<http_client_response>> {
    auto ex = co_await asio::this_coro::executor;
    auto client = std::make_unique<http_client>(ex);
    std::optional<core::result<http_client_response>> finished;
    asio::steady_timer done(ex, asio::steady_timer::time_point::max());
    asio::co_spawn(ex, as_optional(client->send(get(url))),
                   [&](std::exception_ptr, std::optional<core::result<http_client_response>> r) {
                     finished = std::move(*r);
                     done.cancel();
                   });
    // Let the request reach the stalling server, then drop the client under it.
    asio::steady_timer t(ex, 100ms);
    co_await t.async_wait(asio::use_awaitable);
    EXPECT_EQ(client->active_transfers(), 1u);
    client.reset();
    if (!finished) co_await done.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return std::move(*finished);
  }(server.url("/stall")));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.err().code(), core::errc::cancelled) << outcome.err().message();
}

TEST(http_client, requests_that_follow_redirects_still_go_through_curl) {
  scripted_server server;
  auto res = run_client([](std::string url) -> awaitable<core::result<http_client_response>> {
    http_client client(co_await asio::this_coro::executor);
    auto req = get(url);
    req.follow_redirects = true;
    co_return co_await client.send(std::move(req));
  }(server.url("/hello")));
  ASSERT_TRUE(res.ok()) << res.err().message();
  EXPECT_EQ(res->body, "hello");
}

TEST(http_client, plain_http_connections_are_kept_alive_and_reused) {
  scripted_server server;
  auto idle = run_client([](std::string url) -> awaitable<std::size_t> {
    auto ex = co_await asio::this_coro::executor;
    for (int i = 0; i < 20; ++i) {
      // A client per request, as the proxy makes them: the pool belongs to the io_context.
      http_client client(ex);
      auto res = co_await client.send(get(url));
      EXPECT_TRUE(res.ok() && res->body == "hello");
      auto streamed = co_await client.stream(get(url), {}, [](std::string_view) { return true; });
      EXPECT_TRUE(streamed.ok());
    }
    co_return detail::idle_plain_connections(ex);
  }(server.url("/hello")));
  EXPECT_EQ(server.connections.load(), 1);  // 40 requests, one connection
  EXPECT_EQ(idle, 1u);
}

TEST(http_client, a_closed_kept_alive_connection_is_retried_once_when_idempotent) {
  scripted_server server;
  auto results = run_client([](std::string url) -> awaitable<std::vector<core::result<http_client_response>>> {
    http_client client(co_await asio::this_coro::executor);
    std::vector<core::result<http_client_response>> out;
    out.push_back(co_await client.send(get(url)));  // a fresh connection, answered, kept
    out.push_back(co_await client.send(get(url)));  // dropped on the kept one: again on a fresh one
    auto post = get(url);
    post.method = "POST";
    post.body = "x";
    out.push_back(co_await client.send(std::move(post)));  // dropped: a POST is not repeated
    co_return out;
  }(server.url("/drop-second")));
  ASSERT_EQ(results.size(), 3u);
  ASSERT_TRUE(results[0].ok()) << results[0].err().message();
  ASSERT_TRUE(results[1].ok()) << results[1].err().message();
  EXPECT_EQ(results[1]->body, "first");
  ASSERT_FALSE(results[2].ok());
  EXPECT_EQ(results[2].err().code(), core::errc::unavailable) << results[2].err().message();
  EXPECT_EQ(server.connections.load(), 2);
}

TEST(http_client, a_connection_the_server_closed_while_idle_is_not_reused) {
  scripted_server server;
  auto closed = server.closed_after_answer.get_future();
  auto results = run_client([](const scripted_server& s, std::future<void>& c) -> awaitable<std::string> {
    http_client client(co_await asio::this_coro::executor);
    std::string got;
    auto first = co_await client.send(get(s.url("/then-close")));
    if (first) got += first->body;
    // The server has closed the kept-alive connection (its FIN is queued here by now).
    c.wait();
    auto post = get(s.url("/echo"));
    post.method = "POST";  // never repeated: the check before reuse has to catch the close
    post.body = "x";
    auto second = co_await client.send(std::move(post));
    got += second ? " " + second->body : " " + second.err().message();
    co_return got;
  }(server, closed));
  EXPECT_EQ(results, "bye POST:x");
  EXPECT_EQ(server.connections.load(), 2);
}

// Which requests the plain client takes, and where they go. Each URL twice and the hosts
// interleaved: the origin of the last URL is kept per thread, and a kept origin must give
// what a fresh parse gives. Whatever the plain client refuses, curl takes (and reports).
TEST(http_client, plain_targets_follow_the_url) {
  struct expectation {
    const char* url;
    std::optional<detail::plain_target> target;
  };
  const expectation cases[] = {
      {"http://127.0.0.1:8080/api/v1/chat?x=1&y=%20",
       detail::plain_target{"127.0.0.1", "8080", "127.0.0.1:8080", "/api/v1/chat?x=1&y=%20"}},
      {"http://127.0.0.1:8080/other", detail::plain_target{"127.0.0.1", "8080", "127.0.0.1:8080", "/other"}},
      {"HTTP://Chat.Example.eu", detail::plain_target{"Chat.Example.eu", "80", "Chat.Example.eu", "/"}},
      {"http://chat.example.eu?q=1", detail::plain_target{"chat.example.eu", "80", "chat.example.eu", "/?q=1"}},
      {"http://[::1]:9000/v1/models", detail::plain_target{"::1", "9000", "[::1]:9000", "/v1/models"}},
      {"http://127.0.0.1:8080/has space", std::nullopt},     // not a valid path
      {"http://127.0.0.1:8080/page#part", std::nullopt},     // a fragment: curl drops it
      {"http://user:secret@127.0.0.1:8080/", std::nullopt},  // credentials: curl sends them
      {"https://127.0.0.1:8443/", std::nullopt},             // TLS
      {"http://", std::nullopt},
      {"http://127.0.0.1:notaport/", std::nullopt},
  };
  for (int round = 0; round < 2; ++round) {
    for (const auto& c : cases) {
      http_client_request request;
      request.url = c.url;
      auto got = detail::plain_target_of(request);
      ASSERT_EQ(got.has_value(), c.target.has_value()) << c.url;
      if (!got) continue;
      EXPECT_EQ(got->host, c.target->host) << c.url;
      EXPECT_EQ(got->port, c.target->port) << c.url;
      EXPECT_EQ(got->host_header, c.target->host_header) << c.url;
      EXPECT_EQ(got->target, c.target->target) << c.url;
    }
  }
  http_client_request redirected;
  redirected.url = "http://127.0.0.1:8080/";
  redirected.follow_redirects = true;
  EXPECT_FALSE(detail::plain_target_of(redirected));
}

// The plain client hands a request to curl exactly when curl would take it through the
// environment's proxy; the decision follows curl's no_proxy rules.
TEST(http_client, the_environment_proxy_applies_as_curl_applies_it) {
  using detail::proxy_applies;
  EXPECT_FALSE(proxy_applies("api.example.eu", {}));
  EXPECT_FALSE(proxy_applies("api.example.eu", {"", "other.example"}));
  const detail::proxy_environment proxied{"http://proxy.example.eu:3128",
                                          "localhost, 127.0.0.1,.intern.example,EXAMPLE.org"};
  EXPECT_TRUE(proxy_applies("api.example.eu", proxied));
  EXPECT_FALSE(proxy_applies("localhost", proxied));
  EXPECT_FALSE(proxy_applies("127.0.0.1", proxied));
  EXPECT_TRUE(proxy_applies("127.0.0.10", proxied));  // whole names only, no prefixes
  EXPECT_FALSE(proxy_applies("intern.example", proxied));
  EXPECT_FALSE(proxy_applies("git.intern.example", proxied));
  EXPECT_TRUE(proxy_applies("gitintern.example", proxied));  // a domain ends at a dot
  EXPECT_FALSE(proxy_applies("www.example.ORG", proxied));   // case-blind
  EXPECT_TRUE(proxy_applies("example.eu", proxied));
  EXPECT_FALSE(proxy_applies("anything", {"http://proxy:3128", "*"}));
  EXPECT_TRUE(proxy_applies("anything", {"http://proxy:3128", ",, "}));  // empty entries name nothing
}

}  // namespace
}  // namespace wattos::net
