// A wattos HTTP server with the benchmark routes the platform itself does not have yet:
//   GET /json   a small JSON body (same bytes as the nginx static file it is compared to)
//   GET /sse    an SSE stream that only ever sends heartbeats (an idle chat stream)
//   GET /api/v1/chat/json  the same JSON, as the upstream of the proxy benchmark
//   POST /v1/chat/completions  a scripted OpenAI-compatible model: streams BENCH_TOKENS
//               chunks (default 20), one every BENCH_TOKEN_INTERVAL_MS (default 50), each
//               chunk's content the CLOCK_MONOTONIC nanoseconds at which it was sent,
//               so a client on this machine can tell each token's one-way delay
// It is the same net::http_server, middleware and metrics as `wattos serve`.
// Usage: bench_server PORT THREADS HEARTBEAT_MS
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "api/health_routes.hpp"
#include "api/middleware.hpp"
#include "core/log.hpp"
#include "net/http_server.hpp"

using namespace wattos;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: bench_server PORT THREADS HEARTBEAT_MS\n");
    return 2;
  }
  core::server_settings settings;
  settings.port = static_cast<std::uint16_t>(std::atoi(argv[1]));
  settings.threads = std::atoi(argv[2]);
  settings.sse_heartbeat_ms = std::atoi(argv[3]);
  settings.max_connections = 100000;
  core::set_log_level(core::log_level::warn);

  boost::asio::io_context io(settings.threads);
  core::metrics_registry metrics;
  net::router routes;
  api::route_table table(routes);
  api::readiness_checks checks;
  api::add_health_routes(table, checks, metrics, {{"bench"}, {}});
  routes.add("GET", "/json", [](net::request&) -> boost::asio::awaitable<net::response> {
    co_return net::response::json(200, R"({"status":"ok"})");
  });
  // The upstream of the proxy benchmark: the gateway forwards /api/v1/chat/* here.
  routes.add("GET", "/api/v1/chat/json", [](net::request&) -> boost::asio::awaitable<net::response> {
    co_return net::response::json(200, R"({"status":"ok"})");
  });
  const int tokens = std::getenv("BENCH_TOKENS") ? std::atoi(std::getenv("BENCH_TOKENS")) : 20;
  const int interval_ms =
      std::getenv("BENCH_TOKEN_INTERVAL_MS") ? std::atoi(std::getenv("BENCH_TOKEN_INTERVAL_MS")) : 50;
  routes.add("POST", "/v1/chat/completions", [tokens, interval_ms](net::request&) -> boost::asio::awaitable<net::response> {
    net::sse_producer producer = [tokens, interval_ms](net::sse_stream& out) -> boost::asio::awaitable<void> {
      boost::asio::steady_timer wait(co_await boost::asio::this_coro::executor);
      auto chunk = [](const std::string& delta, const char* finish) {
        return std::string(
                   R"(data: {"id":"b","object":"chat.completion.chunk","model":"bench","choices":[{"index":0,"delta":)") +
               delta + R"(,"finish_reason":)" + finish + "}]}\n\n";
      };
      for (int i = 0; i < tokens; ++i) {
        if (i > 0) {
          wait.expires_after(std::chrono::milliseconds(interval_ms));
          co_await wait.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        }
        timespec now{};
        clock_gettime(CLOCK_MONOTONIC, &now);
        const long long ns = static_cast<long long>(now.tv_sec) * 1000000000LL + now.tv_nsec;
        std::string framed = chunk(R"({"content":"t)" + std::to_string(ns) + R"( "})", "null");
        if (!co_await out.send_raw(std::move(framed))) co_return;
      }
      std::string last = chunk("{}", R"("stop")") +
                         "data: {\"id\":\"b\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":" +
                         std::to_string(tokens) + "}}\n\ndata: [DONE]\n\n";
      co_await out.send_raw(std::move(last));
    };
    co_return net::response::event_stream(std::move(producer));
  });
  routes.add("GET", "/sse", [](net::request&) -> boost::asio::awaitable<net::response> {
    co_return net::response::event_stream([](net::sse_stream& out) -> boost::asio::awaitable<void> {
      boost::asio::steady_timer wait(co_await boost::asio::this_coro::executor);
      while (!out.closed() && !out.stopping()) {
        wait.expires_after(std::chrono::hours(1));
        co_await wait.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      }
    });
  });
  net::http_server server(io, settings, routes, metrics, {.access_log = false});
  server.use(api::security_headers());
  if (auto st = server.listen(); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.err().message().c_str());
    return 1;
  }
  server.shutdown_on_signals();
  std::printf("listening %u\n", server.port());
  std::fflush(stdout);
  std::vector<std::thread> workers;
  for (int i = 1; i < settings.threads; ++i) workers.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& w : workers) w.join();
  return 0;
}
