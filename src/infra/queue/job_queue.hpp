// File: infra/queue/job_queue.hpp
//
// A durable job queue: named queues of jobs (an opaque payload string each) that
// workers claim under a lease, complete, or fail. A failed attempt is retried after a
// delay the caller chooses (exponential backoff with jitter: see retry_delay_ms);
// after the last attempt the job is dead-lettered, where an admin can retry it. A job
// whose worker died (its lease ran out without extend/complete/fail) is claimed again
// by the next worker; the stale worker's later complete/fail is refused (its lease
// token no longer matches), so a job's effects are committed by one worker only when
// the worker checks the token it holds.
//
// Backends behind this one interface, with one conformance suite
// (tests/unit/infra/queue_conformance_test.cpp):
//   - the SQL store (embedded default; SQLite or PostgreSQL): table queue_jobs;
//   - Redis (several worker processes on several machines): Lua scripts over lists and
//     sorted sets, keys <prefix>:<queue>:{wait,active,delayed,dead} and one hash per job
//     <prefix>:<queue>:<id>, after BullMQ's layout.
//
// Enqueue with a dedupe key is idempotent: while a job with that key exists in the
// queue (in any state but removed), enqueue returns the existing job's id.
//
// Thread safety: every method may be called from any thread. All calls block (SQL or
// Redis round trips): call them off the I/O threads (infra/db/offload.hpp).
//
// Example:
//   WATTOS_ASSIGN_OR_RETURN(auto id, q.enqueue("ingest", payload, {.dedupe_key = sha}));
//   WATTOS_ASSIGN_OR_RETURN(auto claimed, q.claim("ingest", "worker-1", 30000));
//   if (claimed) { ...work...; WATTOS_RETURN_IF_ERROR(q.complete(claimed->id, claimed->lease_token)); }
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"
#include "infra/db/database.hpp"
#include "infra/db/migrations.hpp"

namespace wattos::infra::queue {

enum class job_state {
  waiting,    // ready to be claimed
  delayed,    // waiting for its retry time (or its first run time)
  active,     // claimed by a worker under a lease
  completed,  // done
  dead,       // failed its last attempt (or failed permanently); an admin may retry it
};

std::string_view job_state_name(job_state s) noexcept;
// The inverse of job_state_name; nullopt for anything else.
std::optional<job_state> job_state_from_name(std::string_view name) noexcept;

struct job {
  std::string id;
  std::string queue;
  std::string payload;
  std::string dedupe_key;  // empty: none
  job_state state = job_state::waiting;
  int attempts = 0;  // claims so far (the running one included)
  int max_attempts = 1;
  std::string last_error;           // message of the last failed attempt
  std::string lease_token;          // set by claim; needed to extend, complete or fail
  std::string worker_id;            // who holds (or last held) the lease
  std::int64_t run_at_ms = 0;       // unix ms: not claimed before this (delayed jobs)
  std::int64_t lease_until_ms = 0;  // unix ms: the active lease runs out
  std::int64_t created_at_ms = 0;
  std::int64_t finished_at_ms = 0;  // completed or dead
};

struct enqueue_options {
  int max_attempts = 5;
  std::int64_t delay_ms = 0;  // first run no earlier than now + delay
  std::string dedupe_key;     // see the file comment
};

struct queue_counts {
  std::int64_t waiting = 0;
  std::int64_t delayed = 0;
  std::int64_t active = 0;
  std::int64_t completed = 0;
  std::int64_t dead = 0;
};

class job_queue {
 public:
  virtual ~job_queue() = default;

  // Adds a job; returns its id (or the id of the job with the same dedupe key).
  virtual core::result<std::string> enqueue(std::string_view queue, std::string_view payload,
                                            const enqueue_options& options) = 0;

  // Claims the oldest ready job (waiting, delayed whose time has come, or active whose
  // lease ran out), counting an attempt, under a lease of `lease_ms`. nullopt: none.
  // A job whose lease ran out on its last attempt is dead-lettered instead ("lease
  // expired" as its last error).
  virtual core::result<std::optional<job>> claim(std::string_view queue, std::string_view worker_id,
                                                 std::int64_t lease_ms) = 0;

  // Keeps the lease alive (a heartbeat). failed_precondition when the token no longer
  // holds the job (lease lost to another worker, or the job finished). A token holds its
  // job from claim until complete/fail or the next claim: a lease that ran out but was
  // not yet claimed again can still be extended or completed.
  virtual core::status extend(std::string_view job_id, std::string_view lease_token, std::int64_t lease_ms) = 0;

  // Marks the job completed. failed_precondition when the token no longer holds it.
  virtual core::status complete(std::string_view job_id, std::string_view lease_token) = 0;

  // Records a failed attempt: retried after `retry_delay_ms` while attempts remain and
  // `permanent` is false, else dead-lettered. Returns the job's new state (delayed or
  // dead; waiting when retry_delay_ms <= 0). failed_precondition when the token no
  // longer holds it.
  virtual core::result<job_state> fail(std::string_view job_id, std::string_view lease_token,
                                       std::string_view error_message, std::int64_t retry_delay_ms, bool permanent) = 0;

  // An admin's retry of a dead job: waiting again with a fresh set of attempts.
  // not_found for an unknown job, failed_precondition when it is not dead.
  virtual core::status retry(std::string_view job_id) = 0;

  // Removes a job in any state but active (active: failed_precondition).
  virtual core::status remove(std::string_view job_id) = 0;

  virtual core::result<job> get(std::string_view job_id) = 0;
  virtual core::result<queue_counts> counts(std::string_view queue) = 0;
  // Jobs of one state, oldest first.
  virtual core::result<std::vector<job>> list(std::string_view queue, job_state state, std::size_t limit) = 0;
};

// Exponential backoff with full jitter for the attempt that just failed (1-based):
// uniform in [0, min(max_ms, base_ms * 2^(attempt-1))].
std::int64_t retry_delay_ms(int attempt, std::int64_t base_ms, std::int64_t max_ms);

// The SQL backend's table (component "queue").
const std::vector<db::migration>& sql_queue_migrations();
std::unique_ptr<job_queue> make_sql_queue(db::database& db);

// The Redis backend; checks the connection. `prefix` starts every key.
core::result<std::unique_ptr<job_queue>> make_redis_queue(std::string_view redis_url, std::string_view prefix);

// The backend named by the configuration (queue.backend).
core::result<std::unique_ptr<job_queue>> make_job_queue(const core::queue_settings& settings, db::database& db);

}  // namespace wattos::infra::queue
