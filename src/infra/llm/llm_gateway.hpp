// File: infra/llm/llm_gateway.hpp
//
// The LLM gateway: the one place every model call of the platform goes through.
// It owns the model registry (config `models:` plus the built-in `extractive` and
// `wattos-embed`), and around each call:
//   policy     the model exists and can do the task; data residency (a model whose
//              region is not "eu" is refused unless an admin allowed it); the caller's
//              daily token budget (llm.user_daily_tokens, llm.role_daily_tokens),
//              checked against a count in memory (no query per call);
//   privacy    PII is redacted before text goes to an external model and restored
//              in the answer (also within streamed chunks);
//   reliability retries with exponential backoff and full jitter on 429, 5xx and
//              connection errors (honouring Retry-After, capped by llm.retry_max_ms),
//              only while nothing has reached the caller; then the model's fallback
//              chain; a circuit breaker per endpoint; connect, first-token and idle
//              timeouts; a caller that goes away (the chat_stream is destroyed)
//              cancels the provider call;
//   accounting usage (tokens in and out, cost, latency, time to first token, model,
//              outcome) written per call to `llm_usage`, and queryable.
//
// Threading: calls are coroutines on the caller's executor; the stream's producer runs
// on the same executor. The gateway object is shared by all threads (its mutable
// state is behind mutexes).
//
// Example:
//   WATTOS_ASSIGN_OR_RETURN(auto stream, co_await gateway.chat(caller, std::move(request)));
//   while (auto event = co_await stream->next()) relay(*event);
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/metrics.hpp"
#include "infra/db/database.hpp"
#include "infra/db/migrations.hpp"
#include "infra/llm/provider.hpp"
#include "infra/llm/types.hpp"

namespace wattos::infra::llm {

// Who is calling, for budgets and usage. An empty user_id is an internal call
// (not budgeted, recorded as "system").
struct caller {
  std::string user_id;
  std::string api_key_id;
  std::vector<std::string> roles;
  std::string request_id;
};

struct model_view {
  const core::model_settings* settings = nullptr;
  bool residency_ok = true;  // EU, or allowed by an admin
  bool allowed_outside_eu = false;
};

// A streamed answer. Destroying it cancels the provider call.
class chat_stream {
 public:
  struct state;
  explicit chat_stream(std::shared_ptr<state> s) : state_(std::move(s)) {}
  ~chat_stream();
  chat_stream(const chat_stream&) = delete;
  chat_stream& operator=(const chat_stream&) = delete;

  // The next event; nullopt after the finish or failure event.
  boost::asio::awaitable<std::optional<chat_event>> next();
  // The model answering (after fallbacks); known once the first event arrived.
  std::string model() const;
  // Stops the provider call; next() then ends. Call on the stream's executor.
  void cancel();

 private:
  std::shared_ptr<state> state_;
};

struct usage_filter {
  std::string user_id;             // empty: everyone
  std::string model;               // empty: every model
  std::string from_day;            // YYYY-MM-DD, inclusive; empty: no bound
  std::string to_day;              // inclusive
  std::string group_by = "model";  // model, user, day
};

struct usage_summary {
  std::string key;  // the model, user or day
  std::int64_t requests = 0;
  std::int64_t failed = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  double cost = 0;
  double avg_latency_ms = 0;
};

class llm_gateway {
 public:
  static const std::vector<db::migration>& migrations();

  // Resolves API keys (api_key_env from `env`, api_key_file from disk) and loads the
  // residency allowances. The database must be migrated ("llm" component).
  static core::result<std::unique_ptr<llm_gateway>> create(const core::config& cfg, db::database& db,
                                                           const core::environment& env);
  ~llm_gateway();

  // Exports wattos_llm_requests_total{model,kind,outcome}, wattos_llm_tokens_total{model,
  // direction} and wattos_llm_latency_seconds / wattos_llm_first_token_seconds{model}.
  void export_metrics(core::metrics_registry& registry);

  // The registry, in configuration order (built-ins last unless replaced).
  std::vector<model_view> models() const;
  core::result<model_view> model(std::string_view id) const;
  const core::llm_settings& settings() const noexcept { return settings_; }

  // Starts a chat call: policy errors come back at once (not_found, invalid_argument,
  // permission_denied for residency, resource_exhausted for budgets); the provider's
  // answer, or its failure, arrives through the stream.
  boost::asio::awaitable<core::result<std::unique_ptr<chat_stream>>> chat(const caller& who, chat_request request);
  // Runs a chat call to its end and assembles the answer.
  boost::asio::awaitable<core::result<chat_result>> complete(const caller& who, chat_request request);
  boost::asio::awaitable<core::result<embedding_result>> embed(const caller& who, embedding_request request);
  boost::asio::awaitable<core::result<rerank_result>> rerank(const caller& who, rerank_request request);
  // Text to speech and speech to text (models with the speech / transcription capability).
  // Speech input is not redacted (it is meant to be spoken as written).
  boost::asio::awaitable<core::result<speech_result>> speech(const caller& who, speech_request request);
  boost::asio::awaitable<core::result<transcription_result>> transcribe(const caller& who,
                                                                        transcription_request request);

  // Admin: allow (or stop allowing) a model outside the EU.
  core::status set_allowed_outside_eu(std::string_view model_id, bool allowed, std::string_view actor);

  // Tokens the user used today (UTC), and their daily budget (0: unlimited). The count
  // is kept in memory: read from the usage table at start, raised by every usage row
  // this gateway writes, reread from the table every minute (in the background) so that
  // other processes' usage arrives too; a new UTC day starts at zero.
  core::result<std::int64_t> tokens_used_today(std::string_view user_id);
  // Rereads today's counts from the usage table now.
  core::status reload_budget_counts();
  // The daily budget of a user: the one an admin set for them if any, else the largest
  // of their roles' (llm.role_daily_tokens), else llm.user_daily_tokens; 0: unlimited.
  std::int64_t daily_budget(std::string_view user_id, const std::vector<std::string>& roles) const;
  // The same by roles alone.
  std::int64_t daily_budget(const std::vector<std::string>& roles) const;
  // Admin: a user's own daily budget (nullopt removes it: roles and default apply again).
  // Other processes see a change within a minute (with the usage counts).
  core::status set_user_budget(std::string_view user_id, std::optional<std::int64_t> daily_tokens,
                               std::string_view actor);
  core::result<std::optional<std::int64_t>> user_budget(std::string_view user_id) const;

  core::result<std::vector<usage_summary>> usage(const usage_filter& filter);

  // State of the circuit breaker of a model's endpoint: closed, open or half_open.
  std::string breaker_state(std::string_view model_id) const;

  struct impl;

 private:
  llm_gateway(const core::config& cfg, db::database& db);
  core::llm_settings settings_;
  std::unique_ptr<impl> impl_;
};

}  // namespace wattos::infra::llm
