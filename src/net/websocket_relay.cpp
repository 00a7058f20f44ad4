#include "net/websocket_relay.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/url/parse.hpp>

namespace wattos::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
using upstream_socket = websocket::stream<beast::tcp_stream>;

asio::awaitable<void> client_to_upstream(websocket_stream& client, upstream_socket& upstream) {
  while (true) {
    auto msg = co_await client.read();
    if (!msg) break;
    upstream.binary(msg->binary);
    auto [ec, n] = co_await upstream.async_write(asio::buffer(msg->data), use_nothrow);
    if (ec) break;
  }
  auto [ec] = co_await upstream.async_close(websocket::close_code::normal, use_nothrow);
  (void)ec;
}

asio::awaitable<void> upstream_to_client(websocket_stream& client, upstream_socket& upstream) {
  beast::flat_buffer buffer;
  while (true) {
    buffer.clear();
    auto [ec, n] = co_await upstream.async_read(buffer, use_nothrow);
    if (ec) break;
    auto st = co_await client.write(beast::buffers_to_string(buffer.data()), upstream.got_binary());
    if (!st.ok()) break;
  }
}

}  // namespace

asio::awaitable<core::status> relay_websocket(websocket_stream& client_side, std::string upstream_url,
                                              std::vector<std::pair<std::string, std::string>> headers) {
  auto url = boost::urls::parse_uri(upstream_url);
  if (!url || url->scheme() != "ws") co_return core::error::invalid_argument("upstream must be a ws:// URL");
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  std::string host(url->host());
  std::string port = url->has_port() ? std::string(url->port()) : "80";
  auto [rec, endpoints] = co_await resolver.async_resolve(host, port, use_nothrow);
  if (rec) co_return core::error::unavailable("upstream " + host + ": " + rec.message());
  upstream_socket upstream(executor);
  beast::get_lowest_layer(upstream).expires_after(std::chrono::seconds(10));
  auto [cec, ep] = co_await beast::get_lowest_layer(upstream).async_connect(endpoints, use_nothrow);
  if (cec) co_return core::error::unavailable("upstream " + host + ":" + port + ": " + cec.message());
  beast::get_lowest_layer(upstream).expires_never();
  upstream.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  upstream.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    for (const auto& [name, value] : headers) req.set(name, value);
  }));
  std::string target(url->encoded_target());
  if (target.empty()) target = "/";
  auto [hec] = co_await upstream.async_handshake(host + ":" + port, target, use_nothrow);
  if (hec) co_return core::error::bad_gateway("upstream WebSocket handshake: " + hec.message());
  // Both directions at once; when one ends, the other is cancelled.
  using namespace asio::experimental::awaitable_operators;
  co_await (client_to_upstream(client_side, upstream) || upstream_to_client(client_side, upstream));
  co_return core::status{};
}

}  // namespace wattos::net
