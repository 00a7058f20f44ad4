// File: infra/llm/provider.hpp
//
// The interface every model provider implements, and the factories of the built-in
// ones. A provider speaks one wire format (OpenAI-compatible, Anthropic Messages) or
// runs in process (`extractive`, the `embedder`). It makes exactly one attempt; the
// gateway (llm_gateway.hpp) owns retries, fallbacks, circuit breakers and policy, and
// decides from the `call_outcome` whether another attempt may help.
//
// A chat call pushes events into an `event_sink` as they arrive and ends with a
// `finish` event (outcome ok) or returns an error without pushing a failure event:
// the gateway decides how the failure reaches the client.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/config.hpp"
#include "core/error.hpp"
#include "infra/llm/types.hpp"

namespace wattos::infra::llm {

struct call_target {
  const core::model_settings* model = nullptr;
  std::string api_key;  // resolved from api_key_env / api_key_file; never logged
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds first_token_timeout{60000};
  std::chrono::milliseconds idle_timeout{60000};
};

class event_sink {
 public:
  virtual ~event_sink() = default;
  // Hands one event on; false once the consumer is gone (the provider stops then).
  virtual bool push(chat_event event) = 0;
};

struct call_outcome {
  core::status status;                                   // ok: a finish event was pushed
  int http_status = 0;                                   // the provider's status when it answered with an error
  std::optional<std::chrono::milliseconds> retry_after;  // the provider's advice (429, 503)
  bool retryable = false;                                // 429, 5xx, connection failures, timeouts

  static call_outcome ok() { return {}; }
  static call_outcome failed(core::error err, bool retry, int http = 0) {
    call_outcome o;
    o.status = std::move(err);
    o.retryable = retry;
    o.http_status = http;
    return o;
  }
};

template <typename T>
struct provider_result {
  call_outcome outcome;
  T value;
};

class provider {
 public:
  virtual ~provider() = default;
  virtual boost::asio::awaitable<call_outcome> chat(const call_target& target, const chat_request& request,
                                                    event_sink& sink) = 0;
  virtual boost::asio::awaitable<provider_result<embedding_result>> embed(const call_target& target,
                                                                          const embedding_request& request);
  virtual boost::asio::awaitable<provider_result<rerank_result>> rerank(const call_target& target,
                                                                        const rerank_request& request);
  virtual boost::asio::awaitable<provider_result<speech_result>> speech(const call_target& target,
                                                                        const speech_request& request);
  virtual boost::asio::awaitable<provider_result<transcription_result>> transcribe(
      const call_target& target, const transcription_request& request);
};

// OpenAI-compatible: POST {endpoint}/chat/completions (streamed), /embeddings, /rerank,
// /audio/speech, /audio/transcriptions (multipart).
std::unique_ptr<provider> make_openai_provider();
// Anthropic Messages: POST {endpoint}/messages (streamed), tool use.
std::unique_ptr<provider> make_anthropic_provider();
// The offline `extractive` model (see extractive.hpp); `word_delay` paces the stream.
std::unique_ptr<provider> make_extractive_provider(std::chrono::milliseconds word_delay);
// The offline embedder (see embedder.hpp); dimensions from the model (default 384).
std::unique_ptr<provider> make_embedder_provider();

// Shared by the HTTP providers: how an HTTP error status is classified.
call_outcome outcome_for_http_status(int status, std::string_view body,
                                     std::optional<std::chrono::milliseconds> retry_after);
// Parses Retry-After (seconds) or retry-after-ms from lower-case response headers.
std::optional<std::chrono::milliseconds> retry_after_from(
    const std::vector<std::pair<std::string, std::string>>& headers);

}  // namespace wattos::infra::llm
