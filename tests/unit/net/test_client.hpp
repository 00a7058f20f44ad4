// Test helpers: a server on a free loopback port run by its own thread, and a raw HTTP
// client whose every operation has a deadline, so a broken server fails a test
// instead of hanging it.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "core/metrics.hpp"
#include "net/http_server.hpp"

namespace wattos::net::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

inline constexpr auto client_deadline = std::chrono::seconds(10);

struct reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool keep_alive = true;
};

inline reply to_reply(http::response<http::string_body>& res) {
  reply r;
  r.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = std::string(f.value());
  }
  r.body = res.body();
  r.keep_alive = res.keep_alive();
  return r;
}

// co_spawn needs a default-constructible value; core::result deliberately is not one.
template <typename T>
asio::awaitable<std::optional<T>> as_optional(asio::awaitable<T> op) {
  co_return co_await std::move(op);
}

// Runs a client coroutine to completion on a private io_context.
template <typename T>
T run_client(asio::awaitable<T> op) {
  asio::io_context io;
  auto fut = asio::co_spawn(io, as_optional(std::move(op)), asio::use_future);
  io.run();
  return std::move(*fut.get());
}

// A connected client stream (to be used inside run_client coroutines).
inline asio::awaitable<beast::tcp_stream> connect_to(std::uint16_t port) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(client_deadline);
  co_await stream.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), asio::use_awaitable);
  co_return stream;
}

inline asio::awaitable<reply> read_reply(beast::tcp_stream& stream, beast::flat_buffer& buffer, bool head = false) {
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  parser.skip(head);
  stream.expires_after(client_deadline);
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  co_return to_reply(parser.get());
}

// Sends raw bytes and reads `count` responses from one connection.
inline asio::awaitable<std::vector<reply>> exchange_raw(std::uint16_t port, std::string raw, int count = 1) {
  auto stream = co_await connect_to(port);
  // A server may answer (413) and stop reading before the whole request is sent: like
  // a real client, read the answer even when the write could not finish.
  co_await asio::async_write(stream, asio::buffer(raw), asio::as_tuple(asio::use_awaitable));
  beast::flat_buffer buffer;
  std::vector<reply> replies;
  for (int i = 0; i < count; ++i) replies.push_back(co_await read_reply(stream, buffer));
  co_return replies;
}

inline reply send_request(std::uint16_t port, std::string method, std::string target, std::string body = {},
                          std::map<std::string, std::string> headers = {}) {
  std::string raw = method + " " + target + " HTTP/1.1\r\nHost: test\r\n";
  for (auto& [k, v] : headers) raw += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  raw += "\r\n" + body;
  return run_client(exchange_raw(port, std::move(raw))).front();
}

// Reads until the peer closes; returns everything received. Fails on the deadline.
inline asio::awaitable<std::string> read_until_closed(beast::tcp_stream& stream,
                                                      std::chrono::steady_clock::duration deadline = client_deadline) {
  std::string received;
  char chunk[4096];
  stream.expires_after(deadline);
  while (true) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
    received.append(chunk, n);
    if (ec == beast::error::timeout) throw std::runtime_error("peer did not close in time; got: " + received);
    if (ec) break;
  }
  co_return received;
}

// Sends `raw` on a new connection and returns everything received until the server closes.
inline std::string exchange_until_closed(std::uint16_t port, std::string raw) {
  return run_client([](std::uint16_t p, std::string bytes) -> asio::awaitable<std::string> {
    auto stream = co_await connect_to(p);
    co_await asio::async_write(stream, asio::buffer(bytes), asio::use_awaitable);
    co_return co_await read_until_closed(stream);
  }(port, std::move(raw)));
}

// Reads until `needle` has arrived; returns everything received.
inline asio::awaitable<std::string> read_until_contains(beast::tcp_stream& stream, std::string& received,
                                                        std::string_view needle) {
  char chunk[4096];
  stream.expires_after(client_deadline);
  while (received.find(needle) == std::string::npos) {
    std::size_t n = co_await stream.async_read_some(asio::buffer(chunk), asio::use_awaitable);
    received.append(chunk, n);
  }
  co_return received;
}

// An http_server on 127.0.0.1:0 with test-sized timeouts, run on one background thread.
class test_server {
 public:
  test_server() {
    settings.host = "127.0.0.1";
    settings.port = 0;
    settings.read_timeout_ms = 1000;
    settings.idle_timeout_ms = 2000;
    settings.write_timeout_ms = 2000;
    settings.sse_heartbeat_ms = 100;
    settings.shutdown_grace_ms = 2000;
    settings.max_body_bytes = 1024;
    settings.max_upload_bytes = 64 * 1024;
  }
  ~test_server() { stop(); }

  void start(server_hooks hooks = {}) {
    hooks.access_log = false;
    server = std::make_unique<http_server>(io, settings, routes, metrics, std::move(hooks));
    for (auto& m : middlewares) server->use(m);
    auto st = server->listen();
    if (!st.ok()) throw std::runtime_error(st.err().message());
    thread = std::thread([this] { io.run(); });
  }

  void stop() {
    if (!thread.joinable()) return;
    server->shutdown([this] { io.stop(); });
    thread.join();
  }

  std::uint16_t port() const { return server->port(); }

  asio::io_context io;
  core::server_settings settings;
  router routes;
  core::metrics_registry metrics;
  std::vector<middleware> middlewares;
  std::unique_ptr<http_server> server;
  std::thread thread;
};

}  // namespace wattos::net::testing
