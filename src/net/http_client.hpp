// File: net/http_client.hpp
//
// The outbound HTTP client: libcurl's multi interface driven by an Asio executor, so
// that hundreds of model streams share one I/O thread with the server and need no
// thread each. TLS comes from libcurl (OpenSSL); proxies come from the environment
// (http_proxy, https_proxy, no_proxy), which libcurl honours as usual. Only http and
// https are allowed. Plain-HTTP requests without a proxy or redirects to follow go over
// Beast instead, on kept-alive connections pooled per io_context, so that even a client
// per request reuses connections (net/http_plain.hpp, docs/http-client.md).
//
// Errors are values: connection refused or DNS failure -> errc::unavailable; a
// timeout -> errc::deadline_exceeded ("connect timeout", "first byte timeout",
// "idle timeout", "total timeout"); cancellation (the awaiting coroutine's
// cancellation slot, or on_data returning false) -> errc::cancelled; a buffered body
// over `max_response_bytes` -> errc::resource_exhausted. An HTTP error status is not
// an error: it comes back in the response.
//
// Threading: a client is bound to one executor; call it only from coroutines running
// on that executor (use a strand when the io_context has several threads).
//
// Example:
//   net::http_client client(co_await asio::this_coro::executor);
//   net::http_client_request req{.method = "POST", .url = "http://127.0.0.1:8080/v1/chat/completions",
//                                .headers = {{"Content-Type", "application/json"}}, .body = payload};
//   auto status = co_await client.stream(std::move(req),
//       [](int code, const auto& headers) { ... },
//       [](std::string_view chunk) { relay(chunk); return true; });
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace wattos::net {

using http_header_list = std::vector<std::pair<std::string, std::string>>;

struct http_client_request {
  std::string method = "GET";
  std::string url;
  http_header_list headers;
  std::string body;
  std::chrono::milliseconds connect_timeout{10000};
  // From the start of the request (connection included) to the first response byte.
  std::chrono::milliseconds first_byte_timeout{60000};
  // Longest silence between two pieces of the response body.
  std::chrono::milliseconds idle_timeout{60000};
  // Whole transfer; 0 means no limit (streams may run long).
  std::chrono::milliseconds total_timeout{0};
  // Limit of a buffered response body (send()); streaming is not limited.
  std::uint64_t max_response_bytes = 16ull << 20;
  bool follow_redirects = false;
};

struct http_client_response {
  int status = 0;
  http_header_list headers;  // names in lower case
  std::string body;

  std::string_view header(std::string_view name) const noexcept;
};

class http_client {
 public:
  // Called once, when the status and headers are known (before the first on_data).
  using headers_callback = std::function<void(int status, const http_header_list& headers)>;
  // Called for each piece of the body; return false to stop (the call then ends with
  // errc::cancelled).
  using data_callback = std::function<bool(std::string_view chunk)>;

  explicit http_client(boost::asio::any_io_executor executor);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  // Sends a request and buffers the whole response.
  boost::asio::awaitable<core::result<http_client_response>> send(http_client_request request);

  // Sends a request and hands the body to `on_data` as it arrives. Returns the status.
  boost::asio::awaitable<core::result<int>> stream(http_client_request request, headers_callback on_headers,
                                                   data_callback on_data);

  // Transfers in flight (for tests and metrics).
  std::size_t active_transfers() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;  // shared with transfers in flight, which end as cancelled when the client goes
};

}  // namespace wattos::net
