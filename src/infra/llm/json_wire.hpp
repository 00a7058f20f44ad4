// File: infra/llm/json_wire.hpp
//
// The OpenAI JSON wire format in both directions: building provider requests,
// reading provider responses, and reading the requests our own `/v1` API receives.
// Everything parsed here is untrusted: sizes are bounded, types checked, and a bad
// field is an invalid_argument (from clients) or bad_gateway (from providers) naming it.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "infra/llm/types.hpp"

namespace wattos::infra::llm {

// Lenient field access: 0 or "" when absent or of another type.
std::int64_t json_int(const boost::json::object& obj, std::string_view key);
std::string json_string(const boost::json::object& obj, std::string_view key);

boost::json::array openai_messages(const std::vector<chat_message>& messages);
boost::json::array openai_tools(const std::vector<tool_definition>& tools);
boost::json::value openai_tool_choice(const std::string& choice);

// Provider answers.
core::result<embedding_result> parse_embeddings_response(std::string_view body, std::size_t expected);
core::result<rerank_result> parse_rerank_response(std::string_view body, std::size_t documents);

struct request_limits {
  std::size_t max_messages = 2000;
  std::size_t max_images = 20;  // image parts of one request
  std::size_t max_tools = 128;
  std::size_t max_inputs = 2048;          // embeddings
  std::size_t max_input_bytes = 1 << 20;  // one embedding input
};

// Our /v1 API's requests. `stream` is returned through the out parameter.
core::result<chat_request> parse_openai_chat_request(const boost::json::value& body, bool& stream,
                                                     const request_limits& limits = {});
// `base64` is true when encoding_format is "base64".
core::result<embedding_request> parse_openai_embedding_request(const boost::json::value& body, bool& base64,
                                                               const request_limits& limits = {});

// Rough prompt size of a request (about 4 bytes a token, plus a little per message).
std::int64_t estimate_prompt_tokens(const chat_request& request);

}  // namespace wattos::infra::llm
