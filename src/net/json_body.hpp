// File: net/json_body.hpp
//
// Parses a request body as JSON with limits, for handlers: content type checked,
// nesting depth bounded, errors as values that become 400/415 JSON answers.
//
// Example:
//   auto body = net::parse_json_body(req);
//   if (!body) co_return net::error_response(body.err(), req.request_id);
//   const boost::json::object* obj = body->if_object();
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "net/http_types.hpp"

namespace wattos::net {

struct json_limits {
  std::size_t max_depth = 32;
};

// Parses `text` as one JSON document; invalid_argument with the position on failure.
core::result<boost::json::value> parse_json(std::string_view text, json_limits limits = {});

// As parse_json, after checking that the Content-Type is JSON (415 otherwise).
core::result<boost::json::value> parse_json_body(const request& req, json_limits limits = {});

// An optional list-of-strings field: empty when absent or null; invalid_argument naming
// the field when it is something else or longer than `max_items`.
core::result<std::vector<std::string>> json_string_list(const boost::json::object& obj, std::string_view key,
                                                        std::size_t max_items = 1000);

// As parse_json_body, for the common case of a body that must be a JSON object.
core::result<boost::json::object> parse_json_object_body(const request& req, json_limits limits = {});

}  // namespace wattos::net
