#include "infra/queue/job_queue.hpp"

#include <algorithm>
#include <random>

namespace wattos::infra::queue {

std::string_view job_state_name(job_state s) noexcept {
  switch (s) {
    case job_state::waiting:
      return "waiting";
    case job_state::delayed:
      return "delayed";
    case job_state::active:
      return "active";
    case job_state::completed:
      return "completed";
    case job_state::dead:
      return "dead";
  }
  return "unknown";
}

std::optional<job_state> job_state_from_name(std::string_view name) noexcept {
  for (auto s : {job_state::waiting, job_state::delayed, job_state::active, job_state::completed, job_state::dead}) {
    if (job_state_name(s) == name) return s;
  }
  return std::nullopt;
}

std::int64_t retry_delay_ms(int attempt, std::int64_t base_ms, std::int64_t max_ms) {
  if (base_ms <= 0 || max_ms <= 0) return 0;
  // Doubling stops at the cap, so a large attempt number cannot overflow the shift.
  std::int64_t cap = std::min(base_ms, max_ms);
  for (int i = 1; i < attempt && cap < max_ms; ++i) cap = std::min(max_ms, cap * 2);
  // Full jitter (AWS "Exponential Backoff and Jitter"): workers that failed together
  // spread out over the whole window instead of retrying in lockstep.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_int_distribution<std::int64_t>(0, cap)(rng);
}

core::result<std::unique_ptr<job_queue>> make_job_queue(const core::queue_settings& settings, db::database& db) {
  if (settings.backend == "sql") {
    // The queue owns its table; migrating here means no caller can forget it (migrate
    // is idempotent and serialised across replicas).
    WATTOS_RETURN_IF_ERROR(db::migrate(db, "queue", sql_queue_migrations()));
    return make_sql_queue(db);
  }
  if (settings.backend == "redis") {
    if (settings.redis_url.empty())
      return core::error::invalid_argument("queue.redis_url is empty (queue.backend redis)");
    return make_redis_queue(settings.redis_url, settings.redis_prefix);
  }
  return core::error::invalid_argument("unknown queue.backend '" + settings.backend + "' (sql or redis)");
}

}  // namespace wattos::infra::queue
