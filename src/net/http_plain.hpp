// File: net/http_plain.hpp
//
// Internal to net/http_client.cpp: plain-HTTP exchanges (http://, no proxy from the
// environment, no redirects to follow) on Beast, over kept-alive connections pooled per
// io_context. libcurl stays for everything else (https, proxies, redirects); for a
// small request to a service next door its per-transfer cost (an easy handle, a multi
// handle with its socket pair, a 0-1 ms timer per transfer) was most of the proxy's
// time (bench/RESULTS.md, Gateway).
//
// The pool is an io_context service: idle connections are closed when the context shuts
// down, before its reactor goes. A connection taken from the pool is checked for a close
// by the peer first (a non-blocking peek); one that fails before the first response byte
// anyway is retried once on a fresh connection when the method is idempotent (GET,
// HEAD, PUT, DELETE, OPTIONS), else the call ends as unavailable.
//
// Threading: like http_client, a plain_call runs on its coroutine's executor (a strand
// when the io_context has several threads); the pool itself is locked.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "net/http_client.hpp"

namespace wattos::net::detail {

// Where a plain-HTTP request goes, or nullopt when curl has to take it.
struct plain_target {
  std::string host;         // name or address, IPv6 without brackets
  std::string port;         // "80" when the URL names none
  std::string host_header;  // host[:port] as in the URL
  std::string target;       // path and query, "/" at least
};
std::optional<plain_target> plain_target_of(const http_client_request& request);

// The proxy settings libcurl reads from the environment for plain HTTP.
struct proxy_environment {
  std::string proxy;     // http_proxy, else all_proxy, else ALL_PROXY ("" when none)
  std::string no_proxy;  // no_proxy, else NO_PROXY: hosts and domains reached directly
  static proxy_environment of_process();
};
// True when libcurl would send a request to `host` through the proxy, which the plain
// client does not speak: such requests go to curl.
bool proxy_applies(std::string_view host, const proxy_environment& environment);

// One exchange. Not reusable; shared by its coroutine and timer.
class plain_call : public std::enable_shared_from_this<plain_call> {
 public:
  plain_call(boost::asio::any_io_executor executor, http_client_request request, plain_target target,
             http_client::headers_callback on_headers, http_client::data_callback on_data, bool buffered);
  ~plain_call();

  // Runs the exchange; the response (status, headers, the body when buffered) is then in
  // response(). Cancelled through the awaiting coroutine's cancellation slot or cancel().
  boost::asio::awaitable<core::status> run();
  // Ends the call as `why` (same executor only).
  void cancel(core::error why);
  http_client_response& response() noexcept;

  struct state;  // defined in http_plain.cpp

 private:
  std::unique_ptr<state> s_;
};

// Idle connections in the pool of `executor`'s io_context (for tests and metrics).
std::size_t idle_plain_connections(const boost::asio::any_io_executor& executor);

}  // namespace wattos::net::detail
