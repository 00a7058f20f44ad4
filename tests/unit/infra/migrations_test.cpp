#include "infra/db/migrations.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "db_backends.hpp"

namespace wattos::infra::db {
namespace {

using testing::backend_test;

class migrations : public backend_test {};

const std::vector<migration> notes_v2 = {
    {1, "notes", "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)", ""},
    {2, "notes_tags", "ALTER TABLE notes ADD COLUMN tags TEXT; CREATE INDEX notes_tags_idx ON notes (tags)", ""},
};

TEST_P(migrations, apply_once_and_rerun_is_a_no_op) {
  ASSERT_TRUE(migrate(db(), "notes", notes_v2).ok());
  ASSERT_TRUE(migrate(db(), "notes", notes_v2).ok());
  auto applied = applied_migrations(db(), "notes");
  ASSERT_TRUE(applied.ok());
  ASSERT_EQ(applied->size(), 2u);
  EXPECT_EQ((*applied)[1].version, 2);
  EXPECT_EQ((*applied)[1].name, "notes_tags");
  EXPECT_FALSE((*applied)[1].applied_at.empty());
  EXPECT_TRUE(db().execute("INSERT INTO notes (id, body, tags) VALUES ('a', 'b', 'c')").ok());
  // Components are independent.
  EXPECT_TRUE(applied_migrations(db(), "other")->empty());
}

TEST_P(migrations, failing_migration_leaves_nothing_half_applied) {
  std::vector<migration> broken = {
      notes_v2[0],
      {2, "half", "CREATE TABLE half_done (a INTEGER); INSERT INTO no_such_table VALUES (1)", ""},
  };
  auto st = migrate(db(), "notes", broken);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.err().message().find("migration notes 2 (half)"), std::string::npos) << st.err().message();
  EXPECT_EQ(applied_migrations(db(), "notes")->size(), 1u);
  EXPECT_FALSE(db().execute("SELECT * FROM half_done").ok());  // rolled back with the failed step
}

TEST_P(migrations, renamed_applied_migration_is_refused) {
  ASSERT_TRUE(migrate(db(), "notes", notes_v2).ok());
  auto tampered = notes_v2;
  tampered[0].name = "notes_renamed";
  auto st = migrate(db(), "notes", tampered);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.err().code(), core::errc::failed_precondition);
}

TEST_P(migrations, database_newer_than_program_is_refused) {
  ASSERT_TRUE(migrate(db(), "notes", notes_v2).ok());
  std::vector<migration> older(notes_v2.begin(), notes_v2.begin() + 1);
  auto st = migrate(db(), "notes", older);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.err().code(), core::errc::failed_precondition);
}

TEST_P(migrations, versions_must_increase) {
  std::vector<migration> unordered = {notes_v2[1], notes_v2[0]};
  EXPECT_EQ(migrate(db(), "notes", unordered).err().code(), core::errc::invalid_argument);
}

TEST_P(migrations, dialect_specific_sql_is_used) {
  std::vector<migration> m = {{1, "ids", "CREATE TABLE ids (id INTEGER PRIMARY KEY AUTOINCREMENT)",
                               "CREATE TABLE ids (id BIGSERIAL PRIMARY KEY)"}};
  EXPECT_TRUE(migrate(db(), "ids", m).ok());
}

TEST_P(migrations, concurrent_migrators_apply_each_migration_once) {
  std::vector<std::thread> starters;
  starters.reserve(4);
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    starters.emplace_back([&] {
      // Each "replica" has its own pool, as separate processes would.
      auto own = database::open(scratch().settings());
      if (!own || !migrate(**own, "notes", notes_v2).ok()) ++failures;
    });
  }
  for (auto& t : starters) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(applied_migrations(db(), "notes")->size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(backends, migrations, ::testing::Values("sqlite", "postgres"), testing::backend_name);

}  // namespace
}  // namespace wattos::infra::db
