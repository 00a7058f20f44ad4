// The SQL backend: one row per job in queue_jobs.
//
// The stored state is one of waiting, active, completed, dead; "delayed" is not stored
// but derived: a waiting row whose run_at_ms lies in the future. So a delayed job needs
// no promotion step, and the ready jobs of a queue are one index range
// (queue, state='waiting', run_at_ms <= now), read in order.
//
// Claim is one transaction: dead-letter the jobs whose lease ran out on their last
// attempt, pick the oldest expired lease, else the oldest ready job, and take it with an
// UPDATE that repeats the pick's condition and must touch one row. SQLite runs the
// transaction under BEGIN IMMEDIATE (one writer at a time); PostgreSQL picks with
// FOR UPDATE SKIP LOCKED, so concurrent claimers pass over each other's rows instead
// of queueing behind them. Either way a job goes to one claimer only.
#include <chrono>

#include "core/id.hpp"
#include "infra/queue/job_queue.hpp"

namespace wattos::infra::queue {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

db::blob to_blob(std::string_view s) {
  return db::blob{{s.begin(), s.end()}};
}

// The schema in both dialects; only the type of the payload bytes differs (the same
// way as the RAG store's schema).
std::string queue_schema(const std::string& bytes_type) {
  return R"sql(
CREATE TABLE queue_jobs (
  id TEXT PRIMARY KEY,
  queue TEXT NOT NULL,
  payload )sql" +
         bytes_type + R"sql( NOT NULL,
  dedupe_key TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  lease_token TEXT NOT NULL DEFAULT '',
  worker_id TEXT NOT NULL DEFAULT '',
  run_at_ms BIGINT NOT NULL,
  lease_until_ms BIGINT NOT NULL DEFAULT 0,
  created_at_ms BIGINT NOT NULL,
  finished_at_ms BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX queue_jobs_ready ON queue_jobs (queue, state, run_at_ms, id);
CREATE INDEX queue_jobs_lease ON queue_jobs (queue, state, lease_until_ms);
CREATE INDEX queue_jobs_finished ON queue_jobs (queue, state, finished_at_ms);
CREATE UNIQUE INDEX queue_jobs_dedupe ON queue_jobs (queue, dedupe_key) WHERE dedupe_key <> '';
)sql";
}

constexpr const char* job_columns =
    "id, queue, payload, dedupe_key, state, attempts, max_attempts, last_error, lease_token, worker_id, run_at_ms, "
    "lease_until_ms, created_at_ms, finished_at_ms";

core::result<job> to_job(const db::row& r, std::int64_t now) {
  job j;
  WATTOS_ASSIGN_OR_RETURN(j.id, r.get_text(0));
  WATTOS_ASSIGN_OR_RETURN(j.queue, r.get_text(1));
  WATTOS_ASSIGN_OR_RETURN(auto payload, r.get_blob(2));
  j.payload.assign(payload.bytes.begin(), payload.bytes.end());
  WATTOS_ASSIGN_OR_RETURN(j.dedupe_key, r.get_text(3));
  WATTOS_ASSIGN_OR_RETURN(auto state, r.get_text(4));
  WATTOS_ASSIGN_OR_RETURN(auto attempts, r.get_int(5));
  WATTOS_ASSIGN_OR_RETURN(auto max_attempts, r.get_int(6));
  j.attempts = static_cast<int>(attempts);
  j.max_attempts = static_cast<int>(max_attempts);
  WATTOS_ASSIGN_OR_RETURN(j.last_error, r.get_text(7));
  WATTOS_ASSIGN_OR_RETURN(j.lease_token, r.get_text(8));
  WATTOS_ASSIGN_OR_RETURN(j.worker_id, r.get_text(9));
  WATTOS_ASSIGN_OR_RETURN(j.run_at_ms, r.get_int(10));
  WATTOS_ASSIGN_OR_RETURN(j.lease_until_ms, r.get_int(11));
  WATTOS_ASSIGN_OR_RETURN(j.created_at_ms, r.get_int(12));
  WATTOS_ASSIGN_OR_RETURN(j.finished_at_ms, r.get_int(13));
  auto s = job_state_from_name(state);
  if (!s) return core::error::internal("queue_jobs row " + j.id + " has unknown state '" + state + "'");
  j.state = (*s == job_state::waiting && j.run_at_ms > now) ? job_state::delayed : *s;
  return j;
}

class sql_queue final : public job_queue {
 public:
  explicit sql_queue(db::database& db) : db_(db), postgres_(db.kind() == db::dialect::postgres) {}

  core::result<std::string> enqueue(std::string_view queue, std::string_view payload,
                                    const enqueue_options& options) override {
    if (queue.empty()) return core::error::invalid_argument("queue name is empty");
    if (options.max_attempts < 1) return core::error::invalid_argument("max_attempts must be at least 1");
    const std::string q(queue);
    // A lost race on the dedupe key (the other job removed between our insert and our
    // lookup) is retried; three rounds are plenty.
    for (int round = 0; round < 3; ++round) {
      if (!options.dedupe_key.empty()) {
        WATTOS_ASSIGN_OR_RETURN(auto found, db_.execute("SELECT id FROM queue_jobs WHERE queue = ? AND dedupe_key = ?",
                                                        {q, options.dedupe_key}));
        if (!found.rows.empty()) return found.rows[0].get_text(0);
      }
      const std::int64_t now = now_ms();
      std::string id = core::new_uuid_v7();
      auto inserted = db_.execute(
          "INSERT INTO queue_jobs (id, queue, payload, dedupe_key, state, max_attempts, run_at_ms, created_at_ms) "
          "VALUES (?, ?, ?, ?, 'waiting', ?, ?, ?)",
          {id, q, to_blob(payload), options.dedupe_key, std::int64_t{options.max_attempts},
           now + std::max<std::int64_t>(0, options.delay_ms), now});
      if (inserted.ok()) return id;
      // Only the dedupe index can collide (ids are fresh UUIDv7s): look the key up again.
      if (inserted.err().code() != core::errc::already_exists || options.dedupe_key.empty()) {
        return std::move(inserted).err();
      }
    }
    return core::error::conflict("enqueue: dedupe key '" + options.dedupe_key + "' keeps changing hands");
  }

  core::result<std::optional<job>> claim(std::string_view queue, std::string_view worker_id,
                                         std::int64_t lease_ms) override {
    if (lease_ms <= 0) return core::error::invalid_argument("lease_ms must be positive");
    const std::string q(queue);
    const std::string token = core::random_hex(16);
    const char* lock = postgres_ ? " FOR UPDATE SKIP LOCKED" : "";
    std::optional<job> claimed;
    WATTOS_RETURN_IF_ERROR(db_.transaction([&](db::connection& c) -> core::status {
      const std::int64_t now = now_ms();
      // A worker that died on the job's last attempt leaves nothing to retry.
      WATTOS_RETURN_IF_ERROR(
          c.execute("UPDATE queue_jobs SET state = 'dead', last_error = 'lease expired', finished_at_ms = ? "
                    "WHERE queue = ? AND state = 'active' AND lease_until_ms <= ? AND attempts >= max_attempts",
                    {now, q, now}));
      // Expired leases first: those jobs have waited longest.
      WATTOS_ASSIGN_OR_RETURN(
          auto pick,
          c.execute(std::string("SELECT id FROM queue_jobs WHERE queue = ? AND state = 'active' AND "
                                "lease_until_ms <= ? AND attempts < max_attempts ORDER BY lease_until_ms LIMIT 1") +
                        lock,
                    {q, now}));
      if (pick.rows.empty()) {
        WATTOS_ASSIGN_OR_RETURN(
            pick, c.execute(std::string("SELECT id FROM queue_jobs WHERE queue = ? AND state = 'waiting' AND "
                                        "run_at_ms <= ? ORDER BY run_at_ms, id LIMIT 1") +
                                lock,
                            {q, now}));
      }
      if (pick.rows.empty()) return {};
      WATTOS_ASSIGN_OR_RETURN(auto id, pick.rows[0].get_text(0));
      // The condition again: without SKIP LOCKED (or with a looser isolation) another
      // claimer may have taken the row since the pick; then this touches nothing.
      WATTOS_ASSIGN_OR_RETURN(
          auto taken,
          c.execute(std::string("UPDATE queue_jobs SET state = 'active', attempts = attempts + 1, lease_token = ?, "
                                "worker_id = ?, lease_until_ms = ? WHERE id = ? AND "
                                "((state = 'waiting' AND run_at_ms <= ?) OR "
                                "(state = 'active' AND lease_until_ms <= ? AND attempts < max_attempts)) "
                                "RETURNING ") +
                        job_columns,
                    {token, std::string(worker_id), now + lease_ms, id, now, now}));
      if (taken.rows.empty()) return {};
      WATTOS_ASSIGN_OR_RETURN(auto j, to_job(taken.rows[0], now));
      claimed = std::move(j);
      return {};
    }));
    return claimed;
  }

  core::status extend(std::string_view job_id, std::string_view lease_token, std::int64_t lease_ms) override {
    if (lease_ms <= 0) return core::error::invalid_argument("lease_ms must be positive");
    WATTOS_ASSIGN_OR_RETURN(auto r, db_.execute("UPDATE queue_jobs SET lease_until_ms = ? WHERE id = ? AND "
                                                "state = 'active' AND lease_token = ?",
                                                {now_ms() + lease_ms, std::string(job_id), std::string(lease_token)}));
    if (r.rows_affected == 0) return lease_lost(job_id);
    return {};
  }

  core::status complete(std::string_view job_id, std::string_view lease_token) override {
    WATTOS_ASSIGN_OR_RETURN(auto r, db_.execute("UPDATE queue_jobs SET state = 'completed', finished_at_ms = ? "
                                                "WHERE id = ? AND state = 'active' AND lease_token = ?",
                                                {now_ms(), std::string(job_id), std::string(lease_token)}));
    if (r.rows_affected == 0) return lease_lost(job_id);
    return {};
  }

  core::result<job_state> fail(std::string_view job_id, std::string_view lease_token, std::string_view error_message,
                               std::int64_t retry_delay, bool permanent) override {
    const std::int64_t now = now_ms();
    const std::int64_t run_at = now + std::max<std::int64_t>(0, retry_delay);
    // One statement decides and records, so the attempt count it reads is the one it
    // changes.
    WATTOS_ASSIGN_OR_RETURN(
        auto r,
        db_.execute("UPDATE queue_jobs SET "
                    "state = CASE WHEN ? = 1 OR attempts >= max_attempts THEN 'dead' ELSE 'waiting' END, "
                    "finished_at_ms = CASE WHEN ? = 1 OR attempts >= max_attempts THEN CAST(? AS BIGINT) ELSE 0 END, "
                    "run_at_ms = CASE WHEN ? = 1 OR attempts >= max_attempts THEN run_at_ms ELSE ? END, "
                    "last_error = ? WHERE id = ? AND state = 'active' AND lease_token = ? RETURNING state",
                    {std::int64_t{permanent}, std::int64_t{permanent}, now, std::int64_t{permanent}, run_at,
                     std::string(error_message), std::string(job_id), std::string(lease_token)}));
    if (r.rows.empty()) return lease_lost(job_id).err();
    WATTOS_ASSIGN_OR_RETURN(auto state, r.rows[0].get_text(0));
    if (state == "dead") return job_state::dead;
    return run_at > now ? job_state::delayed : job_state::waiting;
  }

  core::status retry(std::string_view job_id) override {
    WATTOS_ASSIGN_OR_RETURN(auto r, db_.execute("UPDATE queue_jobs SET state = 'waiting', attempts = 0, run_at_ms = ?, "
                                                "finished_at_ms = 0, lease_token = '', lease_until_ms = 0 "
                                                "WHERE id = ? AND state = 'dead'",
                                                {now_ms(), std::string(job_id)}));
    if (r.rows_affected == 1) return {};
    WATTOS_ASSIGN_OR_RETURN(auto j, get(job_id));
    return core::error::failed_precondition("job " + j.id + " is " + std::string(job_state_name(j.state)) +
                                            ", not dead");
  }

  core::status remove(std::string_view job_id) override {
    WATTOS_ASSIGN_OR_RETURN(
        auto r, db_.execute("DELETE FROM queue_jobs WHERE id = ? AND state <> 'active'", {std::string(job_id)}));
    if (r.rows_affected == 1) return {};
    WATTOS_ASSIGN_OR_RETURN(auto j, get(job_id));
    return core::error::failed_precondition("job " + j.id + " is active; fail or complete it first");
  }

  core::result<job> get(std::string_view job_id) override {
    WATTOS_ASSIGN_OR_RETURN(auto r, db_.execute(std::string("SELECT ") + job_columns + " FROM queue_jobs WHERE id = ?",
                                                {std::string(job_id)}));
    if (r.rows.empty()) return core::error::not_found("no job " + std::string(job_id));
    return to_job(r.rows[0], now_ms());
  }

  core::result<queue_counts> counts(std::string_view queue) override {
    const std::int64_t now = now_ms();
    WATTOS_ASSIGN_OR_RETURN(
        auto r, db_.execute("SELECT state, later, COUNT(*) FROM (SELECT state, CASE WHEN run_at_ms > ? THEN 1 ELSE 0 "
                            "END AS later FROM queue_jobs WHERE queue = ?) AS t GROUP BY state, later",
                            {now, std::string(queue)}));
    queue_counts c;
    for (const auto& row : r.rows) {
      WATTOS_ASSIGN_OR_RETURN(auto state, row.get_text(0));
      WATTOS_ASSIGN_OR_RETURN(auto later, row.get_int(1));
      WATTOS_ASSIGN_OR_RETURN(auto n, row.get_int(2));
      if (state == "waiting")
        (later ? c.delayed : c.waiting) += n;
      else if (state == "active")
        c.active += n;
      else if (state == "completed")
        c.completed += n;
      else if (state == "dead")
        c.dead += n;
    }
    return c;
  }

  core::result<std::vector<job>> list(std::string_view queue, job_state state, std::size_t limit) override {
    const std::int64_t now = now_ms();
    std::string sql = std::string("SELECT ") + job_columns + " FROM queue_jobs WHERE queue = ? AND ";
    std::vector<db::value> params{std::string(queue)};
    // The same orders as the Redis backend: claim order, run time, lease deadline,
    // finish time.
    switch (state) {
      case job_state::waiting:
        sql += "state = 'waiting' AND run_at_ms <= ? ORDER BY run_at_ms, id";
        params.emplace_back(now);
        break;
      case job_state::delayed:
        sql += "state = 'waiting' AND run_at_ms > ? ORDER BY run_at_ms, id";
        params.emplace_back(now);
        break;
      case job_state::active:
        sql += "state = 'active' ORDER BY lease_until_ms, id";
        break;
      case job_state::completed:
        sql += "state = 'completed' ORDER BY finished_at_ms, id";
        break;
      case job_state::dead:
        sql += "state = 'dead' ORDER BY finished_at_ms, id";
        break;
    }
    sql += " LIMIT ?";
    params.emplace_back(static_cast<std::int64_t>(std::min<std::size_t>(limit, 1u << 30)));
    WATTOS_ASSIGN_OR_RETURN(auto r, db_.execute(sql, params));
    std::vector<job> out;
    out.reserve(r.rows.size());
    for (const auto& row : r.rows) {
      WATTOS_ASSIGN_OR_RETURN(auto j, to_job(row, now));
      out.push_back(std::move(j));
    }
    return out;
  }

 private:
  // Why a token-checked change touched nothing: the job is gone, or the token lost it.
  core::status lease_lost(std::string_view job_id) {
    WATTOS_ASSIGN_OR_RETURN(auto j, get(job_id));
    if (j.state == job_state::active) {
      return core::error::failed_precondition(
          "job " + j.id + ": the lease token no longer holds it (claimed again by " + j.worker_id + ")");
    }
    return core::error::failed_precondition("job " + j.id + " is " + std::string(job_state_name(j.state)) +
                                            ", not active under this lease");
  }

  db::database& db_;
  bool postgres_;
};

}  // namespace

const std::vector<db::migration>& sql_queue_migrations() {
  static const std::vector<db::migration> migrations = {
      {1, "queue_jobs", queue_schema("BLOB"), queue_schema("BYTEA")},
  };
  return migrations;
}

std::unique_ptr<job_queue> make_sql_queue(db::database& db) {
  return std::make_unique<sql_queue>(db);
}

}  // namespace wattos::infra::queue
