// Load client of the LLM gateway benchmark: opens N concurrent streamed chat
// completions against a URL (the gateway's /v1, or the scripted provider directly),
// starting them evenly over RAMP_MS, and reports at p50/p99
//   ttft   from sending the request to the first content chunk
//   token  each token's one-way delay: arrival time minus the CLOCK_MONOTONIC
//          nanoseconds the scripted provider wrote into its content
// and how many streams completed. One thread; every socket operation has a deadline.
// With PATH /api/v1/conversations, each stream first creates a conversation and then
// posts a chat message to it (the chat pipeline's SSE events, whose token data carry
// the same stamps).
// Usage: llm_load HOST PORT PATH N RAMP_MS [API_KEY or access token]
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

long long mono_ns() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<long long>(now.tv_sec) * 1000000000LL + now.tv_nsec;
}

struct results {
  std::vector<double> ttft_ms;
  std::vector<double> token_ms;
  int completed = 0;
  int failed = 0;
  std::string first_error;
};

// POST a JSON body and read the whole answer (for setting a chat stream up).
asio::awaitable<std::string> post_json(beast::tcp_stream& stream, const std::string& host, const std::string& path,
                                       const std::string& key, std::string body) {
  http::request<http::string_body> req{http::verb::post, path, 11};
  req.set(http::field::host, host);
  req.set(http::field::content_type, "application/json");
  if (!key.empty()) req.set(http::field::authorization, "Bearer " + key);
  req.body() = std::move(body);
  req.prepare_payload();
  auto [wec, wn] = co_await http::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
  if (wec) co_return std::string();
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  auto [rec, rn] = co_await http::async_read(stream, buffer, res, asio::as_tuple(asio::use_awaitable));
  if (rec || res.result_int() != 201) co_return std::string();
  const auto& b = res.body();
  auto at = b.find("\"id\":\"");
  if (at == std::string::npos) co_return std::string();
  at += 6;
  co_return b.substr(at, b.find('"', at) - at);
}

asio::awaitable<void> one_stream(tcp::endpoint ep, std::string host, std::string path, std::string key,
                                 std::chrono::milliseconds delay, results& out) {
  asio::steady_timer wait(co_await asio::this_coro::executor);
  wait.expires_after(delay);
  co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(std::chrono::seconds(120));
  auto fail = [&out](const std::string& what) {
    ++out.failed;
    if (out.first_error.empty()) out.first_error = what;
  };
  auto [cec] = co_await stream.async_connect(ep, asio::as_tuple(asio::use_awaitable));
  if (cec) {
    fail("connect: " + cec.message());
    co_return;
  }
  const bool chat = path == "/api/v1/conversations";
  std::string target = path;
  if (chat) {
    std::string body = R"({"title":"load"})";
    const std::string id = co_await post_json(stream, host, path, key, std::move(body));
    if (id.empty()) {
      fail("could not create a conversation");
      co_return;
    }
    target = path + "/" + id + "/messages";
  }
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, host);
  req.set(http::field::content_type, "application/json");
  if (!key.empty()) req.set(http::field::authorization, "Bearer " + key);
  req.body() =
      chat ? std::string(R"({"content":"Count for me."})")
           : std::string(R"({"model":"bench","stream":true,"messages":[{"role":"user","content":"Count for me."}]})");
  req.prepare_payload();
  const long long sent = mono_ns();
  auto [wec, wn] = co_await http::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
  if (wec) {
    fail("write: " + wec.message());
    co_return;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  std::string pending;
  bool first = true;
  bool done = false;
  auto on_body = [&](std::string_view body) {
    const long long now = mono_ns();
    pending.append(body);
    std::size_t pos;
    while ((pos = pending.find("\n\n")) != std::string::npos) {
      std::string event = pending.substr(0, pos);
      pending.erase(0, pos + 2);
      if (event.find("[DONE]") != std::string::npos || event.find("event: done") != std::string::npos) done = true;
      std::size_t stamp_at = std::string::npos;
      if (auto c = event.find(R"("content":"t)"); c != std::string::npos) {
        stamp_at = c + 12;  // OpenAI chunks
      } else if (auto t = event.find(R"("text":"t)"); t != std::string::npos) {
        stamp_at = t + 9;  // chat token events
      }
      if (stamp_at == std::string::npos) continue;
      const long long stamp = std::atoll(event.c_str() + stamp_at);
      if (first) {
        out.ttft_ms.push_back(static_cast<double>(now - sent) / 1e6);
        first = false;
      }
      out.token_ms.push_back(static_cast<double>(now - stamp) / 1e6);
    }
  };
  auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
  if (hec || parser.get().result_int() != 200) {
    fail(hec ? "read: " + hec.message() : "status " + std::to_string(parser.get().result_int()));
    co_return;
  }
  char chunk[16384];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    auto [rec, rn] = co_await http::async_read_some(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (rec && rec != http::error::need_buffer) break;
    on_body(std::string_view(chunk, sizeof chunk - parser.get().body().size));
  }
  if (done)
    ++out.completed;
  else
    fail("stream ended without [DONE]");
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: llm_load HOST PORT PATH N RAMP_MS [API_KEY]\n");
    return 2;
  }
  const std::string host = argv[1];
  const auto port = static_cast<unsigned short>(std::atoi(argv[2]));
  const std::string path = argv[3];
  const int n = std::atoi(argv[4]);
  const int ramp_ms = std::atoi(argv[5]);
  const std::string key = argc > 6 ? argv[6] : "";
  asio::io_context io(1);
  results out;
  tcp::endpoint ep(asio::ip::make_address(host), port);
  for (int i = 0; i < n; ++i) {
    auto delay = std::chrono::milliseconds(n > 1 ? static_cast<long long>(ramp_ms) * i / n : 0);
    asio::co_spawn(io, one_stream(ep, host, path, key, delay, out), asio::detached);
  }
  io.run();
  std::printf(
      "streams=%d completed=%d failed=%d ttft_p50_ms=%.3f ttft_p99_ms=%.3f token_p50_ms=%.3f token_p99_ms=%.3f "
      "tokens=%zu",
      n, out.completed, out.failed, percentile(out.ttft_ms, 0.5), percentile(out.ttft_ms, 0.99),
      percentile(out.token_ms, 0.5), percentile(out.token_ms, 0.99), out.token_ms.size());
  if (std::getenv("LLM_LOAD_VERBOSE") != nullptr && !out.ttft_ms.empty()) {
    std::printf(" slowest_ttft_ms=");
    for (std::size_t i = out.ttft_ms.size() >= 5 ? out.ttft_ms.size() - 5 : 0; i < out.ttft_ms.size(); ++i) {
      std::printf("%.2f,", out.ttft_ms[i]);
    }
  }
  if (!out.first_error.empty()) std::printf(" first_error=\"%s\"", out.first_error.c_str());
  std::printf("\n");
  return out.failed == 0 ? 0 : 1;
}
