#include "infra/llm/provider.hpp"

#include <boost/json.hpp>

#include <charconv>

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

}  // namespace wattos::infra::llm
