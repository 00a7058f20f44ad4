// File: infra/llm/provider_http.hpp
//
// The HTTP plumbing the remote providers share (internal to infra/llm): a streamed
// POST whose text/event-stream body is parsed into events, and a buffered JSON POST,
// both turning transport errors and HTTP error statuses into call_outcomes.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <optional>
#include <string>

#include "infra/llm/provider.hpp"
#include "net/http_client.hpp"
#include "net/sse_parser.hpp"

namespace wattos::infra::llm {

// A POST to `target.model->endpoint + path` with the target's timeouts.
net::http_client_request provider_request(const call_target& target, std::string path, std::string body,
                                          net::http_header_list headers);

// Handles one event; sets `failure` and returns false to stop the stream.
using provider_event_handler = std::function<bool(const net::sse_parser::event&, std::optional<core::error>& failure)>;

// Streams the request; ok when the provider answered 200 and the stream ended without
// a failure (the caller then checks that the answer was complete).
boost::asio::awaitable<call_outcome> stream_provider_events(net::http_client_request request,
                                                            provider_event_handler on_event);

// Sends the request and buffers the answer; ok (with the body and, when asked, its
// content type) only for a 200.
boost::asio::awaitable<call_outcome> post_provider_json(net::http_client_request request, std::string& body_out,
                                                        std::string* content_type = nullptr);

}  // namespace wattos::infra::llm
