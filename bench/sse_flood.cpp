// Opens N concurrent SSE streams to a server, waits until every stream has received
// its response head and one heartbeat, then reports the server's resident memory
// (read from /proc/PID/status) before and after, and the memory per stream.
// Usage: sse_flood HOST PORT PATH N SERVER_PID
#include <boost/asio.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

long rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

struct stats {
  int ready = 0;
  int failed = 0;
  int target = 0;
};

asio::awaitable<void> one_stream(tcp::endpoint ep, std::string request, stats& s,
                                 std::shared_ptr<asio::steady_timer> all_ready) {
  tcp::socket sock(co_await asio::this_coro::executor);
  auto [ec] = co_await sock.async_connect(ep, asio::as_tuple(asio::use_awaitable));
  if (!ec)
    std::tie(ec, std::ignore) =
        co_await asio::async_write(sock, asio::buffer(request), asio::as_tuple(asio::use_awaitable));
  std::string got;
  char buf[512];
  bool counted = false;
  while (!ec) {
    auto [rec, n] = co_await sock.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    ec = rec;
    if (ec) break;
    if (!counted) {
      got.append(buf, n);
      if (got.find("\r\n\r\n") != std::string::npos && got.find(": heartbeat") != std::string::npos) {
        counted = true;
        got.clear();
        got.shrink_to_fit();
        if (++s.ready + s.failed == s.target) all_ready->cancel();
      }
    }
  }
  if (!counted) {
    ++s.failed;
    if (s.ready + s.failed == s.target) all_ready->cancel();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: sse_flood HOST PORT PATH N SERVER_PID\n");
    return 2;
  }
  const int n = std::atoi(argv[4]);
  const int pid = std::atoi(argv[5]);
  asio::io_context io(1);
  tcp::endpoint ep(asio::ip::make_address(argv[1]), static_cast<unsigned short>(std::atoi(argv[2])));
  std::string request = std::string("GET ") + argv[3] + " HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n";
  stats s;
  s.target = n;
  auto all_ready = std::make_shared<asio::steady_timer>(io, asio::steady_timer::time_point::max());
  const long before = rss_kib(pid);
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) asio::co_spawn(io, one_stream(ep, request, s, all_ready), asio::detached);
  all_ready->async_wait([&](const boost::system::error_code&) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const long after = rss_kib(pid);
    std::printf(
        "streams_ready %d\nstreams_failed %d\nseconds_to_ready %.2f\nserver_rss_before_kib %ld\n"
        "server_rss_after_kib %ld\nbytes_per_stream %.0f\n",
        s.ready, s.failed, secs, before, after, s.ready ? static_cast<double>(after - before) * 1024.0 / s.ready : 0.0);
    std::fflush(stdout);
    io.stop();  // closes every stream
  });
  io.run();
  return s.failed == 0 ? 0 : 1;
}
