// The Anthropic Messages wire format: POST {endpoint}/messages with `stream: true`.
// System messages become the top-level `system`; tool calls and tool results become
// tool_use and tool_result content blocks, images image blocks; consecutive messages of one role are merged
// (the API wants user and assistant to alternate). Streamed tool input arrives as
// input_json_delta fragments and is relayed as tool-call deltas.
#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>

#include <map>

#include "infra/llm/json_wire.hpp"
#include "infra/llm/provider.hpp"
#include "infra/llm/provider_http.hpp"
#include "net/http_client.hpp"
#include "net/sse_parser.hpp"

namespace wattos::infra::llm {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

json::value parsed_or_empty(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return json::object{};
  return v;
}

void append_block(json::array& messages, const std::string& role, json::object block) {
  if (!messages.empty() && messages.back().as_object().at("role").as_string() == role) {
    messages.back().as_object()["content"].as_array().push_back(std::move(block));
    return;
  }
  messages.push_back(json::object{{"role", role}, {"content", json::array{std::move(block)}}});
}

// An image as an Anthropic content block: a data URL becomes a base64 source (its media
// type from the URL; the parser admitted only raster types), an https URL a url source.
json::object image_block(const image_input& image) {
  constexpr std::string_view data_prefix = "data:";
  if (image.url.starts_with(data_prefix)) {
    const auto semicolon = image.url.find(';');
    const auto comma = image.url.find(',');
    std::string media_type = image.url.substr(data_prefix.size(), semicolon - data_prefix.size());
    if (media_type == "image/jpg") media_type = "image/jpeg";
    return json::object{
        {"type", "image"},
        {"source",
         json::object{{"type", "base64"}, {"media_type", media_type}, {"data", image.url.substr(comma + 1)}}}};
  }
  return json::object{{"type", "image"}, {"source", json::object{{"type", "url"}, {"url", image.url}}}};
}

json::object request_body(const call_target& target, const chat_request& request) {
  json::object body;
  body["model"] = target.model->upstream_model;
  body["max_tokens"] = request.max_tokens.value_or(target.model->max_output_tokens);
  body["stream"] = true;
  std::string system;
  json::array messages;
  for (const auto& m : request.messages) {
    if (m.role == "system") {
      system += (system.empty() ? "" : "\n\n") + m.content;
    } else if (m.role == "tool") {
      append_block(messages, "user",
                   json::object{{"type", "tool_result"}, {"tool_use_id", m.tool_call_id}, {"content", m.content}});
    } else {
      for_each_part(
          m.content, m.images,
          [&](std::string_view text) {
            append_block(messages, m.role, json::object{{"type", "text"}, {"text", text}});
          },
          [&](const image_input& image) { append_block(messages, m.role, image_block(image)); });
      for (const auto& c : m.tool_calls) {
        append_block(
            messages, "assistant",
            json::object{
                {"type", "tool_use"}, {"id", c.id}, {"name", c.name}, {"input", parsed_or_empty(c.arguments)}});
      }
    }
  }
  if (!system.empty()) body["system"] = system;
  body["messages"] = std::move(messages);
  if (!request.tools.empty()) {
    json::array tools;
    for (const auto& t : request.tools) {
      json::object tool{{"name", t.name}, {"input_schema", parsed_or_empty(t.parameters_json)}};
      if (!t.description.empty()) tool["description"] = t.description;
      tools.push_back(std::move(tool));
    }
    body["tools"] = std::move(tools);
  }
  if (!request.tool_choice.empty()) {
    if (request.tool_choice == "auto")
      body["tool_choice"] = json::object{{"type", "auto"}};
    else if (request.tool_choice == "required")
      body["tool_choice"] = json::object{{"type", "any"}};
    else if (request.tool_choice == "none")
      body["tool_choice"] = json::object{{"type", "none"}};
    else
      body["tool_choice"] = json::object{{"type", "tool"}, {"name", request.tool_choice}};
  }
  if (request.temperature) body["temperature"] = std::min(1.0, *request.temperature);
  if (request.top_p) body["top_p"] = *request.top_p;
  if (!request.stop.empty()) {
    json::array stop;
    for (const auto& s : request.stop) stop.emplace_back(s);
    body["stop_sequences"] = std::move(stop);
  }
  return body;
}

std::string finish_reason_for(std::string_view stop_reason) {
  if (stop_reason == "max_tokens") return "length";
  if (stop_reason == "tool_use") return "tool_calls";
  if (stop_reason == "refusal") return "content_filter";
  return "stop";
}

struct stream_state {
  event_sink* sink = nullptr;
  std::map<std::int64_t, int> tool_index_of_block;  // content block index -> tool call index
  int tools = 0;
  token_usage usage;
  std::string finish_reason;
  bool stopped = false;  // message_stop seen

  bool on_event(const net::sse_parser::event& ev, std::optional<core::error>& failure) {
    boost::system::error_code ec;
    auto parsed = json::parse(ev.data, ec);
    if (ec || !parsed.is_object()) {
      failure = core::error::bad_gateway("the model provider sent a malformed stream event");
      return false;
    }
    const auto& obj = parsed.get_object();
    const std::string type = json_string(obj, "type");
    if (type == "message_start") {
      if (const auto* msg = obj.if_contains("message"); msg != nullptr && msg->is_object()) {
        if (const auto* u = msg->get_object().if_contains("usage"); u != nullptr && u->is_object()) {
          usage.prompt_tokens = json_int(u->get_object(), "input_tokens");
          usage.completion_tokens = json_int(u->get_object(), "output_tokens");
        }
      }
    } else if (type == "content_block_start") {
      const auto* block = obj.if_contains("content_block");
      if (block != nullptr && block->is_object() && json_string(block->get_object(), "type") == "tool_use") {
        const int index = tools++;
        tool_index_of_block[json_int(obj, "index")] = index;
        chat_event e;
        e.type = chat_event::kind::tool_call;
        e.tool_index = index;
        e.tool_id = json_string(block->get_object(), "id");
        e.tool_name = json_string(block->get_object(), "name");
        if (!sink->push(std::move(e))) return false;
      }
    } else if (type == "content_block_delta") {
      const auto* delta = obj.if_contains("delta");
      if (delta == nullptr || !delta->is_object()) return true;
      const auto& d = delta->get_object();
      const std::string delta_type = json_string(d, "type");
      if (delta_type == "text_delta") {
        std::string text = json_string(d, "text");
        if (!text.empty() && !sink->push(chat_event::text_delta(std::move(text)))) return false;
      } else if (delta_type == "input_json_delta") {
        auto it = tool_index_of_block.find(json_int(obj, "index"));
        if (it == tool_index_of_block.end()) {
          failure = core::error::bad_gateway("the model provider sent tool input for an unknown block");
          return false;
        }
        chat_event e;
        e.type = chat_event::kind::tool_call;
        e.tool_index = it->second;
        e.tool_arguments = json_string(d, "partial_json");
        if (!e.tool_arguments.empty() && !sink->push(std::move(e))) return false;
      }
    } else if (type == "message_delta") {
      if (const auto* delta = obj.if_contains("delta"); delta != nullptr && delta->is_object()) {
        std::string reason = json_string(delta->get_object(), "stop_reason");
        if (!reason.empty()) finish_reason = finish_reason_for(reason);
      }
      if (const auto* u = obj.if_contains("usage"); u != nullptr && u->is_object()) {
        usage.completion_tokens = json_int(u->get_object(), "output_tokens");
        if (u->get_object().contains("input_tokens")) usage.prompt_tokens = json_int(u->get_object(), "input_tokens");
      }
    } else if (type == "message_stop") {
      stopped = true;
    } else if (type == "error") {
      std::string message = "the model provider reported an error";
      if (const auto* err = obj.if_contains("error"); err != nullptr && err->is_object()) {
        message += ": " + json_string(err->get_object(), "message").substr(0, 300);
      }
      failure = core::error::bad_gateway(message);
      return false;
    }
    return true;  // ping, content_block_stop and unknown events
  }
};

class anthropic_provider final : public provider {
 public:
  asio::awaitable<call_outcome> chat(const call_target& target, const chat_request& request,
                                     event_sink& sink) override {
    auto state = std::make_shared<stream_state>();
    state->sink = &sink;
    net::http_header_list headers = {
        {"Content-Type", "application/json"}, {"Accept", "text/event-stream"}, {"anthropic-version", "2023-06-01"}};
    if (!target.api_key.empty()) headers.emplace_back("x-api-key", target.api_key);
    auto req =
        provider_request(target, "/messages", json::serialize(request_body(target, request)), std::move(headers));
    // Anthropic's 529 ("overloaded") is >= 500: retryable like a 503.
    // Named, not a temporary in the co_await: g++ 12 mishandles those (docs/coroutines.md).
    provider_event_handler on_event = [state](const net::sse_parser::event& ev, std::optional<core::error>& failure) {
      return state->on_event(ev, failure);
    };
    auto outcome = co_await stream_provider_events(std::move(req), std::move(on_event));
    if (!outcome.status.ok()) co_return outcome;
    if (!state->stopped && state->finish_reason.empty()) {
      co_return call_outcome::failed(
          core::error::bad_gateway("the model provider's stream ended before the answer did"), true);
    }
    sink.push(chat_event::finished(state->finish_reason.empty() ? "stop" : state->finish_reason, state->usage));
    co_return call_outcome::ok();
  }
};

}  // namespace

std::unique_ptr<provider> make_anthropic_provider() {
  return std::make_unique<anthropic_provider>();
}

}  // namespace wattos::infra::llm
