// The key fetch of oidc.hpp, apart from the parsing and checking in oidc.cpp: the fuzz
// build (clang) compiles that file, and cannot compile coroutines with sanitizers.
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "api/identity/oidc.hpp"
#include "core/log.hpp"
#include "net/http_client.hpp"

namespace wattos::api {

namespace asio = boost::asio;

asio::awaitable<core::status> oidc_verifier::refresh_keys(std::shared_ptr<oidc_verifier> self) {
  bool running_elsewhere = false;
  {
    std::lock_guard lock(self->mutex_);
    running_elsewhere = self->fetching_;
    if (!running_elsewhere) {
      self->fetching_ = true;
      self->last_attempt_ = clock::now();
    }
  }
  if (running_elsewhere) {
    // Wait for that fetch: the handler is registered under the lock, so a fetch that
    // ends in between cannot be missed.
    auto initiate = [&self](auto handler) {
      using handler_type = decltype(handler);
      auto executor = asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
      auto shared = std::make_shared<handler_type>(std::move(handler));
      auto resume = [shared, executor] { asio::post(executor, [shared]() mutable { std::move (*shared)(); }); };
      std::lock_guard lock(self->mutex_);
      if (self->fetching_) {
        self->waiters_.push_back(std::move(resume));
      } else {
        resume();
      }
    };
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(initiate, asio::use_awaitable);
    co_return core::status{};
  }

  net::http_client client(co_await asio::this_coro::executor);
  net::http_client_request request;
  request.url = self->settings_.jwks_url;
  request.headers = {{"Accept", "application/json"}};
  request.connect_timeout = std::chrono::milliseconds(5000);
  request.first_byte_timeout = std::chrono::milliseconds(10000);
  request.idle_timeout = std::chrono::milliseconds(10000);
  request.total_timeout = std::chrono::milliseconds(15000);
  request.max_response_bytes = jwk_set::max_document_bytes;
  auto response = co_await client.send(std::move(request));
  core::status outcome;
  if (!response) {
    outcome = response.err();
  } else if (response->status != 200) {
    outcome = core::error::bad_gateway("JWKS answered HTTP " + std::to_string(response->status));
  } else if (auto keys = jwk_set::parse(response->body); !keys) {
    outcome = keys.err();
  } else {
    core::log_info("oidc: signing keys loaded", {{"keys", static_cast<std::int64_t>(keys->size())}});
    self->set_keys(std::move(keys).value());
  }
  if (!outcome.ok()) {
    core::log_warn("oidc: signing keys not fetched; the ones held stay",
                   {{"url", self->settings_.jwks_url}, {"error", outcome.err().message()}});
  }
  std::vector<std::function<void()>> waiters;
  {
    std::lock_guard lock(self->mutex_);
    self->fetching_ = false;
    waiters.swap(self->waiters_);
  }
  for (auto& resume : waiters) resume();
  co_return outcome;
}

}  // namespace wattos::api
