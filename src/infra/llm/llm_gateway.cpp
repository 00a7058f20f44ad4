#include "infra/llm/llm_gateway.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <random>
#include <shared_mutex>

#include "core/clock.hpp"
#include "core/id.hpp"
#include "core/log.hpp"
#include "infra/db/offload.hpp"
#include "infra/llm/image_pii.hpp"
#include "infra/llm/json_wire.hpp"
#include "infra/llm/pii.hpp"
#include "infra/llm/token_budget.hpp"

namespace wattos::infra::llm {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

// How often the in-memory token counts are reread from the usage table, which picks up
// the rows of other processes that share the store.
constexpr std::chrono::seconds budget_reload_interval{60};

// ---------------------------------------------------------------------------------
// The stream handed to the caller: a queue filled by the producer coroutine.

struct chat_stream::state {
  explicit state(asio::any_io_executor ex) : wake(ex) {}
  std::deque<chat_event> queue;
  bool closed = false;     // the producer pushed its last event
  bool cancelled = false;  // the consumer is gone
  std::string model;
  asio::steady_timer wake;
  asio::cancellation_signal cancel;

  void push(chat_event e) {
    queue.push_back(std::move(e));
    wake.cancel();
  }
  void close() {
    closed = true;
    wake.cancel();
  }
};

chat_stream::~chat_stream() {
  if (!state_->closed) {
    state_->cancelled = true;
    state_->cancel.emit(asio::cancellation_type::terminal);
  }
}

asio::awaitable<std::optional<chat_event>> chat_stream::next() {
  while (state_->queue.empty() && !state_->closed) {
    state_->wake.expires_at(asio::steady_timer::time_point::max());
    boost::system::error_code ec;
    co_await state_->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (state_->queue.empty()) co_return std::nullopt;
  chat_event e = std::move(state_->queue.front());
  state_->queue.pop_front();
  co_return e;
}

std::string chat_stream::model() const {
  return state_->model;
}

void chat_stream::cancel() {
  if (state_->closed || state_->cancelled) return;
  state_->cancelled = true;
  state_->cancel.emit(asio::cancellation_type::terminal);
  state_->wake.cancel();
}

// ---------------------------------------------------------------------------------

namespace {

struct breaker {
  int failures = 0;
  clock_type::time_point open_until{};
  bool trial_in_flight = false;
};

bool has_capability(const core::model_settings& m, std::string_view cap) {
  return std::find(m.capabilities.begin(), m.capabilities.end(), cap) != m.capabilities.end();
}

bool in_eu(const core::model_settings& m) {
  std::string r = m.region;
  std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return std::tolower(c); });
  return r == "eu" || r == "local";
}

std::vector<core::model_settings> registry_from(const core::config& cfg) {
  std::vector<core::model_settings> out = cfg.models;
  auto present = [&](std::string_view id) {
    return std::any_of(out.begin(), out.end(), [&](const auto& m) { return m.id == id; });
  };
  if (!present("extractive")) {
    core::model_settings m;
    m.id = "extractive";
    m.display_name = "Extractive (offline, cites its sources)";
    m.provider = "extractive";
    m.upstream_model = "extractive";
    m.region = "local";
    m.external = false;
    m.context_window = 32768;
    m.capabilities = {"chat"};
    out.push_back(std::move(m));
  }
  if (!present("wattos-embed")) {
    core::model_settings m;
    m.id = "wattos-embed";
    m.display_name = "WattOS offline embedder (384-d)";
    m.provider = "embedder";
    m.upstream_model = "wattos-embed";
    m.region = "local";
    m.external = false;
    m.context_window = 8192;
    m.capabilities = {"embeddings"};
    m.dimensions = 384;
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

struct llm_gateway::impl {
  impl(const core::config& cfg, db::database& database)
      : db(database),
        settings(cfg.llm),
        models(registry_from(cfg)),
        openai(make_openai_provider()),
        anthropic(make_anthropic_provider()),
        extractive(make_extractive_provider(std::chrono::milliseconds(cfg.llm.extractive_delay_ms))),
        embedder(make_embedder_provider()) {}

  db::database& db;
  core::llm_settings settings;
  std::vector<core::model_settings> models;
  std::map<std::string, std::string, std::less<>> api_keys;
  std::map<std::string, std::int64_t> role_budgets;
  std::unique_ptr<provider> openai, anthropic, extractive, embedder;

  mutable std::mutex mutex;  // guards allowed_outside_eu, user_budgets, breakers, rng
  std::map<std::string, bool, std::less<>> allowed_outside_eu;
  // Daily budgets an admin set for single users (0: unlimited); they win over the
  // roles' and the default. Reread with the usage counts, for other processes' changes.
  std::map<std::string, std::int64_t, std::less<>> user_budgets;
  std::map<std::string, breaker, std::less<>> breakers;
  std::mt19937_64 rng{std::random_device{}()};

  // Budgets: tokens per user today, counted in memory (token_budget.hpp). Each usage
  // row and its count happen under usage_writes shared; a reload from the store takes
  // it exclusively, so that a row is either in the reloaded sum or counted after it.
  daily_token_counter budget_used;
  std::shared_mutex usage_writes;
  std::mutex reload_mutex;  // guards reloading, last_reload
  std::condition_variable reload_done;
  bool reloading = false;
  clock_type::time_point last_reload{};

  // OCR of images bound for external models (image_pii.hpp): CPU-bound, about 0.3 s per
  // page-sized image, so threads of their own (llm.image_check_threads) keep it off the
  // I/O threads and the store's pool, each with one tesseract engine. Started on first
  // use; joined with the gateway, so the engines end before tesseract's process-wide
  // caches do. At most llm.image_check_queue requests are in their check at once: a
  // burst is refused, not queued for minutes.
  std::once_flag image_pool_started;
  std::unique_ptr<asio::thread_pool> image_pool;
  std::atomic<int> image_checks{0};
  asio::thread_pool& image_check_pool() {
    std::call_once(image_pool_started, [this] {
      image_pool =
          std::make_unique<asio::thread_pool>(static_cast<std::size_t>(std::max(1, settings.image_check_threads)));
    });
    return *image_pool;
  }

  core::metric_family<core::counter>* requests_metric = nullptr;
  core::metric_family<core::counter>* tokens_metric = nullptr;
  core::metric_family<core::histogram>* latency_metric = nullptr;
  core::metric_family<core::histogram>* first_token_metric = nullptr;

  const core::model_settings* find(std::string_view id) const {
    for (const auto& m : models) {
      if (m.id == id) return &m;
    }
    return nullptr;
  }

  provider& provider_for(const core::model_settings& m) {
    if (m.provider == "openai") return *openai;
    if (m.provider == "anthropic") return *anthropic;
    if (m.provider == "embedder") return *embedder;
    return *extractive;
  }

  model_view view(const core::model_settings& m) const {
    std::lock_guard lock(mutex);
    model_view v;
    v.settings = &m;
    auto it = allowed_outside_eu.find(m.id);
    v.allowed_outside_eu = it != allowed_outside_eu.end() && it->second;
    v.residency_ok = in_eu(m) || v.allowed_outside_eu;
    return v;
  }

  call_target target_for(const core::model_settings& m) const {
    call_target t;
    t.model = &m;
    if (auto it = api_keys.find(m.id); it != api_keys.end()) t.api_key = it->second;
    t.connect_timeout = std::chrono::milliseconds(settings.connect_timeout_ms);
    t.first_token_timeout = std::chrono::milliseconds(settings.first_token_timeout_ms);
    t.idle_timeout = std::chrono::milliseconds(settings.idle_timeout_ms);
    return t;
  }

  // Built-in providers have no endpoint and no breaker.
  bool breaker_allows(const core::model_settings& m) {
    if (m.endpoint.empty()) return true;
    std::lock_guard lock(mutex);
    auto& b = breakers[m.endpoint];
    if (b.failures < settings.breaker_failures) return true;
    if (clock_type::now() < b.open_until || b.trial_in_flight) return false;
    b.trial_in_flight = true;  // half open: one trial call
    return true;
  }
  void breaker_record(const core::model_settings& m, bool success) {
    if (m.endpoint.empty()) return;
    std::lock_guard lock(mutex);
    auto& b = breakers[m.endpoint];
    b.trial_in_flight = false;
    if (success) {
      b.failures = 0;
      return;
    }
    if (++b.failures >= settings.breaker_failures) {
      b.open_until = clock_type::now() + std::chrono::milliseconds(settings.breaker_open_ms);
      core::log_warn("circuit breaker open", {{"endpoint", m.endpoint}, {"failures", b.failures}});
    }
  }

  std::chrono::milliseconds backoff(int attempt, std::optional<std::chrono::milliseconds> advised) {
    const auto cap = std::chrono::milliseconds(settings.retry_max_ms);
    if (advised) return std::min(*advised, cap);
    const double ceiling =
        std::min<double>(static_cast<double>(cap.count()), settings.retry_base_ms * std::pow(2.0, attempt));
    std::lock_guard lock(mutex);
    std::uniform_real_distribution<double> full_jitter(0, ceiling);
    return std::chrono::milliseconds(static_cast<long long>(full_jitter(rng)));
  }

  // The primary model and its fallbacks, each checked for the capability.
  std::vector<const core::model_settings*> chain(const core::model_settings& primary, std::string_view capability) {
    std::vector<const core::model_settings*> out{&primary};
    for (const auto& id : primary.fallbacks) {
      const auto* m = find(id);
      if (m != nullptr && has_capability(*m, capability)) out.push_back(m);
    }
    return out;
  }

  void record_usage(const caller& who, std::string_view requested, std::string_view model, std::string_view kind,
                    const token_usage& usage, double latency_ms, double ttft_ms, std::string_view outcome,
                    std::string_view error_message) {
    const auto* m = find(model);
    const double cost = m == nullptr ? 0
                                     : (static_cast<double>(usage.prompt_tokens) * m->price_in_per_1m +
                                        static_cast<double>(usage.completion_tokens) * m->price_out_per_1m) /
                                           1e6;
    const std::string day = core::utc_today();
    const std::string user = who.user_id.empty() ? std::string("system") : who.user_id;
    {
      std::shared_lock writing(usage_writes);
      auto st = db.execute(
          "INSERT INTO llm_usage (id, created_at, day, user_id, api_key_id, requested_model, model, kind, "
          "prompt_tokens, completion_tokens, estimated, cost, latency_ms, ttft_ms, outcome, error, request_id) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {core::new_uuid_v7(), core::utc_now_iso(), day, user, who.api_key_id, std::string(requested),
           std::string(model), std::string(kind), usage.prompt_tokens, usage.completion_tokens,
           std::int64_t{usage.estimated ? 1 : 0}, cost, latency_ms, ttft_ms, std::string(outcome),
           std::string(error_message.substr(0, 500)), who.request_id});
      if (st) {
        budget_used.add(user, day, usage.prompt_tokens + usage.completion_tokens);
      } else {
        core::log_error("usage not recorded", {{"error", st.err().message()}, {"request_id", who.request_id}});
      }
    }
    if (requests_metric != nullptr) {
      const std::string model_name(model);
      requests_metric->with({model_name, std::string(kind), std::string(outcome)}).inc();
      tokens_metric->with({model_name, "in"}).inc(static_cast<double>(usage.prompt_tokens));
      tokens_metric->with({model_name, "out"}).inc(static_cast<double>(usage.completion_tokens));
      latency_metric->with({model_name, std::string(kind)}).observe(latency_ms / 1000.0);
      if (kind == "chat" && outcome == "ok") first_token_metric->with({model_name}).observe(ttft_ms / 1000.0);
    }
  }

  core::status reload_user_budgets() {
    WATTOS_ASSIGN_OR_RETURN(auto rows, db.execute("SELECT user_id, daily_tokens FROM llm_user_budgets", {}));
    std::map<std::string, std::int64_t, std::less<>> loaded;
    for (const auto& r : rows.rows) {
      WATTOS_ASSIGN_OR_RETURN(auto user, r.get_text(0));
      WATTOS_ASSIGN_OR_RETURN(auto tokens, r.get_int(1));
      loaded[user] = tokens;
    }
    std::lock_guard lock(mutex);
    user_budgets = std::move(loaded);
    return {};
  }

  // Today's tokens per user as the store has them (rows of every process), and the
  // budgets set per user.
  core::status reload_budget_counts() {
    WATTOS_RETURN_IF_ERROR(reload_user_budgets());
    const std::string day = core::utc_today();
    std::unique_lock writing(usage_writes);
    WATTOS_ASSIGN_OR_RETURN(auto rows,
                            db.execute("SELECT user_id, CAST(COALESCE(SUM(prompt_tokens + completion_tokens), "
                                       "0) AS BIGINT) FROM llm_usage WHERE day = ? GROUP BY user_id",
                                       {day}));
    daily_token_counter::totals counts;
    for (const auto& r : rows.rows) {
      WATTOS_ASSIGN_OR_RETURN(auto user, r.get_text(0));
      WATTOS_ASSIGN_OR_RETURN(auto tokens, r.get_int(1));
      counts[user] = tokens;
    }
    budget_used.reset(day, std::move(counts));
    return {};
  }

  // Every budget_reload_interval, a reload on the store's threads (not this one), so
  // that the usage other processes record reaches this one's budget checks.
  void reload_budget_counts_when_due() {
    const auto now = clock_type::now();
    {
      std::lock_guard lock(reload_mutex);
      if (reloading || now - last_reload < budget_reload_interval) return;
      reloading = true;
      last_reload = now;
    }
    asio::post(db::blocking_pool(), [this] {
      if (auto st = reload_budget_counts(); !st.ok()) {
        core::log_warn("token budgets: usage not reread from the store", {{"error", st.err().message()}});
      }
      std::lock_guard lock(reload_mutex);
      reloading = false;
      reload_done.notify_all();
    });
  }

  ~impl() {
    std::unique_lock lock(reload_mutex);
    reload_done.wait(lock, [this] { return !reloading; });
  }
};

namespace {

// Writes a usage row on the store's own threads (it waits for the writer; the token
// relay on this I/O thread should not).
template <typename Write>
asio::awaitable<void> record_usage_off_thread(Write write) {
  // The write must happen even when the call was cancelled: clear that state first.
  co_await asio::this_coro::reset_cancellation_state();
  auto task = [w = std::move(write)]() mutable {
    w();
    return true;
  };
  co_await db::offload(std::move(task));
}

// Rewrites every text of a request through the redactor; the images become their
// checked versions (`image_urls`: one per image, in message order).
chat_request redacted(const chat_request& request, pii_redactor& redactor, const std::vector<std::string>& image_urls) {
  chat_request out = request;
  std::size_t next_image = 0;
  for (auto& m : out.messages) {
    for (auto& image : m.images) {
      if (next_image < image_urls.size()) image.url = image_urls[next_image++];
    }
    if (m.images.empty()) {
      m.content = redactor.redact(m.content);
    } else {
      // Piece by piece, so each image keeps its place in the (now longer) text.
      std::string text_out;
      std::vector<image_input> placed;
      for_each_part(
          m.content, m.images, [&](std::string_view text) { text_out += redactor.redact(text); },
          [&](const image_input& image) {
            placed.push_back(image);
            placed.back().at = text_out.size();
          });
      m.content = std::move(text_out);
      m.images = std::move(placed);
    }
    for (auto& c : m.tool_calls) c.arguments = redactor.redact(c.arguments);
  }
  return out;
}

// Sits between a provider and the stream: restores PII placeholders, notes whether
// anything reached the caller (after that, no retry), times the first token.
class relay_sink final : public event_sink {
 public:
  relay_sink(chat_stream::state& s, const pii_redactor* redactor, clock_type::time_point started)
      : state_(s), redactor_(redactor), started_(started) {}

  bool push(chat_event e) override {
    if (state_.cancelled) return false;
    if (!first_token_ && (e.type == chat_event::kind::text || e.type == chat_event::kind::tool_call)) {
      first_token_ = std::chrono::duration<double, std::milli>(clock_type::now() - started_).count();
    }
    if (redactor_ != nullptr && !redactor_->replacements().empty()) {
      if (e.type == chat_event::kind::text) {
        e.text = text_restorer().feed(e.text);
        if (e.text.empty()) return true;
      } else if (e.type == chat_event::kind::tool_call) {
        e.tool_arguments = redactor_->restore(e.tool_arguments);
      } else if (e.type == chat_event::kind::finish && text_restorer_) {
        std::string rest = text_restorer_->finish();
        if (!rest.empty()) deliver(chat_event::text_delta(std::move(rest)));
      }
    }
    if (e.type == chat_event::kind::finish) usage_ = e.usage;
    deliver(std::move(e));
    return true;
  }

  bool delivered_any() const noexcept { return delivered_; }
  std::optional<double> first_token_ms() const noexcept { return first_token_; }
  const token_usage& usage() const noexcept { return usage_; }
  std::size_t text_bytes() const noexcept { return text_bytes_; }

 private:
  void deliver(chat_event e) {
    delivered_ = true;
    if (e.type == chat_event::kind::text) text_bytes_ += e.text.size();
    state_.push(std::move(e));
  }
  pii_restorer& text_restorer() {
    if (!text_restorer_) text_restorer_.emplace(*redactor_);
    return *text_restorer_;
  }

  chat_stream::state& state_;
  const pii_redactor* redactor_;
  clock_type::time_point started_;
  std::optional<pii_restorer> text_restorer_;
  bool delivered_ = false;
  std::optional<double> first_token_;
  token_usage usage_;
  std::size_t text_bytes_ = 0;
};

asio::awaitable<bool> sleep_for(std::chrono::milliseconds delay) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(delay);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

}  // namespace

// ---------------------------------------------------------------------------------

const std::vector<db::migration>& llm_gateway::migrations() {
  static const std::vector<db::migration> list = {
      {1, "usage",
       "CREATE TABLE llm_usage ("
       " id TEXT PRIMARY KEY, created_at TEXT NOT NULL, day TEXT NOT NULL, user_id TEXT NOT NULL,"
       " api_key_id TEXT NOT NULL, requested_model TEXT NOT NULL, model TEXT NOT NULL, kind TEXT NOT NULL,"
       " prompt_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL, estimated INTEGER NOT NULL,"
       " cost DOUBLE PRECISION NOT NULL, latency_ms DOUBLE PRECISION NOT NULL, ttft_ms DOUBLE PRECISION NOT NULL,"
       " outcome TEXT NOT NULL, error TEXT NOT NULL, request_id TEXT NOT NULL);"
       "CREATE INDEX llm_usage_user_day ON llm_usage (user_id, day);"
       "CREATE INDEX llm_usage_day ON llm_usage (day)",
       ""},
      {2, "model_policy",
       "CREATE TABLE llm_model_policy (model_id TEXT PRIMARY KEY, allow_outside_eu INTEGER NOT NULL,"
       " updated_by TEXT NOT NULL, updated_at TEXT NOT NULL)",
       ""},
      {3, "user_budgets",
       "CREATE TABLE llm_user_budgets (user_id TEXT PRIMARY KEY, daily_tokens BIGINT NOT NULL,"
       " updated_by TEXT NOT NULL, updated_at TEXT NOT NULL)",
       ""},
  };
  return list;
}

llm_gateway::llm_gateway(const core::config& cfg, db::database& db)
    : settings_(cfg.llm), impl_(std::make_unique<impl>(cfg, db)) {}

llm_gateway::~llm_gateway() = default;

void llm_gateway::export_metrics(core::metrics_registry& registry) {
  impl_->requests_metric =
      &registry.counter_family("wattos_llm_requests_total", "Model calls by outcome", {"model", "kind", "outcome"});
  impl_->tokens_metric = &registry.counter_family("wattos_llm_tokens_total", "Tokens sent to and received from models",
                                                  {"model", "direction"});
  impl_->latency_metric = &registry.histogram_family("wattos_llm_latency_seconds", "Duration of model calls",
                                                     {"model", "kind"}, core::default_latency_buckets());
  impl_->first_token_metric =
      &registry.histogram_family("wattos_llm_first_token_seconds", "Time to the first token of streamed answers",
                                 {"model"}, core::default_latency_buckets());
}

core::result<std::unique_ptr<llm_gateway>> llm_gateway::create(const core::config& cfg, db::database& db,
                                                               const core::environment& env) {
  std::unique_ptr<llm_gateway> gw(new llm_gateway(cfg, db));
  auto& im = *gw->impl_;
  for (const auto& m : im.models) {
    if (!m.api_key_env.empty()) {
      auto it = env.find(m.api_key_env);
      if (it == env.end() || it->second.empty()) {
        return core::error::invalid_argument("model '" + m.id + "': environment variable " + m.api_key_env +
                                             " (its API key) is not set");
      }
      im.api_keys[m.id] = it->second;
    } else if (!m.api_key_file.empty()) {
      std::ifstream in(m.api_key_file);
      std::string key;
      if (!in || !std::getline(in, key) || key.empty()) {
        return core::error::invalid_argument("model '" + m.id + "': cannot read its API key from api_key_file");
      }
      while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
      im.api_keys[m.id] = key;
    }
  }
  WATTOS_ASSIGN_OR_RETURN(im.role_budgets, core::parse_role_budgets(cfg.llm.role_daily_tokens));
  WATTOS_ASSIGN_OR_RETURN(auto rows, db.execute("SELECT model_id, allow_outside_eu FROM llm_model_policy", {}));
  for (const auto& r : rows.rows) {
    WATTOS_ASSIGN_OR_RETURN(auto id, r.get_text(0));
    WATTOS_ASSIGN_OR_RETURN(auto allowed, r.get_int(1));
    im.allowed_outside_eu[id] = allowed != 0;
  }
  WATTOS_RETURN_IF_ERROR(im.reload_budget_counts());
  im.last_reload = clock_type::now();
  return gw;
}

std::vector<model_view> llm_gateway::models() const {
  std::vector<model_view> out;
  for (const auto& m : impl_->models) out.push_back(impl_->view(m));
  return out;
}

core::result<model_view> llm_gateway::model(std::string_view id) const {
  const auto* m = impl_->find(id);
  if (m == nullptr) return core::error::not_found("model '" + std::string(id.substr(0, 100)) + "' does not exist");
  return impl_->view(*m);
}

std::int64_t llm_gateway::daily_budget(std::string_view user_id, const std::vector<std::string>& roles) const {
  {
    std::lock_guard lock(impl_->mutex);
    if (auto it = impl_->user_budgets.find(user_id); it != impl_->user_budgets.end()) return it->second;
  }
  return daily_budget(roles);
}

core::result<std::optional<std::int64_t>> llm_gateway::user_budget(std::string_view user_id) const {
  WATTOS_ASSIGN_OR_RETURN(auto rows, impl_->db.execute("SELECT daily_tokens FROM llm_user_budgets WHERE user_id = ?",
                                                       {std::string(user_id)}));
  if (rows.rows.empty()) return std::optional<std::int64_t>();
  WATTOS_ASSIGN_OR_RETURN(auto tokens, rows.rows.front().get_int(0));
  return std::optional<std::int64_t>(tokens);
}

core::status llm_gateway::set_user_budget(std::string_view user_id, std::optional<std::int64_t> daily_tokens,
                                          std::string_view actor) {
  if (user_id.empty() || user_id.size() > 200) return core::error::invalid_argument("a user id has 1 to 200 bytes");
  if (daily_tokens && *daily_tokens < 0) return core::error::invalid_argument("daily_tokens must be 0 or more");
  const std::string id(user_id);
  WATTOS_RETURN_IF_ERROR(impl_->db.transaction([&](db::connection& c) -> core::status {
    WATTOS_RETURN_IF_ERROR(c.execute("DELETE FROM llm_user_budgets WHERE user_id = ?", {id}));
    if (daily_tokens) {
      WATTOS_RETURN_IF_ERROR(
          c.execute("INSERT INTO llm_user_budgets (user_id, daily_tokens, updated_by, updated_at) VALUES (?, ?, ?, ?)",
                    {id, *daily_tokens, std::string(actor), core::utc_now_iso()}));
    }
    return {};
  }));
  std::lock_guard lock(impl_->mutex);
  if (daily_tokens) {
    impl_->user_budgets[id] = *daily_tokens;
  } else {
    impl_->user_budgets.erase(id);
  }
  return {};
}

std::int64_t llm_gateway::daily_budget(const std::vector<std::string>& roles) const {
  std::int64_t best = -1;
  for (const auto& role : roles) {
    auto it = impl_->role_budgets.find(role);
    if (it == impl_->role_budgets.end()) continue;
    if (it->second == 0) return 0;  // a role without a limit
    best = std::max(best, it->second);
  }
  return best >= 0 ? best : settings_.user_daily_tokens;
}

core::result<std::int64_t> llm_gateway::tokens_used_today(std::string_view user_id) {
  impl_->reload_budget_counts_when_due();
  return impl_->budget_used.used(user_id, core::utc_today());
}

core::status llm_gateway::reload_budget_counts() {
  return impl_->reload_budget_counts();
}

core::status llm_gateway::set_allowed_outside_eu(std::string_view model_id, bool allowed, std::string_view actor) {
  if (impl_->find(model_id) == nullptr) {
    return core::error::not_found("model '" + std::string(model_id.substr(0, 100)) + "' does not exist");
  }
  const std::string id(model_id);
  WATTOS_RETURN_IF_ERROR(impl_->db.transaction([&](db::connection& c) -> core::status {
    WATTOS_RETURN_IF_ERROR(c.execute("DELETE FROM llm_model_policy WHERE model_id = ?", {id}));
    WATTOS_RETURN_IF_ERROR(c.execute(
        "INSERT INTO llm_model_policy (model_id, allow_outside_eu, updated_by, updated_at) VALUES (?, ?, ?, ?)",
        {id, std::int64_t{allowed ? 1 : 0}, std::string(actor), core::utc_now_iso()}));
    return {};
  }));
  std::lock_guard lock(impl_->mutex);
  impl_->allowed_outside_eu[id] = allowed;
  return {};
}

std::string llm_gateway::breaker_state(std::string_view model_id) const {
  const auto* m = impl_->find(model_id);
  if (m == nullptr || m->endpoint.empty()) return "closed";
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->breakers.find(m->endpoint);
  if (it == impl_->breakers.end() || it->second.failures < impl_->settings.breaker_failures) return "closed";
  return clock_type::now() < it->second.open_until ? "open" : "half_open";
}

namespace {

// Policy checks shared by every kind of call; returns the model to start with.
core::result<const core::model_settings*> admit(llm_gateway& gw, const llm_gateway::impl& im, const caller& who,
                                                std::string_view model_id, std::string_view capability) {
  const auto* m = im.find(model_id);
  if (m == nullptr)
    return core::error::not_found("model '" + std::string(model_id.substr(0, 100)) + "' does not exist");
  if (!has_capability(*m, capability)) {
    return core::error::invalid_argument("model '" + m->id + "' does not offer " + std::string(capability));
  }
  if (!im.view(*m).residency_ok) {
    return core::error::permission_denied("model '" + m->id + "' processes data outside the EU (region " + m->region +
                                          "); an administrator must allow it first");
  }
  if (!who.user_id.empty()) {
    const std::int64_t budget = gw.daily_budget(who.user_id, who.roles);
    if (budget > 0) {
      WATTOS_ASSIGN_OR_RETURN(auto used, gw.tokens_used_today(who.user_id));
      if (used >= budget) {
        return core::error::resource_exhausted("the daily token budget of " + std::to_string(budget) +
                                               " tokens is used up; it renews at midnight UTC");
      }
    }
  }
  return m;
}

}  // namespace

namespace {

// The request's images as they may leave for an external model, or why they may not.
struct checked_images {
  std::vector<std::string> urls;       // one per image, in message order
  std::optional<core::error> refused;  // set: no external model gets this request
};

// A request's place among the image checks (llm.image_check_queue), held from the start of
// chat() to the end of its check. Taken before the first suspension, so that requests
// that arrive together are counted together.
class image_check_slot {
 public:
  // No slot when `in_flight` is null (the request needs no check).
  image_check_slot(std::atomic<int>* in_flight, int limit) {
    if (in_flight == nullptr) return;
    if (in_flight->fetch_add(1, std::memory_order_acq_rel) < limit) {
      in_flight_ = in_flight;
    } else {
      in_flight->fetch_sub(1, std::memory_order_acq_rel);
    }
  }
  image_check_slot(const image_check_slot&) = delete;
  image_check_slot& operator=(const image_check_slot&) = delete;
  ~image_check_slot() { release(); }
  bool held() const noexcept { return in_flight_ != nullptr; }
  void release() noexcept {
    if (in_flight_ != nullptr) in_flight_->fetch_sub(1, std::memory_order_acq_rel);
    in_flight_ = nullptr;
  }

 private:
  std::atomic<int>* in_flight_ = nullptr;
};

// Each image of the request as it may leave for an external model (personal data
// painted over, metadata cut away), in message order; fails on the first image that cannot be checked.
asio::awaitable<core::result<std::vector<std::string>>> check_images_off_thread(asio::thread_pool& pool,
                                                                                const chat_request& request,
                                                                                const caller& who) {
  auto work = [&request, &who]() -> core::result<std::vector<std::string>> {
    std::vector<std::string> urls;
    int regions = 0;
    int without_metadata = 0;
    for (const auto& m : request.messages) {
      for (const auto& image : m.images) {
        WATTOS_ASSIGN_OR_RETURN(auto checked, redact_image_pii(image.url));
        regions += checked.regions;
        without_metadata += checked.metadata_removed ? 1 : 0;
        urls.push_back(std::move(checked.url));
      }
    }
    if (regions > 0 || without_metadata > 0) {
      core::log_info("personal data removed from images", {{"words", regions},
                                                           {"metadata_removed", without_metadata},
                                                           {"images", urls.size()},
                                                           {"request_id", who.request_id}});
    }
    return urls;
  };
  auto urls = co_await db::offload_on(pool, std::move(work));
  co_return urls;
}

// Produces one streamed answer: attempts, retries, fallbacks, usage.
asio::awaitable<void> run_chat(llm_gateway::impl* im, std::shared_ptr<chat_stream::state> state, caller who,
                               chat_request request, const core::model_settings* primary, checked_images images) {
  // A cancelled call (the caller left) still records its usage and closes the stream:
  // cancellation ends the provider call and the backoff sleeps, never this bookkeeping.
  co_await asio::this_coro::throw_if_cancelled(false);
  const auto started = clock_type::now();
  std::optional<core::error> last_error;
  const core::model_settings* last_model = primary;
  for (const auto* model : im->chain(*primary, "chat")) {
    if (state->cancelled) break;
    if (model != primary && !im->view(*model).residency_ok) continue;
    if (!request.tools.empty() && request.tool_choice != "none" && !has_capability(*model, "tools")) continue;
    if (model != primary && has_images(request.messages) && !has_capability(*model, "vision")) continue;
    const bool redact = im->settings.redact_pii && model->external;
    if (redact && images.refused) {
      // An external fallback of a model inside the organisation: its images could not be checked.
      if (!last_error) last_error = *images.refused;
      continue;
    }
    last_model = model;
    state->model = model->id;
    for (int attempt = 0; attempt <= im->settings.max_retries; ++attempt) {
      if (!im->breaker_allows(*model)) {
        last_error = core::error::unavailable("model '" + model->id + "' is failing; its circuit breaker is open");
        break;
      }
      pii_redactor redactor;
      const chat_request outbound = redact ? redacted(request, redactor, images.urls) : request;
      relay_sink sink(*state, redact ? &redactor : nullptr, clock_type::now());
      const auto call_target_value = im->target_for(*model);
      call_outcome outcome = co_await im->provider_for(*model).chat(call_target_value, outbound, sink);
      const double latency = std::chrono::duration<double, std::milli>(clock_type::now() - started).count();
      if (outcome.status.ok()) {
        im->breaker_record(*model, true);
        auto write_usage = [&] {
          im->record_usage(who, request.model, model->id, "chat", sink.usage(), latency,
                           sink.first_token_ms().value_or(latency), "ok", "");
        };  // named: g++ 12 coroutines
        co_await record_usage_off_thread(std::move(write_usage));
        state->close();
        co_return;
      }
      if (state->cancelled) {
        token_usage partial;
        partial.estimated = true;
        partial.prompt_tokens = estimate_prompt_tokens(request);
        partial.completion_tokens = static_cast<std::int64_t>((sink.text_bytes() + 3) / 4);
        auto write_usage = [&] {
          im->record_usage(who, request.model, model->id, "chat", partial, latency,
                           sink.first_token_ms().value_or(latency), "cancelled", "");
        };  // named: g++ 12 coroutines
        co_await record_usage_off_thread(std::move(write_usage));
        state->close();
        co_return;
      }
      const core::error err = outcome.status.err();
      const bool upstream_fault = outcome.retryable;
      im->breaker_record(*model, !upstream_fault);
      if (sink.delivered_any()) {
        // Text reached the caller: a retry would repeat it. End the answer here.
        token_usage partial;
        partial.estimated = true;
        partial.prompt_tokens = estimate_prompt_tokens(request);
        partial.completion_tokens = static_cast<std::int64_t>((sink.text_bytes() + 3) / 4);
        auto write_usage = [&] {
          im->record_usage(who, request.model, model->id, "chat", partial, latency,
                           sink.first_token_ms().value_or(latency), "failed", err.message());
        };  // named: g++ 12 coroutines
        co_await record_usage_off_thread(std::move(write_usage));
        state->push(chat_event::failed(err));
        state->close();
        co_return;
      }
      last_error = err;
      core::log_warn(
          "model call failed",
          {{"model", model->id}, {"attempt", attempt + 1}, {"error", err.message()}, {"request_id", who.request_id}});
      if (err.code() == core::errc::invalid_argument) break;  // the request itself is wrong
      if (!outcome.retryable || attempt == im->settings.max_retries) break;
      if (!co_await sleep_for(im->backoff(attempt, outcome.retry_after)) || state->cancelled) break;
    }
    if (last_error && last_error->code() == core::errc::invalid_argument) break;
  }
  const double latency = std::chrono::duration<double, std::milli>(clock_type::now() - started).count();
  core::error err = last_error.value_or(core::error::cancelled("the caller went away"));
  auto write_usage = [&] {
    im->record_usage(who, request.model, last_model->id, "chat", token_usage{}, latency, latency,
                     state->cancelled ? "cancelled" : "failed", err.message());
  };  // named: g++ 12 coroutines
  co_await record_usage_off_thread(std::move(write_usage));
  state->push(chat_event::failed(std::move(err)));
  state->close();
}

}  // namespace

asio::awaitable<core::result<std::unique_ptr<chat_stream>>> llm_gateway::chat(const caller& who, chat_request request) {
  if (request.model.empty()) request.model = settings_.default_model;
  if (request.messages.empty()) co_return core::error::invalid_argument("messages must not be empty");
  if (!request.tools.empty() && request.tool_choice != "none") {
    // Tools need a model that can call them; the built-in extractive model cannot.
    const auto* m = impl_->find(request.model);
    if (m != nullptr && !has_capability(*m, "tools")) {
      co_return core::error::invalid_argument("model '" + m->id + "' cannot call tools");
    }
  }
  if (has_images(request.messages)) {
    const auto* m = impl_->find(request.model);
    if (m != nullptr && !has_capability(*m, "vision")) {
      co_return core::error::invalid_argument("model '" + m->id + "' does not read images (no vision capability)");
    }
  }
  const bool may_check_images = settings_.redact_pii && has_images(request.messages);
  image_check_slot slot(may_check_images ? &impl_->image_checks : nullptr, settings_.image_check_queue);
  auto admitted = admit(*this, *impl_, who, request.model, "chat");
  if (!admitted) co_return std::move(admitted).err();
  const core::model_settings* primary = *admitted;

  checked_images images;
  if (may_check_images) {
    const auto chain = impl_->chain(*primary, "chat");
    if (std::any_of(chain.begin(), chain.end(), [](const core::model_settings* m) { return m->external; })) {
      core::result<std::vector<std::string>> checked = core::error::unavailable(
          "too many images are being checked for personal data (llm.image_check_queue); try again shortly");
      if (slot.held()) checked = co_await check_images_off_thread(impl_->image_check_pool(), request, who);
      slot.release();
      if (checked) {
        images.urls = std::move(*checked);
      } else if (primary->external) {
        co_return std::move(checked).err();
      } else {
        images.refused = std::move(checked).err();  // the primary may still answer; external fallbacks may not
      }
    }
  }

  auto executor = co_await asio::this_coro::executor;
  auto state = std::make_shared<chat_stream::state>(executor);
  auto stream = std::make_unique<chat_stream>(state);
  asio::co_spawn(executor, run_chat(impl_.get(), state, who, std::move(request), primary, std::move(images)),
                 asio::bind_cancellation_slot(state->cancel.slot(), asio::detached));
  co_return stream;
}

asio::awaitable<core::result<chat_result>> llm_gateway::complete(const caller& who, chat_request request) {
  auto started = co_await chat(who, std::move(request));
  if (!started) co_return std::move(started).err();
  auto stream = std::move(*started);
  chat_result out;
  std::map<int, tool_call> calls;
  while (auto event = co_await stream->next()) {
    switch (event->type) {
      case chat_event::kind::text:
        out.content += event->text;
        break;
      case chat_event::kind::tool_call: {
        auto& call = calls[event->tool_index];
        if (!event->tool_id.empty()) call.id = event->tool_id;
        if (!event->tool_name.empty()) call.name = event->tool_name;
        call.arguments += event->tool_arguments;
        break;
      }
      case chat_event::kind::finish:
        out.finish_reason = event->finish_reason;
        out.usage = event->usage;
        break;
      case chat_event::kind::failure:
        co_return *event->error;
    }
  }
  for (auto& entry : calls) out.tool_calls.push_back(std::move(entry.second));
  out.model = stream->model();
  co_return out;
}

namespace {

// Shared retry loop of the one-shot calls (embeddings, rerank).
template <typename Result, typename Call>
asio::awaitable<core::result<Result>> one_shot(llm_gateway::impl& im, const caller& who, std::string_view requested,
                                               const core::model_settings* primary, std::string_view capability,
                                               std::string_view kind, Call call) {
  const auto started = clock_type::now();
  std::optional<core::error> last_error;
  for (const auto* model : im.chain(*primary, capability)) {
    if (model != primary && !im.view(*model).residency_ok) continue;
    for (int attempt = 0; attempt <= im.settings.max_retries; ++attempt) {
      if (!im.breaker_allows(*model)) {
        last_error = core::error::unavailable("model '" + model->id + "' is failing; its circuit breaker is open");
        break;
      }
      const auto target = im.target_for(*model);
      provider_result<Result> r = co_await call(im.provider_for(*model), target);
      const double latency = std::chrono::duration<double, std::milli>(clock_type::now() - started).count();
      if (r.outcome.status.ok()) {
        im.breaker_record(*model, true);
        token_usage usage = r.value.usage;
        auto write_usage = [&] {
          im.record_usage(who, requested, model->id, kind, usage, latency, latency, "ok", "");
        };  // named: g++ 12 coroutines
        co_await record_usage_off_thread(std::move(write_usage));
        co_return std::move(r.value);
      }
      im.breaker_record(*model, !r.outcome.retryable);
      last_error = r.outcome.status.err();
      if (last_error->code() == core::errc::invalid_argument || !r.outcome.retryable ||
          attempt == im.settings.max_retries) {
        break;
      }
      if (!co_await sleep_for(im.backoff(attempt, r.outcome.retry_after))) break;
    }
    if (last_error && last_error->code() == core::errc::invalid_argument) break;
  }
  const double latency = std::chrono::duration<double, std::milli>(clock_type::now() - started).count();
  core::error err = last_error.value_or(core::error::unavailable("no model could answer"));
  auto write_usage = [&] {
    im.record_usage(who, requested, primary->id, kind, token_usage{}, latency, latency, "failed", err.message());
  };  // named: g++ 12 coroutines
  co_await record_usage_off_thread(std::move(write_usage));
  co_return err;
}

}  // namespace

asio::awaitable<core::result<embedding_result>> llm_gateway::embed(const caller& who, embedding_request request) {
  if (request.model.empty()) request.model = settings_.embedding_model;
  if (request.inputs.empty()) co_return core::error::invalid_argument("input must not be empty");
  auto admitted = admit(*this, *impl_, who, request.model, "embeddings");
  if (!admitted) co_return std::move(admitted).err();
  const bool redact = settings_.redact_pii;
  // A coroutine itself, so that the redacted copy lives until the provider is done.
  auto call = [&request, redact](provider& p,
                                 const call_target& target) -> asio::awaitable<provider_result<embedding_result>> {
    embedding_request outbound = request;
    if (redact && target.model->external) {
      pii_redactor redactor;
      for (auto& text : outbound.inputs) text = redactor.redact(text);
    }
    auto out = co_await p.embed(target, outbound);
    co_return out;
  };
  auto result =
      co_await one_shot<embedding_result>(*impl_, who, request.model, *admitted, "embeddings", "embeddings", call);
  co_return result;
}

asio::awaitable<core::result<rerank_result>> llm_gateway::rerank(const caller& who, rerank_request request) {
  if (request.documents.empty()) co_return core::error::invalid_argument("documents must not be empty");
  auto admitted = admit(*this, *impl_, who, request.model, "rerank");
  if (!admitted) co_return std::move(admitted).err();
  auto call = [&request](provider& p, const call_target& target) { return p.rerank(target, request); };
  auto result = co_await one_shot<rerank_result>(*impl_, who, request.model, *admitted, "rerank", "rerank", call);
  co_return result;
}

asio::awaitable<core::result<speech_result>> llm_gateway::speech(const caller& who, speech_request request) {
  if (request.input.empty()) co_return core::error::invalid_argument("input must not be empty");
  auto admitted = admit(*this, *impl_, who, request.model, "speech");
  if (!admitted) co_return std::move(admitted).err();
  auto call = [&request](provider& p, const call_target& target) { return p.speech(target, request); };
  auto result = co_await one_shot<speech_result>(*impl_, who, request.model, *admitted, "speech", "speech", call);
  co_return result;
}

asio::awaitable<core::result<transcription_result>> llm_gateway::transcribe(const caller& who,
                                                                            transcription_request request) {
  if (request.audio.empty()) co_return core::error::invalid_argument("the audio file is empty");
  auto admitted = admit(*this, *impl_, who, request.model, "transcription");
  if (!admitted) co_return std::move(admitted).err();
  auto call = [&request](provider& p, const call_target& target) { return p.transcribe(target, request); };
  auto result = co_await one_shot<transcription_result>(*impl_, who, request.model, *admitted, "transcription",
                                                        "transcription", call);
  co_return result;
}

core::result<std::vector<usage_summary>> llm_gateway::usage(const usage_filter& filter) {
  std::string key_column;
  if (filter.group_by == "model")
    key_column = "model";
  else if (filter.group_by == "user")
    key_column = "user_id";
  else if (filter.group_by == "day")
    key_column = "day";
  else
    return core::error::invalid_argument("group_by must be model, user or day");
  std::string sql = "SELECT " + key_column +
                    ", COUNT(*), CAST(SUM(CASE WHEN outcome = 'ok' THEN 0 ELSE 1 END) AS BIGINT), "
                    "CAST(SUM(prompt_tokens) AS BIGINT), CAST(SUM(completion_tokens) AS BIGINT), "
                    "CAST(SUM(cost) AS DOUBLE PRECISION), CAST(AVG(latency_ms) AS DOUBLE PRECISION) "
                    "FROM llm_usage WHERE 1 = 1";  // PostgreSQL's SUM(bigint) is numeric
  std::vector<db::value> params;
  if (!filter.user_id.empty()) {
    sql += " AND user_id = ?";
    params.emplace_back(filter.user_id);
  }
  if (!filter.model.empty()) {
    sql += " AND model = ?";
    params.emplace_back(filter.model);
  }
  if (!filter.from_day.empty()) {
    sql += " AND day >= ?";
    params.emplace_back(filter.from_day);
  }
  if (!filter.to_day.empty()) {
    sql += " AND day <= ?";
    params.emplace_back(filter.to_day);
  }
  sql += " GROUP BY " + key_column + " ORDER BY " + key_column;
  WATTOS_ASSIGN_OR_RETURN(auto rows, impl_->db.execute(sql, params));
  std::vector<usage_summary> out;
  for (const auto& r : rows.rows) {
    usage_summary s;
    WATTOS_ASSIGN_OR_RETURN(s.key, r.get_text(0));
    WATTOS_ASSIGN_OR_RETURN(s.requests, r.get_int(1));
    WATTOS_ASSIGN_OR_RETURN(s.failed, r.get_int(2));
    WATTOS_ASSIGN_OR_RETURN(s.prompt_tokens, r.get_int(3));
    WATTOS_ASSIGN_OR_RETURN(s.completion_tokens, r.get_int(4));
    WATTOS_ASSIGN_OR_RETURN(s.cost, r.get_double(5));
    WATTOS_ASSIGN_OR_RETURN(s.avg_latency_ms, r.get_double(6));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace wattos::infra::llm
