#include "api/audit_log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "audit_refusal.hpp"
#include "db_backends.hpp"

namespace wattos::api {
namespace {

class audit_chain : public infra::db::testing::backend_test {
 protected:
  void SetUp() override {
    backend_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(infra::db::migrate(db(), "audit", audit_log::migrations()).ok());
  }
  audit_event event(int i) {
    return {"user:u" + std::to_string(i % 3), "users.update", "user:x", "200", "req-" + std::to_string(i), "10.0.0.1",
            "detail " + std::to_string(i)};
  }
};

TEST_P(audit_chain, appended_rows_verify_and_query_newest_first) {
  audit_log log(db());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(log.append(event(i)).ok());
  auto report = log.verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->intact);
  EXPECT_EQ(report->rows, 10);
  EXPECT_EQ(report->last_hash.size(), 64u);
  auto rows = log.query({.actor = "user:u1", .limit = 100});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u);  // i = 1, 4, 7
  EXPECT_EQ((*rows)[0].event.request_id, "req-7");
  auto page = log.query({.before_seq = 3, .limit = 10});
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].seq, 2);
}

TEST_P(audit_chain, edited_row_is_detected) {
  audit_log log(db());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(log.append(event(i)).ok());
  ASSERT_TRUE(db().execute("UPDATE audit_log SET outcome = '403' WHERE seq = 3").ok());
  auto report = log.verify();
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->intact);
  EXPECT_EQ(report->first_broken_seq, 3);
  EXPECT_NE(report->problem.find("edited"), std::string::npos);
}

TEST_P(audit_chain, deleted_row_is_detected) {
  audit_log log(db());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(log.append(event(i)).ok());
  ASSERT_TRUE(db().execute("DELETE FROM audit_log WHERE seq = 2").ok());
  auto report = log.verify();
  EXPECT_FALSE(report->intact);
  EXPECT_EQ(report->first_broken_seq, 3);
  EXPECT_NE(report->problem.find("missing"), std::string::npos);
}

TEST_P(audit_chain, rewritten_chain_from_the_middle_is_detected_by_the_link) {
  audit_log log(db());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(log.append(event(i)).ok());
  // An attacker who recomputes row 2's own hash still breaks row 3's link.
  auto rows = log.query({.limit = 10});
  auto row2 = (*rows)[2];
  ASSERT_EQ(row2.seq, 2);
  row2.event.outcome = "forged";
  auto new_hash = audit_row_hash(row2.prev_hash, row2.seq, row2.at_ms, row2.event);
  ASSERT_TRUE(db().execute("UPDATE audit_log SET outcome = 'forged', hash = ? WHERE seq = 2", {new_hash}).ok());
  auto report = log.verify();
  EXPECT_FALSE(report->intact);
  EXPECT_EQ(report->first_broken_seq, 3);
}

TEST_P(audit_chain, concurrent_appends_keep_one_chain) {
  std::vector<std::thread> writers;
  writers.reserve(4);
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      audit_log log(db());
      for (int i = 0; i < 15; ++i) {
        if (!log.append(event(t * 100 + i)).ok()) ++failures;
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(failures.load(), 0);
  auto report = audit_log(db()).verify();
  EXPECT_TRUE(report->intact) << report->problem;
  EXPECT_EQ(report->rows, 60);
}

// Many coroutines on two I/O threads and several blocking threads append at once, through
// two audit_log objects (two writers on one store, as two gateway processes): one
// unbroken chain, every row there once.
TEST_P(audit_chain, group_commit_from_coroutines_and_threads_keeps_one_chain) {
  audit_log first(db());
  audit_log second(db());
  boost::asio::io_context io;
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  auto append_one = [&](audit_log& log, int i) -> boost::asio::awaitable<void> {
    auto st = co_await log.append_async(event(i));
    (st.ok() ? ok : failed)++;
  };
  for (int i = 0; i < 200; ++i) {
    boost::asio::co_spawn(io, append_one(i % 2 == 0 ? first : second, i), boost::asio::detached);
  }
  std::vector<std::thread> threads;
  threads.emplace_back([&] { io.run(); });
  threads.emplace_back([&] { io.run(); });
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i)
        (((t % 2 == 0 ? first : second).append(event(1000 + t * 100 + i)).ok()) ? ok : failed)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 300);
  EXPECT_EQ(failed.load(), 0);
  auto report = first.verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->intact) << report->problem;
  EXPECT_EQ(report->rows, 300);
  const auto a = first.stats();
  const auto b = second.stats();
  EXPECT_EQ(a.rows + b.rows, 300);
  EXPECT_EQ(a.failed_batches + b.failed_batches, 0);
  // Each request id once: no row lost or written twice.
  auto rows = first.query({.limit = 1000});
  ASSERT_TRUE(rows.ok());
  std::set<std::string> ids;
  for (const auto& r : *rows) ids.insert(r.event.request_id);
  EXPECT_EQ(ids.size(), 300u);
}

// Events that queue up while the writer is busy go into one transaction, chained in order.
TEST_P(audit_chain, pending_events_are_written_in_one_batch) {
  audit_log log(db());
  ASSERT_TRUE(log.append(event(0)).ok());
  log.hold_writer_for_test();
  boost::asio::io_context io;
  std::vector<core::status> results(100, core::error::internal("not completed"));
  auto append_one = [&](int i) -> boost::asio::awaitable<void> {
    results[i] = co_await log.append_async(event(i + 1));
  };
  for (int i = 0; i < 100; ++i) boost::asio::co_spawn(io, append_one(i), boost::asio::detached);
  io.poll();  // every coroutine has handed its event over and waits
  EXPECT_EQ(log.pending_for_test(), 100u);
  log.release_writer_for_test();
  io.run();  // returns once every coroutine resumed: the io_context is busy while they wait
  for (const auto& st : results) EXPECT_TRUE(st.ok());
  EXPECT_EQ(log.stats().batches, 2);  // the first append, then the hundred together
  EXPECT_EQ(log.stats().rows, 101);
  auto report = log.verify();
  EXPECT_TRUE(report->intact) << report->problem;
  EXPECT_EQ(report->rows, 101);
  auto rows = log.query({.limit = 1});
  EXPECT_EQ((*rows)[0].event.request_id, "req-100");  // queue order is chain order
}

// A batch whose transaction fails fails every event of it; nothing of it is written,
// and the chain goes on intact once the store works again.
TEST_P(audit_chain, failed_commit_reports_failure_to_every_waiter_of_the_batch) {
  audit_log log(db());
  ASSERT_TRUE(log.append(event(0)).ok());
  log.hold_writer_for_test();
  boost::asio::io_context io;
  std::vector<core::status> results(50);
  auto append_one = [&](int i) -> boost::asio::awaitable<void> {
    results[i] = co_await log.append_async(event(i + 1));
  };
  for (int i = 0; i < 50; ++i) boost::asio::co_spawn(io, append_one(i), boost::asio::detached);
  io.poll();
  ASSERT_EQ(log.pending_for_test(), 50u);
  // The batch's INSERT fails (after the head was read): a trigger refuses new rows.
  ASSERT_TRUE(testing::refuse_audit_rows(db()));
  log.release_writer_for_test();
  io.run();
  for (const auto& st : results) EXPECT_FALSE(st.ok());
  EXPECT_EQ(log.stats().failed_batches, 1);
  ASSERT_TRUE(testing::accept_audit_rows(db()));
  ASSERT_TRUE(log.append(event(99)).ok());
  auto report = log.verify();
  EXPECT_TRUE(report->intact) << report->problem;
  EXPECT_EQ(report->rows, 2);  // nothing of the failed batch
}

INSTANTIATE_TEST_SUITE_P(backends, audit_chain, ::testing::Values("sqlite", "postgres"),
                         infra::db::testing::backend_name);

}  // namespace
}  // namespace wattos::api
