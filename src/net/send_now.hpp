// The synchronous first attempt of a write, shared by the server's answers and the plain
// HTTP client's requests: most of them fit the socket's send buffer and leave at once,
// without a composed operation, a timer or a round through the scheduler. Internal to net.
#pragma once

#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>

namespace wattos::net {

// Sends what a non-blocking socket takes now and returns the bytes sent. A full send
// buffer is not an error (0 bytes, `ec` clear): the caller writes the rest asynchronously.
template <typename Socket, typename Buffers>
std::size_t send_now(Socket& socket, const Buffers& buffers, boost::system::error_code& ec) {
  const std::size_t sent = socket.write_some(buffers, ec);
  if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
    ec = {};
    return 0;
  }
  return sent;
}

}  // namespace wattos::net
