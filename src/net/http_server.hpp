// File: net/http_server.hpp
//
// The HTTP/1.1 server: Boost.Beast over Asio C++20 coroutines, one coroutine per
// connection on its own strand. It reads a request head under a deadline (slow
// clients are cut off), routes it, enforces the route's body limit before reading the
// body, streams multipart uploads to disk, runs the middleware chain and handler,
// and writes the response: a buffered body, a file, a Server-Sent Event stream
// (heartbeats, back-pressure, disconnect detection) or, after an upgrade, a
// WebSocket session. Handlers never see Beast types.
//
// Threading: construct, add middleware and call listen() before the io_context runs;
// shutdown() may be called from any thread.
//
// Example:
//   boost::asio::io_context io;
//   net::router routes;  routes.add("GET", "/healthz", health);
//   core::metrics_registry metrics;
//   net::http_server server(io, settings, routes, metrics);
//   if (auto st = server.listen(); !st.ok()) return fail(st);
//   server.shutdown_on_signals();   // SIGTERM/SIGINT: graceful stop
//   io.run();
#pragma once

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/metrics.hpp"
#include "net/router.hpp"

namespace wattos::net {

struct server_hooks {
  // Where multipart uploads are written (default: <temp dir>/wattos-uploads).
  std::filesystem::path upload_dir;
  // Serves GET/HEAD requests no route matched (the web UI); empty: none.
  std::filesystem::path static_dir;
  // Called with a line of access-log fields after each request; empty: no access log.
  bool access_log = true;
};

class http_server {
 public:
  http_server(boost::asio::io_context& io, const core::server_settings& settings, const router& routes,
              core::metrics_registry& metrics, server_hooks hooks = {});
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Appends middleware; the first added runs outermost. Call before listen().
  void use(middleware m);

  // Binds and starts accepting. The port is known afterwards (settings port 0: any).
  core::status listen();
  std::uint16_t port() const noexcept;

  // Graceful stop: no new connections, idle ones closed, open requests and streams get
  // `shutdown_grace_ms` to finish, then the rest are closed. `on_done` runs (on the
  // io_context) when every connection has ended. Thread safe; a second call is ignored.
  void shutdown(std::function<void()> on_done = {});

  // Installs SIGTERM and SIGINT handlers that call shutdown() and then stop the io_context.
  void shutdown_on_signals();

  // Connections currently open (for tests and the readiness endpoint).
  std::size_t open_connections() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace wattos::net
