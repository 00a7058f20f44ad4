// File: net/sse_parser.hpp
//
// An incremental parser of text/event-stream bodies (the client side of SSE), for
// streams from model providers and services: bytes go in as they arrive, in pieces
// of any size; complete events come out. Follows the WHATWG framing: lines end in
// CRLF, LF or CR; `data:` lines join with "\n"; a blank line ends an event; lines
// starting with ':' are comments; one space after the colon is dropped. The input is
// untrusted: a line longer than `max_line_bytes` or an event larger than
// `max_event_bytes` makes feed() fail, and nothing else is assumed about it.
//
// Example:
//   net::sse_parser parser;
//   auto st = parser.feed(chunk, [&](const net::sse_parser::event& e) { handle(e.event, e.data); return true; });
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace wattos::net {

class sse_parser {
 public:
  struct event {
    std::string event;  // empty means "message"
    std::string data;
    std::string id;
  };
  // Return false to stop parsing (feed then returns errc::cancelled).
  using event_callback = std::function<bool(const event&)>;

  explicit sse_parser(std::size_t max_line_bytes = 1 << 20, std::size_t max_event_bytes = 8 << 20)
      : max_line_bytes_(max_line_bytes), max_event_bytes_(max_event_bytes) {}

  core::status feed(std::string_view bytes, const event_callback& on_event);

 private:
  core::status take_line(std::string_view line, const event_callback& on_event);

  std::size_t max_line_bytes_;
  std::size_t max_event_bytes_;
  std::string line_;
  bool last_was_cr_ = false;
  event pending_;
  bool has_data_ = false;
};

}  // namespace wattos::net
