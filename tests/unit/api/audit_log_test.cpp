#include "api/audit_log.hpp"

#include <gtest/gtest.h>

#include <thread>

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

INSTANTIATE_TEST_SUITE_P(backends, audit_chain, ::testing::Values("sqlite", "postgres"),
                         infra::db::testing::backend_name);

}  // namespace
}  // namespace wattos::api
