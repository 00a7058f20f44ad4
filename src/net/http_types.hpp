// File: net/http_types.hpp
//
// The transport-neutral request and response types that route handlers see. Beast
// stays inside net/*.cpp: handlers in higher layers include only this header and
// router.hpp. A handler is a coroutine returning a `response`; a response may carry a
// file to send, or an SSE producer that streams events after the head is written.
//
// Example:
//   net::handler h = [](net::request& req) -> boost::asio::awaitable<net::response> {
//     co_return net::response::json(200, R"({"hello":")" + std::string(req.param("name")) + "\"}");
//   };
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace wattos::net {

// Header names compare case-insensitively; order and duplicates are kept.
class header_map {
 public:
  struct entry {
    std::string name;
    std::string value;
  };

  // First value of `name`, or empty.
  std::string_view get(std::string_view name) const noexcept;
  bool contains(std::string_view name) const noexcept;
  // Replaces all values of `name`.
  void set(std::string name, std::string value);
  void add(std::string name, std::string value);
  void erase(std::string_view name);

  const std::vector<entry>& entries() const noexcept { return entries_; }
  auto begin() const noexcept { return entries_.begin(); }
  auto end() const noexcept { return entries_.end(); }
  std::size_t size() const noexcept { return entries_.size(); }

 private:
  std::vector<entry> entries_;
};

bool iequals(std::string_view a, std::string_view b) noexcept;
// A CR or LF in a header name or value (which would split the header): such headers are
// not written. One pass; string_view::find_first_of calls memchr once per character.
bool has_line_break(std::string_view text) noexcept;

// A file part of a multipart/form-data upload, already streamed to disk. The server
// deletes `path` after the response unless the handler moved or renamed the file.
struct uploaded_file {
  std::string field_name;
  std::string filename;      // as sent by the client: untrusted, never use as a path
  std::string content_type;  // as sent by the client: untrusted
  std::filesystem::path path;
  std::uint64_t size = 0;
};

struct request {
  std::string method;                                      // upper case, e.g. "GET"
  std::string target;                                      // as received: path plus query
  std::string path;                                        // percent-decoded path
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  header_map headers;
  std::string body;                                              // empty for uploads
  std::vector<std::pair<std::string, std::string>> path_params;  // decoded {name} values
  std::vector<std::pair<std::string, std::string>> form;         // multipart non-file fields
  std::vector<uploaded_file> files;                              // multipart file parts
  std::string request_id;                                        // from a valid X-Request-Id, else generated
  std::string remote_address;                                    // peer IP
  std::string route_pattern;                                     // e.g. "/api/v1/spaces/{id}", for metrics and logs
  bool websocket_upgrade = false;  // a WebSocket handshake: the middleware decides, then the socket is upgraded
  // Values middleware hands to handlers (the authenticated principal, for example).
  std::vector<std::pair<std::string, std::string>> attributes;

  std::string_view header(std::string_view name) const noexcept { return headers.get(name); }
  std::string_view param(std::string_view name) const noexcept;
  std::optional<std::string_view> query_param(std::string_view name) const noexcept;
  std::string_view attribute(std::string_view name) const noexcept;
  // The Last-Event-ID a reconnecting SSE client sent (header, or `lastEventId` query).
  std::string_view last_event_id() const noexcept;
};

struct sse_event {
  std::string id;     // empty: no id line
  std::string event;  // empty: the default "message" event
  std::string data;   // may hold newlines: each line becomes its own data: line
  std::optional<int> retry_ms;
};

// Formats one event in the text/event-stream framing. The single place events are framed.
std::string format_sse_event(const sse_event& event);

// The server side of an open SSE stream. All calls must come from the producer
// coroutine the server started (it runs on the connection's strand).
class sse_stream {
 public:
  virtual ~sse_stream() = default;
  // Queues an event; suspends while the client is too slow (back-pressure).
  // Returns false once the client is gone: the producer should return.
  virtual boost::asio::awaitable<bool> send(sse_event event) = 0;
  // Queues bytes that are already SSE-framed (a relay of an upstream stream).
  virtual boost::asio::awaitable<bool> send_raw(std::string framed) = 0;
  // True once the client disconnected or a write failed.
  virtual bool closed() const noexcept = 0;
  // True once the server is shutting down: finish soon.
  virtual bool stopping() const noexcept = 0;
};

using sse_producer = std::function<boost::asio::awaitable<void>(sse_stream&)>;

struct websocket_message {
  std::string data;
  bool binary = false;
};

// The server side of an accepted WebSocket. Calls must come from the handler
// coroutine; writes from several coroutines of the same connection are serialised.
class websocket_stream {
 public:
  virtual ~websocket_stream() = default;
  // Next message; an error with errc::cancelled when the peer closed.
  virtual boost::asio::awaitable<core::result<websocket_message>> read() = 0;
  virtual boost::asio::awaitable<core::status> write(std::string data, bool binary = false) = 0;
  virtual boost::asio::awaitable<void> close(std::uint16_t code = 1000, std::string reason = {}) = 0;
  virtual bool stopping() const noexcept = 0;
};

struct response {
  int status = 200;
  header_map headers;
  std::string body;
  std::filesystem::path file;  // non-empty: send this file as the body
  sse_producer sse;            // set: answer text/event-stream and run the producer

  static response json(int status, std::string body);
  static response text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
  static response no_content();
  static response event_stream(sse_producer producer);
};

// Handlers and middleware are stored for the server's lifetime, so a lambda that is a
// coroutine may capture long-lived objects (a service pointer); never capture locals.
using handler = std::function<boost::asio::awaitable<response>(request&)>;
using middleware = std::function<boost::asio::awaitable<response>(request&, const handler& next)>;
using websocket_handler = std::function<boost::asio::awaitable<void>(request&, websocket_stream&)>;

}  // namespace wattos::net
