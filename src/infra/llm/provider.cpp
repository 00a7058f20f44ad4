#include "infra/llm/provider.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>

#include <charconv>

#include "infra/llm/provider_http.hpp"

namespace wattos::infra::llm {

namespace json = boost::json;

boost::asio::awaitable<provider_result<embedding_result>> provider::embed(const call_target& target,
                                                                          const embedding_request&) {
  co_return provider_result<embedding_result>{
      call_outcome::failed(core::error::invalid_argument("model '" + target.model->id + "' does not make embeddings"),
                           false),
      {}};
}

boost::asio::awaitable<provider_result<rerank_result>> provider::rerank(const call_target& target,
                                                                        const rerank_request&) {
  co_return provider_result<rerank_result>{
      call_outcome::failed(core::error::invalid_argument("model '" + target.model->id + "' does not rerank"), false),
      {}};
}

boost::asio::awaitable<provider_result<speech_result>> provider::speech(const call_target& target,
                                                                        const speech_request&) {
  co_return provider_result<speech_result>{
      call_outcome::failed(core::error::invalid_argument("model '" + target.model->id + "' does not speak"), false),
      {}};
}

boost::asio::awaitable<provider_result<transcription_result>> provider::transcribe(const call_target& target,
                                                                                   const transcription_request&) {
  co_return provider_result<transcription_result>{
      call_outcome::failed(core::error::invalid_argument("model '" + target.model->id + "' does not transcribe"),
                           false),
      {}};
}

std::optional<std::chrono::milliseconds> retry_after_from(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  for (const auto& header : headers) {
    if (header.first == "retry-after-ms") {
      double ms = 0;
      auto [ptr, ec] = std::from_chars(header.second.data(), header.second.data() + header.second.size(), ms);
      if (ec == std::errc() && ms >= 0) return std::chrono::milliseconds(static_cast<long long>(ms));
    }
  }
  for (const auto& header : headers) {
    if (header.first == "retry-after") {
      double seconds = 0;
      auto [ptr, ec] = std::from_chars(header.second.data(), header.second.data() + header.second.size(), seconds);
      // An HTTP date is not honoured: the gateway's own backoff applies then.
      if (ec == std::errc() && seconds >= 0) return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
    }
  }
  return std::nullopt;
}

namespace {

// The provider's own message, when its error body has the usual {"error":{"message"}}.
std::string provider_message(std::string_view body) {
  boost::system::error_code ec;
  auto parsed = json::parse(body, ec);
  if (ec) return {};
  const auto* obj = parsed.if_object();
  if (obj == nullptr) return {};
  if (const auto* err = obj->if_contains("error")) {
    if (const auto* err_obj = err->if_object()) {
      if (const auto* msg = err_obj->if_contains("message"); msg != nullptr && msg->is_string()) {
        return std::string(msg->get_string().subview().substr(0, 300));
      }
    }
    if (err->is_string()) return std::string(err->get_string().subview().substr(0, 300));
  }
  return {};
}

}  // namespace

call_outcome outcome_for_http_status(int status, std::string_view body,
                                     std::optional<std::chrono::milliseconds> retry_after) {
  std::string detail = provider_message(body);
  std::string suffix = detail.empty() ? std::string() : ": " + detail;
  call_outcome out;
  out.http_status = status;
  out.retry_after = retry_after;
  if (status == 429) {
    out.status = core::error::rate_limited("the model provider is rate limiting" + suffix);
    out.retryable = true;
  } else if (status == 408 || status >= 500) {
    out.status = core::error::bad_gateway("the model provider failed with HTTP " + std::to_string(status) + suffix);
    out.retryable = true;
  } else if (status == 400 || status == 413 || status == 422) {
    out.status = core::error::invalid_argument("the model provider refused the request" + suffix);
  } else {
    // 401/403/404 and the rest: our configuration is wrong, not the caller's input.
    out.status = core::error::bad_gateway("the model provider answered HTTP " + std::to_string(status) + suffix);
  }
  return out;
}

net::http_client_request provider_request(const call_target& target, std::string path, std::string body,
                                          net::http_header_list headers) {
  net::http_client_request req;
  req.method = "POST";
  req.url = target.model->endpoint + path;
  req.headers = std::move(headers);
  req.body = std::move(body);
  req.connect_timeout = target.connect_timeout;
  req.first_byte_timeout = target.first_token_timeout;
  req.idle_timeout = target.idle_timeout;
  return req;
}

namespace {

constexpr std::size_t max_error_body = std::size_t{64} * 1024;

call_outcome transport_failure(const core::error& err) {
  const auto code = err.code();
  return call_outcome::failed(err, code == core::errc::unavailable || code == core::errc::deadline_exceeded);
}

struct stream_state {
  int http_status = 0;
  std::optional<std::chrono::milliseconds> retry_after;
  std::string error_body;
  net::sse_parser parser;
  std::optional<core::error> failure;
};

}  // namespace

boost::asio::awaitable<call_outcome> stream_provider_events(net::http_client_request request,
                                                            provider_event_handler on_event) {
  auto state = std::make_shared<stream_state>();
  net::http_client client(co_await boost::asio::this_coro::executor);
  net::http_client::headers_callback on_headers = [state](int status, const net::http_header_list& headers) {
    state->http_status = status;
    state->retry_after = retry_after_from(headers);
  };
  net::http_client::data_callback on_data = [state, on_event](std::string_view chunk) {
    if (state->http_status != 200) {
      if (state->error_body.size() < max_error_body) state->error_body.append(chunk.substr(0, max_error_body));
      return true;
    }
    auto st = state->parser.feed(chunk, [&](const net::sse_parser::event& ev) { return on_event(ev, state->failure); });
    if (!st.ok() && !state->failure) state->failure = st.err();
    return st.ok();
  };
  auto status = co_await client.stream(std::move(request), on_headers, on_data);
  // A malformed or error chunk: retryable, but the gateway retries only while
  // nothing reached the caller.
  if (state->failure) co_return call_outcome::failed(*state->failure, true, state->http_status);
  if (!status) co_return transport_failure(status.err());
  if (*status != 200) co_return outcome_for_http_status(*status, state->error_body, state->retry_after);
  co_return call_outcome::ok();
}

boost::asio::awaitable<call_outcome> post_provider_json(net::http_client_request request, std::string& body_out,
                                                        std::string* content_type) {
  net::http_client client(co_await boost::asio::this_coro::executor);
  auto response = co_await client.send(std::move(request));
  if (!response) co_return transport_failure(response.err());
  if (response->status != 200) {
    co_return outcome_for_http_status(response->status, response->body, retry_after_from(response->headers));
  }
  if (content_type != nullptr) *content_type = std::string(response->header("content-type"));
  body_out = std::move(response->body);
  co_return call_outcome::ok();
}

}  // namespace wattos::infra::llm
