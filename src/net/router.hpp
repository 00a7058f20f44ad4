// File: net/router.hpp
//
// Maps a method and a decoded path to a handler. Patterns are split on '/': a
// segment is a literal, `{name}` (one segment), or a final `{*name}` (the rest of
// the path). When several patterns match, the one with more literal segments wins,
// so `/spaces/new` beats `/spaces/{id}`. A path that matches with another method
// gives 405 with an Allow header; no match at all gives 404.
//
// Example:
//   net::router r;
//   r.add("GET", "/api/v1/spaces/{id}", get_space);
//   r.add("POST", "/api/v1/spaces/{id}/documents", upload, {.multipart_upload = true});
//   r.add_websocket("/api/v1/chat/ws", chat_socket);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_types.hpp"

namespace wattos::net {

struct route_options {
  std::optional<std::uint64_t> body_limit;    // default: server.max_body_bytes
  bool multipart_upload = false;              // stream multipart/form-data files to disk
  std::optional<std::uint64_t> upload_limit;  // default: server.max_upload_bytes
};

struct route {
  std::string method;  // empty for WebSocket routes
  std::string pattern;
  std::vector<std::string> segments;
  handler http_handler;
  websocket_handler ws_handler;
  route_options options;
  int literal_count = 0;
  bool has_rest = false;
};

struct route_match {
  const route* matched = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  std::string allowed_methods;  // set when the path matched but not the method
};

class router {
 public:
  // Patterns must start with '/'; an invalid pattern is a programming error (aborts).
  void add(std::string method, std::string pattern, handler h, route_options options = {});
  void add_websocket(std::string pattern, websocket_handler h, route_options options = {});

  // `path` is the percent-decoded path. For HEAD, GET routes match too.
  route_match find(std::string_view method, std::string_view path, bool websocket = false) const;

  const std::vector<route>& routes() const noexcept { return routes_; }

 private:
  // What find() looks at first, so that it tries only routes that can match: routes of a
  // fixed length by segment count, each with a hash of its last segment (0 for a
  // parameter), and the {*rest} routes apart. Indices into routes_, in the order added
  // (among equal scores the first added wins).
  struct candidate {
    std::size_t index;
    std::size_t last_hash;  // of the last literal segment; 0: the last segment is {param}
  };
  void index_route(std::size_t index);
  std::vector<route> routes_;
  std::vector<std::vector<candidate>> by_length_;
  std::vector<std::size_t> rest_routes_;
};

}  // namespace wattos::net
