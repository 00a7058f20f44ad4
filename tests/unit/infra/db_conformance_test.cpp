// The SQL store's conformance suite: every case runs against SQLite and PostgreSQL.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <limits>
#include <thread>

#include "db_backends.hpp"

namespace wattos::infra::db {
namespace {

using testing::backend_test;

class conformance : public backend_test {};

TEST_P(conformance, values_round_trip) {
  ASSERT_TRUE(db().execute("CREATE TABLE v (i BIGINT, d DOUBLE PRECISION, t TEXT, b " +
                           std::string(db().kind() == dialect::postgres ? "BYTEA" : "BLOB") + ")")
                  .ok());
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  const std::int64_t small = std::numeric_limits<std::int64_t>::min();
  blob bytes{{0, 1, 2, 0, 255, 'x'}};
  for (std::int64_t i : {big, small, std::int64_t{0}}) {
    auto ins = db().execute("INSERT INTO v (i, d, t, b) VALUES (?, ?, ?, ?)",
                            {i, 3.25, std::string("Grüße aus Köln — ✓ 'quoted' ?"), bytes});
    ASSERT_TRUE(ins.ok()) << ins.err().message();
    EXPECT_EQ(ins->rows_affected, 1);
  }
  ASSERT_TRUE(db().execute("INSERT INTO v (i, d, t, b) VALUES (?, ?, ?, ?)",
                           {null_value(), null_value(), null_value(), null_value()})
                  .ok());
  auto rows = db().execute("SELECT i, d, t, b FROM v ORDER BY i");
  ASSERT_TRUE(rows.ok()) << rows.err().message();
  ASSERT_EQ(rows->rows.size(), 4u);
  EXPECT_EQ(rows->columns, (std::vector<std::string>{"i", "d", "t", "b"}));
  // NULLs sort first on SQLite and last on PostgreSQL: find rows by value.
  int nulls = 0;
  std::vector<std::int64_t> ints;
  for (const auto& r : rows->rows) {
    if (r.is_null(0)) {
      ++nulls;
      EXPECT_TRUE(r.is_null(1) && r.is_null(2) && r.is_null(3));
      EXPECT_EQ(r.get_int(0).err().code(), core::errc::invalid_argument);
      continue;
    }
    ints.push_back(*r.get_int("i"));
    EXPECT_DOUBLE_EQ(*r.get_double("d"), 3.25);
    EXPECT_EQ(*r.get_text("t"), "Grüße aus Köln — ✓ 'quoted' ?");
    EXPECT_EQ(*r.get_blob("b"), bytes);
    EXPECT_EQ(r.get_int("missing").err().code(), core::errc::not_found);
    EXPECT_EQ(r.get_text(0).err().code(), core::errc::invalid_argument);
  }
  EXPECT_EQ(nulls, 1);
  EXPECT_EQ(ints, (std::vector<std::int64_t>{small, 0, big}));
}

TEST_P(conformance, placeholder_count_must_match) {
  ASSERT_TRUE(db().execute("CREATE TABLE p (a INTEGER, b TEXT)").ok());
  auto few = db().execute("INSERT INTO p (a, b) VALUES (?, ?)", {std::int64_t{1}});
  ASSERT_FALSE(few.ok());
  EXPECT_EQ(few.err().code(), core::errc::invalid_argument);
  // A question mark inside a string literal is not a placeholder.
  auto literal = db().execute("INSERT INTO p (a, b) VALUES (?, 'what?')", {std::int64_t{2}});
  ASSERT_TRUE(literal.ok()) << literal.err().message();
  EXPECT_EQ(*db().execute("SELECT b FROM p WHERE a = ?", {std::int64_t{2}})->rows.at(0).get_text(0), "what?");
}

TEST_P(conformance, returning_gives_generated_values) {
  const char* create = db().kind() == dialect::postgres
                           ? "CREATE TABLE g (id BIGSERIAL PRIMARY KEY, name TEXT)"
                           : "CREATE TABLE g (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT)";
  ASSERT_TRUE(db().execute(create).ok());
  auto first = db().execute("INSERT INTO g (name) VALUES (?) RETURNING id", {std::string("a")});
  ASSERT_TRUE(first.ok()) << first.err().message();
  auto second = db().execute("INSERT INTO g (name) VALUES (?) RETURNING id", {std::string("b")});
  EXPECT_EQ(*second->rows.at(0).get_int(0), *first->rows.at(0).get_int(0) + 1);
}

TEST_P(conformance, unique_violation_is_already_exists) {
  ASSERT_TRUE(db().execute("CREATE TABLE u (k TEXT PRIMARY KEY)").ok());
  ASSERT_TRUE(db().execute("INSERT INTO u (k) VALUES (?)", {std::string("x")}).ok());
  auto dup = db().execute("INSERT INTO u (k) VALUES (?)", {std::string("x")});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.err().code(), core::errc::already_exists) << dup.err().message();
}

TEST_P(conformance, foreign_key_violation_is_conflict) {
  ASSERT_TRUE(db().execute("CREATE TABLE parent (id TEXT PRIMARY KEY)").ok());
  ASSERT_TRUE(
      db().execute("CREATE TABLE child (id TEXT PRIMARY KEY, parent_id TEXT NOT NULL REFERENCES parent(id))").ok());
  auto orphan =
      db().execute("INSERT INTO child (id, parent_id) VALUES (?, ?)", {std::string("c"), std::string("none")});
  ASSERT_FALSE(orphan.ok());
  EXPECT_EQ(orphan.err().code(), core::errc::conflict) << orphan.err().message();
}

TEST_P(conformance, syntax_error_is_an_error_value) {
  auto bad = db().execute("SELEC nonsense");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.err().code(), core::errc::internal);
  // The pool stays usable.
  EXPECT_TRUE(db().ping().ok());
}

TEST_P(conformance, transaction_commits_or_rolls_back) {
  ASSERT_TRUE(db().execute("CREATE TABLE acct (id TEXT PRIMARY KEY, n INTEGER NOT NULL)").ok());
  ASSERT_TRUE(db().execute("INSERT INTO acct (id, n) VALUES ('a', 10), ('b', 0)").ok());
  auto moved = db().transaction([](connection& c) -> core::status {
    WATTOS_RETURN_IF_ERROR(c.execute("UPDATE acct SET n = n - 5 WHERE id = 'a'"));
    WATTOS_RETURN_IF_ERROR(c.execute("UPDATE acct SET n = n + 5 WHERE id = 'b'"));
    return {};
  });
  ASSERT_TRUE(moved.ok()) << moved.err().message();
  auto failed = db().transaction([](connection& c) -> core::status {
    WATTOS_RETURN_IF_ERROR(c.execute("UPDATE acct SET n = n - 5 WHERE id = 'a'"));
    return core::error::failed_precondition("changed my mind");
  });
  EXPECT_EQ(failed.err().code(), core::errc::failed_precondition);
  EXPECT_THROW((void)db().transaction([](connection& c) -> core::status {
    (void)c.execute("UPDATE acct SET n = 0");
    throw std::runtime_error("bug");
  }),
               std::runtime_error);
  auto rows = db().execute("SELECT id, n FROM acct ORDER BY id");
  EXPECT_EQ(*rows->rows.at(0).get_int(1), 5);
  EXPECT_EQ(*rows->rows.at(1).get_int(1), 5);
}

TEST_P(conformance, pool_exhaustion_times_out_as_unavailable) {
  testing::scratch_database small(GetParam(), 1);
  auto held = small.db().acquire();
  ASSERT_TRUE(held.ok());
  auto second = small.db().execute("SELECT 1");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.err().code(), core::errc::unavailable);
  EXPECT_NE(second.err().message().find("no free database connection"), std::string::npos);
}

TEST_P(conformance, concurrent_transactions_lose_no_update) {
  ASSERT_TRUE(db().execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)").ok());
  ASSERT_TRUE(db().execute("INSERT INTO counter (id, n) VALUES (1, 0)").ok());
  constexpr int threads = 4;
  constexpr int per_thread = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        auto st = db().transaction([](connection& c) -> core::status {
          // Read-modify-write: lost updates would show if transactions interleaved.
          const char* lock = c.kind() == dialect::postgres ? " FOR UPDATE" : "";
          WATTOS_ASSIGN_OR_RETURN(auto rows, c.execute(std::string("SELECT n FROM counter WHERE id = 1") + lock));
          WATTOS_ASSIGN_OR_RETURN(auto n, rows.rows.at(0).get_int(0));
          WATTOS_RETURN_IF_ERROR(c.execute("UPDATE counter SET n = ? WHERE id = 1", {n + 1}));
          return {};
        });
        if (!st.ok()) ++failures;
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(*db().execute("SELECT n FROM counter")->rows.at(0).get_int(0), threads * per_thread);
}

TEST_P(conformance, execute_runs_one_statement_script_runs_many) {
  if (GetParam() == "sqlite") {
    auto two = db().execute("CREATE TABLE x1 (a INTEGER); CREATE TABLE x2 (a INTEGER)");
    EXPECT_EQ(two.err().code(), core::errc::invalid_argument);
  }
  ASSERT_TRUE(db().execute("CREATE TABLE s (a INTEGER)").ok());
  auto script = db().acquire();
  ASSERT_TRUE(script.ok());
  ASSERT_TRUE((*script)->execute_script("INSERT INTO s VALUES (1); INSERT INTO s VALUES (2);").ok());
  EXPECT_EQ(db().execute("SELECT a FROM s")->rows.size(), 2u);
}

// A statement the backend keeps prepared (SQLite caches them per connection) runs again
// after its table changed under it, as when another process migrates: it returns the
// new columns, not the old ones.
TEST_P(conformance, a_kept_statement_sees_its_changed_table) {
  auto lease = db().acquire();
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE((*lease)->execute("CREATE TABLE k (a INTEGER)", {}).ok());
  ASSERT_TRUE((*lease)->execute("INSERT INTO k (a) VALUES (1)", {}).ok());
  auto before = (*lease)->execute("SELECT * FROM k", {});
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->columns.size(), 1u);
  ASSERT_TRUE((*lease)->execute("ALTER TABLE k ADD COLUMN b TEXT", {}).ok());
  ASSERT_TRUE((*lease)->execute("UPDATE k SET b = 'neu'", {}).ok());
  auto after = (*lease)->execute("SELECT * FROM k", {});
  ASSERT_TRUE(after.ok()) << after.err().message();
  ASSERT_EQ(after->columns.size(), 2u);
  ASSERT_EQ(after->rows.size(), 1u);
  EXPECT_EQ(*after->rows.at(0).get_text("b"), "neu");
  EXPECT_EQ(*after->rows.at(0).get_int("a"), 1);
}

TEST_P(conformance, ping_answers) {
  EXPECT_TRUE(db().ping().ok());
}

INSTANTIATE_TEST_SUITE_P(backends, conformance, ::testing::Values("sqlite", "postgres"), testing::backend_name);

// An SQLite file of its own in a fresh temp directory, removed with it (also when an
// assertion ends the test early).
struct scratch_sqlite_file {
  explicit scratch_sqlite_file(const std::string& name)
      : dir(std::filesystem::temp_directory_path() / ("wattos-" + name + "-" + core::random_hex(8))) {
    std::filesystem::create_directories(dir);
    settings.backend = "sqlite";
    settings.sqlite_path = (dir / (name + ".db")).string();
  }
  ~scratch_sqlite_file() { std::filesystem::remove_all(dir); }
  scratch_sqlite_file(const scratch_sqlite_file&) = delete;
  scratch_sqlite_file& operator=(const scratch_sqlite_file&) = delete;

  std::filesystem::path dir;
  core::database_settings settings;
};

// Commits never checkpoint inline: a commit that takes the WAL past 1000 pages wakes
// the file's checkpointer thread, which copies the pages into the database file.
TEST(sqlite_checkpoints, run_on_the_background_thread) {
  const scratch_sqlite_file file("ckpt");
  const core::database_settings& s = file.settings;
  {
    auto opened = database::open(s);
    ASSERT_TRUE(opened.ok()) << opened.err().message();
    database& db = **opened;
    ASSERT_TRUE(db.execute("CREATE TABLE pages (id INTEGER PRIMARY KEY, body BLOB NOT NULL)").ok());
    const auto before_writes = std::filesystem::file_size(s.sqlite_path);
    const std::uint64_t seen = sqlite_background_checkpoints(s.sqlite_path);
    const blob body{std::vector<std::uint8_t>(std::size_t{64} * 1024, 0x5a)};
    for (int i = 0; i < 80; ++i) {  // 5 MiB: about 1300 pages of 4 KiB
      ASSERT_TRUE(db.execute("INSERT INTO pages (body) VALUES (?)", {body}).ok());
    }
    ASSERT_TRUE(wait_for_sqlite_checkpoint(s.sqlite_path, seen, std::chrono::seconds(30)))
        << "no background checkpoint after 5 MiB of commits";
    EXPECT_GT(std::filesystem::file_size(s.sqlite_path), before_writes + std::uintmax_t{2} * 1024 * 1024)
        << "the checkpoint did not copy the pages into the database file";
    auto rows = db.execute("SELECT count(*) AS n, sum(length(body)) AS bytes FROM pages", {});
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ(*rows->rows.at(0).get_int("n"), 80);
    EXPECT_EQ(*rows->rows.at(0).get_int("bytes"), 80 * 64 * 1024);
  }
}

// Readers that always overlap (a new one begins before the last one ends) keep the WAL in
// use: PASSIVE checkpoints copy its pages but the log is never started again from its
// beginning, so it grew with every commit. Past a limit the checkpointer truncates it
// (it waits for the readers of the moment; new ones read the database file meanwhile).
TEST(sqlite_checkpoints, the_wal_stays_bounded_while_readers_always_overlap) {
  const scratch_sqlite_file file("wal");
  const core::database_settings& s = file.settings;
  const std::string wal_path = s.sqlite_path + "-wal";
  {
    auto opened = database::open(s);
    ASSERT_TRUE(opened.ok()) << opened.err().message();
    database& db = **opened;
    ASSERT_TRUE(db.execute("CREATE TABLE pages (id INTEGER PRIMARY KEY, body BLOB NOT NULL)").ok());
    // Raw connections: the pool's own reads are single statements; these hold their
    // snapshot across two, as overlapping reads of several threads or processes do.
    sqlite3* first_reader = nullptr;
    sqlite3* second_reader = nullptr;
    ASSERT_EQ(sqlite3_open(s.sqlite_path.c_str(), &first_reader), SQLITE_OK);
    ASSERT_EQ(sqlite3_open(s.sqlite_path.c_str(), &second_reader), SQLITE_OK);
    std::atomic<bool> stop{false};
    std::atomic<std::int64_t> handovers{0};
    std::thread readers([&] {
      sqlite3* current = first_reader;
      sqlite3* next = second_reader;
      auto begin_read = [](sqlite3* c) {
        sqlite3_exec(c, "BEGIN; SELECT count(*) FROM pages;", nullptr, nullptr, nullptr);  // takes the snapshot
      };
      begin_read(current);
      while (!stop.load()) {
        begin_read(next);  // begins before the current one ends: never a moment without a reader
        sqlite3_exec(current, "COMMIT", nullptr, nullptr, nullptr);
        std::swap(current, next);
        handovers.fetch_add(1);
      }
      sqlite3_exec(current, "COMMIT", nullptr, nullptr, nullptr);
    });
    auto finish_readers = [&] {
      if (!readers.joinable()) return;
      stop.store(true);
      readers.join();
      sqlite3_close(first_reader);
      sqlite3_close(second_reader);
    };
    struct at_exit {  // also when an assertion returns early
      std::function<void()> run;
      ~at_exit() { run(); }
    } finish_at_exit{finish_readers};
    // Writes without a pause until the WAL is seen to shrink (a pass truncated it). The
    // bound is in checkpoint passes (each at least 100 ms after the last), not in bytes:
    // a pass that copies a large WAL takes long, and the writes go on meanwhile. Without
    // the truncation the file only ever grows.
    const blob body{std::vector<std::uint8_t>(std::size_t{64} * 1024, 0x5a)};
    const std::uint64_t passes_at_start = sqlite_background_checkpoints(s.sqlite_path);
    constexpr std::uint64_t most_passes = 40;
    constexpr int most_rows = 8192;  // 512 MiB: a bound on the disk a broken build would fill
    std::uintmax_t largest_wal = 0;
    bool shrank = false;
    int rows = 0;
    while (!shrank && rows < most_rows &&
           sqlite_background_checkpoints(s.sqlite_path) < passes_at_start + most_passes) {
      auto inserted = db.execute("INSERT INTO pages (body) VALUES (?)", {body});
      ASSERT_TRUE(inserted.ok()) << rows << ": " << inserted.err().message();
      ++rows;
      const std::uintmax_t wal = std::filesystem::file_size(wal_path);
      shrank = wal < largest_wal;
      largest_wal = std::max(largest_wal, wal);
    }
    finish_readers();
    EXPECT_GT(handovers.load(), 0);
    EXPECT_TRUE(shrank) << "the WAL grew to " << largest_wal << " bytes over " << rows << " commits and "
                        << sqlite_background_checkpoints(s.sqlite_path) - passes_at_start << " passes";
    auto count = db.execute("SELECT count(*) AS n FROM pages", {});
    ASSERT_TRUE(count.ok());
    EXPECT_EQ(*count->rows.at(0).get_int("n"), rows);
  }
}

TEST(database_open, bad_settings_fail_with_errors) {
  core::database_settings s;
  s.backend = "sqlite";
  s.sqlite_path = "";
  EXPECT_EQ(database::open(s).err().code(), core::errc::invalid_argument);
  s.sqlite_path = "/nonexistent-dir/sub/x.db";
  EXPECT_EQ(database::open(s).err().code(), core::errc::unavailable);
  s.backend = "postgres";
  s.postgres_url = "postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2";
  auto pg = database::open(s);
  ASSERT_FALSE(pg.ok());
  EXPECT_EQ(pg.err().code(), core::errc::unavailable);
  EXPECT_EQ(pg.err().message().find("secret"), std::string::npos) << "password leaked into: " << pg.err().message();
  s.backend = "oracle";
  EXPECT_EQ(database::open(s).err().code(), core::errc::invalid_argument);
}

TEST(placeholders, rewritten_outside_quotes_and_comments) {
  auto [sql, n] = to_postgres_placeholders("SELECT ?, '?', \"a?\", 'it''s ?' -- why?\n, ? FROM t WHERE x = ?");
  EXPECT_EQ(sql, "SELECT $1, '?', \"a?\", 'it''s ?' -- why?\n, $2 FROM t WHERE x = $3");
  EXPECT_EQ(n, 3);
}

}  // namespace
}  // namespace wattos::infra::db
