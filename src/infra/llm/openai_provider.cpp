// The OpenAI-compatible wire format (OpenAI, Azure OpenAI's v1 API, Mistral, vLLM,
// Ollama, llama.cpp server, LM Studio, most EU clouds). Chat is always requested as a
// stream and normalised into chat_events; usage comes from the final chunk
// (stream_options.include_usage) or is estimated from the text.
#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>

#include "core/id.hpp"
#include "infra/llm/json_wire.hpp"
#include "infra/llm/provider.hpp"
#include "infra/llm/provider_http.hpp"
#include "net/http_client.hpp"
#include "net/sse_parser.hpp"

namespace wattos::infra::llm {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

json::object request_body(const call_target& target, const chat_request& request) {
  json::object body;
  body["model"] = target.model->upstream_model;
  body["messages"] = openai_messages(request.messages);
  body["stream"] = true;
  body["stream_options"] = json::object{{"include_usage", true}};
  if (!request.tools.empty()) body["tools"] = openai_tools(request.tools);
  if (!request.tool_choice.empty()) body["tool_choice"] = openai_tool_choice(request.tool_choice);
  if (request.temperature) body["temperature"] = *request.temperature;
  if (request.top_p) body["top_p"] = *request.top_p;
  if (request.max_tokens) body["max_tokens"] = *request.max_tokens;
  if (!request.stop.empty()) {
    json::array stop;
    for (const auto& s : request.stop) stop.emplace_back(s);
    body["stop"] = std::move(stop);
  }
  return body;
}

net::http_client_request http_request(const call_target& target, std::string path, std::string body) {
  net::http_header_list headers = {{"Content-Type", "application/json"},
                                   {"Accept", "text/event-stream, application/json"}};
  if (!target.api_key.empty()) headers.emplace_back("Authorization", "Bearer " + target.api_key);
  return provider_request(target, std::move(path), std::move(body), std::move(headers));
}

// Sends a JSON request and parses a 200 answer; transport and status errors as outcomes.
template <typename T, typename Parse>
asio::awaitable<provider_result<T>> post_and_parse(net::http_client_request request, Parse parse) {
  provider_result<T> out;
  std::string body;
  out.outcome = co_await post_provider_json(std::move(request), body);
  if (!out.outcome.status.ok()) co_return out;
  auto parsed = parse(body);
  if (!parsed) {
    out.outcome = call_outcome::failed(parsed.err(), false, 200);
    co_return out;
  }
  out.value = std::move(*parsed);
  co_return out;
}

// The state of one streamed answer while its chunks arrive.
struct stream_state {
  event_sink* sink = nullptr;
  std::string finish_reason;
  std::optional<token_usage> usage;
  bool done = false;  // [DONE] seen
  std::size_t completion_bytes = 0;

  bool on_event(const net::sse_parser::event& ev, std::optional<core::error>& failure) {
    if (ev.data == "[DONE]") {
      done = true;
      return true;
    }
    boost::system::error_code ec;
    auto parsed = json::parse(ev.data, ec);
    if (ec || !parsed.is_object()) {
      failure = core::error::bad_gateway("the model provider sent a malformed stream chunk");
      return false;
    }
    const auto& chunk = parsed.get_object();
    if (const auto* err = chunk.if_contains("error")) {
      std::string message = "the model provider reported an error";
      if (const auto* obj = err->if_object()) {
        if (const auto* m = obj->if_contains("message"); m != nullptr && m->is_string()) {
          message += ": " + std::string(m->get_string().subview().substr(0, 300));
        }
      }
      failure = core::error::bad_gateway(message);
      return false;
    }
    if (const auto* u = chunk.if_contains("usage"); u != nullptr && u->is_object()) {
      token_usage parsed_usage;
      parsed_usage.prompt_tokens = json_int(u->get_object(), "prompt_tokens");
      parsed_usage.completion_tokens = json_int(u->get_object(), "completion_tokens");
      usage = parsed_usage;
    }
    const auto* choices = chunk.if_contains("choices");
    if (choices == nullptr || !choices->is_array()) return true;
    for (const auto& choice_value : choices->get_array()) {
      const auto* choice = choice_value.if_object();
      if (choice == nullptr) continue;
      if (json_int(*choice, "index") != 0) continue;  // n > 1 is not offered
      if (const auto* delta = choice->if_contains("delta"); delta != nullptr && delta->is_object()) {
        const auto& d = delta->get_object();
        if (const auto* content = d.if_contains("content");
            content != nullptr && content->is_string() && !content->get_string().empty()) {
          completion_bytes += content->get_string().size();
          if (!sink->push(chat_event::text_delta(std::string(content->get_string())))) return false;
        }
        if (const auto* calls = d.if_contains("tool_calls"); calls != nullptr && calls->is_array()) {
          for (const auto& call_value : calls->get_array()) {
            const auto* call = call_value.if_object();
            if (call == nullptr) continue;
            chat_event e;
            e.type = chat_event::kind::tool_call;
            e.tool_index = static_cast<int>(json_int(*call, "index"));
            e.tool_id = json_string(*call, "id");
            if (const auto* fn = call->if_contains("function"); fn != nullptr && fn->is_object()) {
              e.tool_name = json_string(fn->get_object(), "name");
              e.tool_arguments = json_string(fn->get_object(), "arguments");
            }
            completion_bytes += e.tool_arguments.size() + e.tool_name.size();
            if (!sink->push(std::move(e))) return false;
          }
        }
      }
      if (const auto* reason = choice->if_contains("finish_reason"); reason != nullptr && reason->is_string()) {
        finish_reason = std::string(reason->get_string());
      }
    }
    return true;
  }
};

class openai_provider final : public provider {
 public:
  asio::awaitable<call_outcome> chat(const call_target& target, const chat_request& request,
                                     event_sink& sink) override {
    auto state = std::make_shared<stream_state>();
    state->sink = &sink;
    auto req = http_request(target, "/chat/completions", json::serialize(request_body(target, request)));
    // Named, not a temporary in the co_await: g++ 12 mishandles those (docs/coroutines.md).
    provider_event_handler on_event = [state](const net::sse_parser::event& ev, std::optional<core::error>& failure) {
      return state->on_event(ev, failure);
    };
    auto outcome = co_await stream_provider_events(std::move(req), std::move(on_event));
    if (!outcome.status.ok()) co_return outcome;
    if (state->finish_reason.empty() && !state->done) {
      co_return call_outcome::failed(
          core::error::bad_gateway("the model provider's stream ended before the answer did"), true);
    }
    token_usage usage;
    if (state->usage) {
      usage = *state->usage;
    } else {
      usage.estimated = true;
      usage.prompt_tokens = estimate_prompt_tokens(request);
      usage.completion_tokens = static_cast<std::int64_t>((state->completion_bytes + 3) / 4);
    }
    sink.push(chat_event::finished(state->finish_reason.empty() ? "stop" : state->finish_reason, usage));
    co_return call_outcome::ok();
  }

  asio::awaitable<provider_result<embedding_result>> embed(const call_target& target,
                                                           const embedding_request& request) override {
    json::object body;
    body["model"] = target.model->upstream_model;
    json::array input;
    for (const auto& text : request.inputs) input.emplace_back(text);
    body["input"] = std::move(input);
    body["encoding_format"] = "float";
    if (request.dimensions) body["dimensions"] = *request.dimensions;
    const std::size_t expected = request.inputs.size();
    auto parse = [expected](std::string_view text) { return parse_embeddings_response(text, expected); };
    auto req = http_request(target, "/embeddings", json::serialize(body));
    auto out = co_await post_and_parse<embedding_result>(std::move(req), parse);
    out.value.model = target.model->id;
    co_return out;
  }

  asio::awaitable<provider_result<rerank_result>> rerank(const call_target& target,
                                                         const rerank_request& request) override {
    json::object body;
    body["model"] = target.model->upstream_model;
    body["query"] = request.query;
    json::array docs;
    for (const auto& d : request.documents) docs.emplace_back(d);
    body["documents"] = std::move(docs);
    if (request.top_n) body["top_n"] = *request.top_n;
    const std::size_t documents = request.documents.size();
    auto parse = [documents](std::string_view text) { return parse_rerank_response(text, documents); };
    auto req = http_request(target, "/rerank", json::serialize(body));
    auto out = co_await post_and_parse<rerank_result>(std::move(req), parse);
    out.value.model = target.model->id;
    co_return out;
  }

  asio::awaitable<provider_result<speech_result>> speech(const call_target& target,
                                                         const speech_request& request) override {
    json::object body{{"model", target.model->upstream_model},
                      {"input", request.input},
                      {"voice", request.voice.empty() ? std::string("alloy") : request.voice},
                      {"response_format", request.format}};
    if (request.speed) body["speed"] = *request.speed;
    provider_result<speech_result> out;
    auto req = http_request(target, "/audio/speech", json::serialize(body));
    req.max_response_bytes = 64ull << 20;
    out.outcome = co_await post_provider_json(std::move(req), out.value.audio, &out.value.content_type);
    out.value.model = target.model->id;
    out.value.usage.prompt_tokens = estimate_tokens(request.input);
    out.value.usage.estimated = true;
    co_return out;
  }

  asio::awaitable<provider_result<transcription_result>> transcribe(const call_target& target,
                                                                    const transcription_request& request) override {
    // multipart/form-data by hand: the boundary is random, so it cannot occur by
    // chance in the audio, and the file name is reduced to safe characters.
    const std::string boundary = "wattos-" + core::random_hex(16);
    std::string safe_name;
    for (char c : request.filename.substr(0, 100)) {
      safe_name += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '_';
    }
    if (safe_name.empty()) safe_name = "audio";
    auto field = [&](const std::string& name, const std::string& value) {
      return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n";
    };
    std::string body = field("model", target.model->upstream_model) + field("response_format", "json");
    if (!request.language.empty()) body += field("language", request.language.substr(0, 8));
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + safe_name +
            "\"\r\nContent-Type: application/octet-stream\r\n\r\n";
    body += request.audio;
    body += "\r\n--" + boundary + "--\r\n";
    net::http_header_list headers = {{"Content-Type", "multipart/form-data; boundary=" + boundary},
                                     {"Accept", "application/json"}};
    if (!target.api_key.empty()) headers.emplace_back("Authorization", "Bearer " + target.api_key);
    auto req = provider_request(target, "/audio/transcriptions", std::move(body), std::move(headers));
    auto parse = [](std::string_view text) -> core::result<transcription_result> {
      boost::system::error_code ec;
      auto parsed = json::parse(text, ec);
      if (ec || !parsed.is_object() || !parsed.get_object().contains("text") ||
          !parsed.get_object().at("text").is_string()) {
        return core::error::bad_gateway("the transcription provider sent no text");
      }
      transcription_result r;
      r.text = std::string(parsed.get_object().at("text").get_string());
      r.usage.completion_tokens = estimate_tokens(r.text);
      r.usage.estimated = true;
      return r;
    };
    auto out = co_await post_and_parse<transcription_result>(std::move(req), parse);
    out.value.model = target.model->id;
    co_return out;
  }
};

}  // namespace

std::unique_ptr<provider> make_openai_provider() {
  return std::make_unique<openai_provider>();
}

}  // namespace wattos::infra::llm
