// File: net/websocket_relay.hpp
//
// Relays an accepted WebSocket to an upstream WebSocket server, message by message in
// both directions, until either side closes (the gateway's proxy for services that
// run elsewhere). Kept in net so that Beast stays inside the transport layer.
//
// Example:
//   co_await net::relay_websocket(client_side, "ws://10.0.0.7:3006/api/v1/chat/ws", headers);
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "net/http_types.hpp"

namespace wattos::net {

// `upstream_url`: ws://host:port/path?query. `headers` go into the upstream handshake.
// Returns when both directions have stopped; unavailable if the upstream handshake fails.
boost::asio::awaitable<core::status> relay_websocket(websocket_stream& client_side, std::string upstream_url,
                                                     std::vector<std::pair<std::string, std::string>> headers);

}  // namespace wattos::net
