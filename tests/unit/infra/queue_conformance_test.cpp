// The job queue's conformance suite: every case runs against the SQL backend on SQLite
// and on PostgreSQL (WATTOS_TEST_POSTGRES_URL, a schema per test) and against the Redis
// backend (WATTOS_TEST_REDIS_URL, a key prefix per test), so the cases run in parallel.
//
// Time-dependent cases never sleep for a fixed time to let something happen: they poll
// until a deadline that fails the test, and check the clock around each call.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include "core/id.hpp"
#include "db_backends.hpp"
#include "infra/queue/job_queue.hpp"

namespace wattos::infra::queue {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A short pause between polls, so a polling loop does not hog the two shared cores;
// correctness never depends on its length.
void poll_pause() {
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

constexpr std::int64_t poll_deadline_ms = 5000;

core::errc code_of(const core::status& s) {
  return s.ok() ? core::errc::ok : s.err().code();
}

class queue_conformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string& backend = GetParam();
    if (backend == "redis") {
      const char* url = std::getenv("WATTOS_TEST_REDIS_URL");
      if (!url || !*url) {
        if (db::testing::servers_required())
          FAIL() << "WATTOS_TEST_REDIS_URL is not set but WATTOS_TEST_REQUIRE_SERVERS=1";
        GTEST_SKIP() << "Redis backend: WATTOS_TEST_REDIS_URL is not set (scripts/test.sh sets it)";
      }
      redis_url_ = url;
      redis_prefix_ = "wattos-test-" + core::random_hex(6);
      auto made = make_redis_queue(redis_url_, redis_prefix_);
      ASSERT_TRUE(made.ok()) << made.err().message();
      q_ = std::move(made).value();
      return;
    }
    if (backend == "postgres" && db::testing::postgres_url().empty()) {
      if (db::testing::servers_required())
        FAIL() << "WATTOS_TEST_POSTGRES_URL is not set but WATTOS_TEST_REQUIRE_SERVERS=1";
      GTEST_SKIP() << "PostgreSQL backend: WATTOS_TEST_POSTGRES_URL is not set (scripts/test.sh sets it)";
    }
    scratch_ = std::make_unique<db::testing::scratch_database>(backend, 8);
    core::queue_settings settings;
    settings.backend = "sql";
    auto made = make_job_queue(settings, scratch_->db());
    ASSERT_TRUE(made.ok()) << made.err().message();
    q_ = std::move(made).value();
  }
  void TearDown() override {
    q_.reset();
    scratch_.reset();
  }

  std::string enqueue(std::string_view payload, enqueue_options options = {}, std::string_view queue = "q") {
    auto id = q_->enqueue(queue, payload, options);
    EXPECT_TRUE(id.ok()) << id.err().message();
    return id.ok() ? *id : std::string();
  }

  std::optional<job> claim(std::string_view worker = "w1", std::int64_t lease_ms = 30000,
                           std::string_view queue = "q") {
    auto c = q_->claim(queue, worker, lease_ms);
    EXPECT_TRUE(c.ok()) << c.err().message();
    return c.ok() ? *c : std::nullopt;
  }

  job get(const std::string& id) {
    auto j = q_->get(id);
    EXPECT_TRUE(j.ok()) << j.err().message();
    return j.ok() ? *j : job{};
  }

  queue_counts counts(std::string_view queue = "q") {
    auto c = q_->counts(queue);
    EXPECT_TRUE(c.ok()) << c.err().message();
    return c.ok() ? *c : queue_counts{};
  }

  std::vector<std::string> list_ids(job_state state, std::size_t limit = 100) {
    auto l = q_->list("q", state, limit);
    EXPECT_TRUE(l.ok()) << l.err().message();
    std::vector<std::string> ids;
    if (l.ok()) {
      for (const auto& j : *l) ids.push_back(j.id);
    }
    return ids;
  }

  std::unique_ptr<db::testing::scratch_database> scratch_;
  std::unique_ptr<job_queue> q_;
  std::string redis_url_;
  std::string redis_prefix_;
};

TEST_P(queue_conformance, enqueue_claim_complete) {
  const std::string payload("{\"doc\":\"a\"}\0\xff binary", 20);
  const std::int64_t before = now_ms();
  auto id = enqueue(payload, {.max_attempts = 3});
  ASSERT_FALSE(id.empty());
  job waiting = get(id);
  EXPECT_EQ(waiting.state, job_state::waiting);
  EXPECT_EQ(waiting.payload, payload);
  EXPECT_EQ(waiting.attempts, 0);
  EXPECT_EQ(waiting.max_attempts, 3);
  EXPECT_EQ(waiting.queue, "q");
  EXPECT_GE(waiting.created_at_ms, before - 1000);  // Redis stamps with its own clock (same machine here)

  auto claimed = claim("worker-1", 30000);
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->id, id);
  EXPECT_EQ(claimed->payload, payload);
  EXPECT_EQ(claimed->state, job_state::active);
  EXPECT_EQ(claimed->attempts, 1);
  EXPECT_EQ(claimed->max_attempts, 3);
  EXPECT_EQ(claimed->worker_id, "worker-1");
  EXPECT_FALSE(claimed->lease_token.empty());
  EXPECT_GE(claimed->lease_until_ms, before + 29000);
  EXPECT_EQ(get(id).state, job_state::active);
  EXPECT_EQ(counts().active, 1);

  ASSERT_TRUE(q_->complete(id, claimed->lease_token).ok());
  // Completed jobs stay queryable.
  job done = get(id);
  EXPECT_EQ(done.state, job_state::completed);
  EXPECT_GT(done.finished_at_ms, 0);
  EXPECT_EQ(done.attempts, 1);
  EXPECT_EQ(done.payload, payload);
  auto c = counts();
  EXPECT_EQ(c.completed, 1);
  EXPECT_EQ(c.active + c.waiting + c.delayed + c.dead, 0);
  EXPECT_EQ(list_ids(job_state::completed), std::vector<std::string>{id});
  // Nothing left, and a second complete is refused.
  EXPECT_FALSE(claim().has_value());
  EXPECT_EQ(code_of(q_->complete(id, claimed->lease_token)), core::errc::failed_precondition);
}

TEST_P(queue_conformance, claims_in_fifo_order) {
  std::vector<std::string> ids;
  ids.reserve(6);
  for (int i = 0; i < 6; ++i) ids.push_back(enqueue("job " + std::to_string(i)));
  EXPECT_EQ(list_ids(job_state::waiting), ids);
  EXPECT_EQ(list_ids(job_state::waiting, 2), (std::vector<std::string>{ids[0], ids[1]}));
  for (int i = 0; i < 6; ++i) {
    auto c = claim();
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->id, ids[static_cast<std::size_t>(i)]);
    EXPECT_EQ(c->payload, "job " + std::to_string(i));
  }
  EXPECT_FALSE(claim().has_value());
}

TEST_P(queue_conformance, nothing_to_claim_is_nullopt) {
  EXPECT_FALSE(claim().has_value());
  // Queues are separate.
  auto other = enqueue("x", {}, "other");
  EXPECT_FALSE(claim().has_value());
  auto c = claim("w1", 30000, "other");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->id, other);
  EXPECT_EQ(c->queue, "other");
  EXPECT_EQ(counts().waiting, 0);
  EXPECT_EQ(counts("other").active, 1);
}

TEST_P(queue_conformance, delayed_job_not_claimed_before_its_time) {
  auto id = enqueue("later", {.delay_ms = 600});  // long enough to be seen refused on a loaded machine
  const job j = get(id);
  ASSERT_GT(j.run_at_ms, 0);
  EXPECT_EQ(j.state, job_state::delayed);
  EXPECT_EQ(counts().delayed, 1);
  EXPECT_EQ(list_ids(job_state::delayed), std::vector<std::string>{id});
  EXPECT_TRUE(list_ids(job_state::waiting).empty());
  const std::int64_t deadline = now_ms() + 600 + poll_deadline_ms;
  bool refused_early = false;
  std::optional<job> claimed;
  while (!claimed) {
    ASSERT_LT(now_ms(), deadline) << "the delayed job was never claimed";
    auto c = claim();
    const std::int64_t after = now_ms();
    if (c) {
      // It ran no earlier than its run time (the call ended after run_at).
      EXPECT_GE(after, j.run_at_ms);
      claimed = c;
    } else if (after < j.run_at_ms) {
      refused_early = true;
    }
    if (!claimed) poll_pause();
  }
  EXPECT_TRUE(refused_early) << "the test never saw the job refused before its time (machine too slow?)";
  EXPECT_EQ(claimed->id, id);
  EXPECT_EQ(claimed->attempts, 1);
}

TEST_P(queue_conformance, failed_attempts_are_retried_then_dead) {
  auto id = enqueue("flaky", {.max_attempts = 3});
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto c = claim();
    ASSERT_TRUE(c.has_value()) << attempt;
    EXPECT_EQ(c->attempts, attempt);
    auto state = q_->fail(id, c->lease_token, "boom " + std::to_string(attempt), 0, false);
    ASSERT_TRUE(state.ok()) << state.err().message();
    EXPECT_EQ(*state, attempt < 3 ? job_state::waiting : job_state::dead) << attempt;
  }
  EXPECT_FALSE(claim().has_value());
  job dead = get(id);
  EXPECT_EQ(dead.state, job_state::dead);
  EXPECT_EQ(dead.attempts, 3);
  EXPECT_EQ(dead.last_error, "boom 3");
  EXPECT_GT(dead.finished_at_ms, 0);
  EXPECT_EQ(counts().dead, 1);
  EXPECT_EQ(list_ids(job_state::dead), std::vector<std::string>{id});
}

TEST_P(queue_conformance, retry_delay_holds_the_job_back) {
  auto id = enqueue("flaky", {.max_attempts = 2});
  auto c = claim();
  ASSERT_TRUE(c.has_value());
  auto state = q_->fail(id, c->lease_token, "try later", 200, false);
  ASSERT_TRUE(state.ok()) << state.err().message();
  EXPECT_EQ(*state, job_state::delayed);
  const job j = get(id);
  EXPECT_EQ(j.state, job_state::delayed);
  EXPECT_EQ(j.last_error, "try later");
  const std::int64_t deadline = now_ms() + 200 + poll_deadline_ms;
  std::optional<job> again;
  while (!again) {
    ASSERT_LT(now_ms(), deadline) << "the retried job was never claimed";
    again = claim();
    if (again)
      EXPECT_GE(now_ms(), j.run_at_ms);
    else
      poll_pause();
  }
  EXPECT_EQ(again->attempts, 2);
  EXPECT_EQ(again->last_error, "try later");
}

TEST_P(queue_conformance, permanent_failure_is_dead_at_once) {
  auto id = enqueue("bad input", {.max_attempts = 5});
  auto c = claim();
  ASSERT_TRUE(c.has_value());
  auto state = q_->fail(id, c->lease_token, "unsupported format", 1000, true);
  ASSERT_TRUE(state.ok()) << state.err().message();
  EXPECT_EQ(*state, job_state::dead);
  job dead = get(id);
  EXPECT_EQ(dead.state, job_state::dead);
  EXPECT_EQ(dead.attempts, 1);
  EXPECT_EQ(dead.last_error, "unsupported format");
  EXPECT_FALSE(claim().has_value());
}

TEST_P(queue_conformance, admin_retries_a_dead_job) {
  auto id = enqueue("x", {.max_attempts = 1});
  auto c = claim();
  ASSERT_TRUE(c.has_value());
  ASSERT_TRUE(q_->fail(id, c->lease_token, "broken", 0, false).ok());
  ASSERT_EQ(get(id).state, job_state::dead);
  ASSERT_TRUE(q_->retry(id).ok());
  job again = get(id);
  EXPECT_EQ(again.state, job_state::waiting);
  EXPECT_EQ(again.attempts, 0);
  EXPECT_EQ(counts().dead, 0);
  EXPECT_EQ(counts().waiting, 1);
  auto c2 = claim();
  ASSERT_TRUE(c2.has_value());
  EXPECT_EQ(c2->id, id);
  EXPECT_EQ(c2->attempts, 1);
  // Only dead jobs are retried; unknown ones are not found.
  EXPECT_EQ(code_of(q_->retry(id)), core::errc::failed_precondition);
  EXPECT_EQ(code_of(q_->retry(enqueue("waiting"))), core::errc::failed_precondition);
  EXPECT_EQ(code_of(q_->retry("q:999999")), core::errc::not_found);
  EXPECT_EQ(code_of(q_->retry("no-such-job")), core::errc::not_found);
}

TEST_P(queue_conformance, expired_lease_goes_to_the_next_worker) {
  auto id = enqueue("x", {.max_attempts = 3});
  auto first = claim("w1", 50);
  ASSERT_TRUE(first.has_value());
  const std::int64_t deadline = now_ms() + 50 + poll_deadline_ms;
  std::optional<job> second;
  while (!second) {
    ASSERT_LT(now_ms(), deadline) << "the expired job was never claimed again";
    second = claim("w2", 30000);
    if (second)
      EXPECT_GE(now_ms(), first->lease_until_ms);
    else
      poll_pause();
  }
  EXPECT_EQ(second->id, id);
  EXPECT_EQ(second->attempts, 2);
  EXPECT_EQ(second->worker_id, "w2");
  EXPECT_NE(second->lease_token, first->lease_token);
  // The stale worker can no longer touch it.
  EXPECT_EQ(code_of(q_->complete(id, first->lease_token)), core::errc::failed_precondition);
  auto failed = q_->fail(id, first->lease_token, "late", 0, false);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.err().code(), core::errc::failed_precondition);
  EXPECT_EQ(code_of(q_->extend(id, first->lease_token, 30000)), core::errc::failed_precondition);
  EXPECT_EQ(get(id).worker_id, "w2");
  ASSERT_TRUE(q_->complete(id, second->lease_token).ok());
  EXPECT_EQ(get(id).state, job_state::completed);
}

TEST_P(queue_conformance, lease_expired_on_last_attempt_is_dead) {
  auto id = enqueue("x", {.max_attempts = 1});
  auto first = claim("w1", 30);
  ASSERT_TRUE(first.has_value());
  const std::int64_t deadline = now_ms() + 30 + poll_deadline_ms;
  while (get(id).state != job_state::dead) {
    ASSERT_LT(now_ms(), deadline) << "the job whose lease ran out was never dead-lettered";
    EXPECT_FALSE(claim("w2", 30000).has_value());  // the claim dead-letters it instead
    poll_pause();
  }
  job dead = get(id);
  EXPECT_EQ(dead.last_error, "lease expired");
  EXPECT_EQ(dead.attempts, 1);
  EXPECT_EQ(counts().dead, 1);
  EXPECT_EQ(counts().active, 0);
  EXPECT_EQ(code_of(q_->complete(id, first->lease_token)), core::errc::failed_precondition);
}

TEST_P(queue_conformance, extend_keeps_the_lease) {
  auto id = enqueue("long job");
  auto first = claim("w1", 50);
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(q_->extend(id, first->lease_token, 60000).ok());
  EXPECT_GE(get(id).lease_until_ms, now_ms() + 50000);
  // Past the original lease, the job is still held.
  while (now_ms() <= first->lease_until_ms + 20) {
    EXPECT_FALSE(claim("w2", 30000).has_value());
    poll_pause();
  }
  EXPECT_FALSE(claim("w2", 30000).has_value());
  EXPECT_EQ(get(id).worker_id, "w1");
  ASSERT_TRUE(q_->complete(id, first->lease_token).ok());
  EXPECT_EQ(code_of(q_->extend(id, first->lease_token, 1000)), core::errc::failed_precondition);
}

TEST_P(queue_conformance, dedupe_key_returns_the_same_job) {
  auto id = enqueue("doc v1", {.dedupe_key = "sha-1"});
  EXPECT_EQ(enqueue("doc v1 again", {.dedupe_key = "sha-1"}), id);
  EXPECT_NE(enqueue("doc v2", {.dedupe_key = "sha-2"}), id);
  EXPECT_NE(enqueue("no key"), id);
  EXPECT_EQ(counts().waiting, 3);
  EXPECT_EQ(get(id).payload, "doc v1");
  EXPECT_EQ(get(id).dedupe_key, "sha-1");
  // The key is per queue.
  EXPECT_NE(enqueue("doc v1", {.dedupe_key = "sha-1"}, "other"), id);
  // Still the same job once it ran (completed jobs keep their key) ...
  auto c = claim();
  ASSERT_TRUE(c.has_value());
  ASSERT_EQ(c->id, id);
  ASSERT_TRUE(q_->complete(id, c->lease_token).ok());
  EXPECT_EQ(enqueue("doc v1", {.dedupe_key = "sha-1"}), id);
  // ... until it is removed.
  ASSERT_TRUE(q_->remove(id).ok());
  auto fresh = enqueue("doc v1", {.dedupe_key = "sha-1"});
  EXPECT_NE(fresh, id);
  EXPECT_EQ(get(fresh).state, job_state::waiting);
}

TEST_P(queue_conformance, remove_any_job_but_an_active_one) {
  auto waiting = enqueue("a");
  auto delayed = enqueue("b", {.delay_ms = 60000});
  ASSERT_TRUE(q_->remove(waiting).ok());
  ASSERT_TRUE(q_->remove(delayed).ok());
  EXPECT_EQ(q_->get(waiting).err().code(), core::errc::not_found);
  EXPECT_EQ(q_->get(delayed).err().code(), core::errc::not_found);
  EXPECT_FALSE(claim().has_value());
  EXPECT_EQ(code_of(q_->remove(waiting)), core::errc::not_found);

  auto active = enqueue("c");
  auto c = claim();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(code_of(q_->remove(active)), core::errc::failed_precondition);
  ASSERT_TRUE(q_->fail(active, c->lease_token, "x", 0, true).ok());
  ASSERT_TRUE(q_->remove(active).ok());
  auto n = counts();
  EXPECT_EQ(n.waiting + n.delayed + n.active + n.completed + n.dead, 0);
  EXPECT_EQ(q_->get("no-such-job").err().code(), core::errc::not_found);
  EXPECT_EQ(code_of(q_->complete("no-such-job", "token")), core::errc::not_found);
}

TEST_P(queue_conformance, counts_and_lists_per_state) {
  auto w1 = enqueue("w1");
  auto w2 = enqueue("w2");
  auto a = enqueue("a");
  auto done = enqueue("done");
  auto dead = enqueue("dead", {.max_attempts = 1});
  auto later = enqueue("later", {.delay_ms = 60000});
  // Claim the first four in order (w1, w2, a, done, ...): move them where they belong.
  std::vector<job> claimed;
  for (int i = 0; i < 5; ++i) {
    auto c = claim();
    ASSERT_TRUE(c.has_value());
    claimed.push_back(*c);
  }
  ASSERT_TRUE(q_->fail(w1, claimed[0].lease_token, "again", 0, false).ok());
  ASSERT_TRUE(q_->fail(w2, claimed[1].lease_token, "again", 0, false).ok());
  ASSERT_TRUE(q_->complete(done, claimed[3].lease_token).ok());
  ASSERT_TRUE(q_->fail(dead, claimed[4].lease_token, "x", 0, false).ok());
  auto n = counts();
  EXPECT_EQ(n.waiting, 2);
  EXPECT_EQ(n.delayed, 1);
  EXPECT_EQ(n.active, 1);
  EXPECT_EQ(n.completed, 1);
  EXPECT_EQ(n.dead, 1);
  EXPECT_EQ(list_ids(job_state::waiting), (std::vector<std::string>{w1, w2}));
  EXPECT_EQ(list_ids(job_state::delayed), std::vector<std::string>{later});
  EXPECT_EQ(list_ids(job_state::active), std::vector<std::string>{a});
  EXPECT_EQ(list_ids(job_state::completed), std::vector<std::string>{done});
  EXPECT_EQ(list_ids(job_state::dead), std::vector<std::string>{dead});
  EXPECT_TRUE(list_ids(job_state::waiting, 0).empty());
  auto listed = q_->list("q", job_state::active, 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].state, job_state::active);
  EXPECT_EQ((*listed)[0].payload, "a");
  EXPECT_EQ((*listed)[0].worker_id, "w1");
  // Other queues are not counted.
  auto other = counts("other");
  EXPECT_EQ(other.waiting + other.delayed + other.active + other.completed + other.dead, 0);
}

TEST_P(queue_conformance, concurrent_workers_claim_each_job_exactly_once) {
  constexpr int jobs = 300;
  constexpr int workers = 8;
  std::set<std::string> enqueued;
  for (int i = 0; i < jobs; ++i) enqueued.insert(enqueue(std::to_string(i)));
  ASSERT_EQ(enqueued.size(), static_cast<std::size_t>(jobs));
  std::mutex mutex;
  std::vector<std::string> seen;  // guarded by mutex
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  threads.reserve(workers);
  for (int t = 0; t < workers; ++t) {
    threads.emplace_back([&, t] {
      const std::string worker = "w" + std::to_string(t);
      while (true) {
        auto c = q_->claim("q", worker, 30000);
        if (!c.ok()) {
          ++errors;
          ADD_FAILURE() << c.err().message();
          return;
        }
        if (!*c) return;
        if (!q_->complete((*c)->id, (*c)->lease_token).ok()) ++errors;
        std::lock_guard lock(mutex);
        seen.push_back((*c)->id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(jobs)) << "a job was claimed twice or lost";
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), enqueued);
  auto n = counts();
  EXPECT_EQ(n.completed, jobs);
  EXPECT_EQ(n.waiting + n.active, 0);
}

TEST_P(queue_conformance, bad_arguments_are_refused) {
  EXPECT_EQ(q_->enqueue("", "x", {}).err().code(), core::errc::invalid_argument);
  EXPECT_EQ(q_->enqueue("q", "x", {.max_attempts = 0}).err().code(), core::errc::invalid_argument);
  EXPECT_EQ(q_->claim("q", "w", 0).err().code(), core::errc::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(backends, queue_conformance, ::testing::Values("sqlite", "postgres", "redis"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) { return param_info.param; });

// What the Redis backend is for: several processes (here two queue objects, each with
// its own connections) on one queue; each job still goes to one worker only.
class shared_redis_queue : public queue_conformance {};

TEST_P(shared_redis_queue, two_clients_share_one_queue) {
  auto made = make_redis_queue(redis_url_, redis_prefix_);
  ASSERT_TRUE(made.ok()) << made.err().message();
  std::unique_ptr<job_queue> second = std::move(made).value();
  constexpr int jobs = 200;
  std::set<std::string> enqueued;
  for (int i = 0; i < jobs; ++i) {
    auto id = (i % 2 == 0 ? *q_ : *second).enqueue("q", std::to_string(i), {});
    ASSERT_TRUE(id.ok()) << id.err().message();
    enqueued.insert(*id);
  }
  ASSERT_EQ(enqueued.size(), static_cast<std::size_t>(jobs));
  // A job is visible from the other client by its id alone.
  EXPECT_EQ(second->get(*enqueued.begin()).ok(), true);
  std::mutex mutex;
  std::vector<std::string> seen;  // guarded by mutex
  std::vector<std::thread> threads;
  threads.reserve(6);
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      job_queue& client = t % 2 == 0 ? *q_ : *second;
      while (true) {
        auto c = client.claim("q", "w" + std::to_string(t), 30000);
        if (!c.ok() || !*c) return;
        EXPECT_TRUE(client.complete((*c)->id, (*c)->lease_token).ok());
        std::lock_guard lock(mutex);
        seen.push_back((*c)->id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(jobs));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), enqueued);
  EXPECT_EQ(second->counts("q")->completed, jobs);
}

// A Redis restart (or SCRIPT FLUSH) empties the script cache: EVALSHA then answers
// NOSCRIPT and the queue sends the script again with EVAL.
TEST_P(shared_redis_queue, survives_a_flushed_script_cache) {
  auto first = enqueue("before");
  ASSERT_TRUE(claim().has_value());
  const std::string hostport = redis_url_.substr(std::string_view("redis://").size());
  const auto colon = hostport.rfind(':');
  redisContext* raw = redisConnect(hostport.substr(0, colon).c_str(), std::atoi(hostport.substr(colon + 1).c_str()));
  ASSERT_TRUE(raw && !raw->err);
  auto* reply = static_cast<redisReply*>(redisCommand(raw, "SCRIPT FLUSH"));
  ASSERT_NE(reply, nullptr);
  freeReplyObject(reply);
  redisFree(raw);
  auto second = enqueue("after");
  EXPECT_NE(second, first);
  auto c = claim();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->id, second);
  EXPECT_TRUE(q_->complete(c->id, c->lease_token).ok());
}

INSTANTIATE_TEST_SUITE_P(redis, shared_redis_queue, ::testing::Values("redis"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) { return param_info.param; });

TEST(retry_delay, full_jitter_within_the_exponential_cap) {
  for (int attempt = 1; attempt <= 12; ++attempt) {
    const std::int64_t cap = std::min<std::int64_t>(300000, 1000LL << (attempt - 1));
    std::int64_t lo = cap, hi = 0;
    for (int i = 0; i < 2000; ++i) {
      const std::int64_t d = retry_delay_ms(attempt, 1000, 300000);
      ASSERT_GE(d, 0);
      ASSERT_LE(d, cap) << "attempt " << attempt;
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    // Full jitter spreads over the whole window, not just its top.
    EXPECT_LT(lo, cap / 4) << attempt;
    EXPECT_GT(hi, cap * 3 / 4) << attempt;
  }
  // No overflow for absurd attempt numbers; the cap holds.
  for (int attempt : {63, 64, 1000, 1 << 30}) EXPECT_LE(retry_delay_ms(attempt, 1000, 300000), 300000);
  EXPECT_EQ(retry_delay_ms(1, 0, 1000), 0);
  EXPECT_LE(retry_delay_ms(1, 5000, 1000), 1000);  // base above the cap
}

TEST(job_state, names_round_trip) {
  for (auto s : {job_state::waiting, job_state::delayed, job_state::active, job_state::completed, job_state::dead}) {
    EXPECT_EQ(job_state_from_name(job_state_name(s)), s);
  }
  EXPECT_FALSE(job_state_from_name("removed").has_value());
}

TEST(make_job_queue, unknown_backends_and_bad_urls_fail) {
  db::testing::scratch_database scratch("sqlite");
  core::queue_settings settings;
  settings.backend = "kafka";
  EXPECT_EQ(make_job_queue(settings, scratch.db()).err().code(), core::errc::invalid_argument);
  settings.backend = "redis";
  EXPECT_EQ(make_job_queue(settings, scratch.db()).err().code(), core::errc::invalid_argument);
  EXPECT_EQ(make_redis_queue("http://x", "p").err().code(), core::errc::invalid_argument);
  EXPECT_EQ(make_redis_queue("redis://127.0.0.1:1", "p").err().code(), core::errc::unavailable);
}

}  // namespace
}  // namespace wattos::infra::queue
