// The SQLite backend: one sqlite3 handle per connection, WAL mode, busy timeout,
// foreign keys on.
//
// SQLite allows one writer per file. Left to itself, a second pooled connection that
// wants to write gets SQLITE_BUSY and its busy handler sleeps and polls (1, 2, 5, 10 ms
// and more): under concurrent writes that put milliseconds of sleep into requests.
// So the connections of one file in this process take turns at a writer gate first (a
// timed mutex, bounded by busy_timeout_ms), held for one writing statement or for a
// whole BEGIN IMMEDIATE ... COMMIT; the busy handler is left for other processes.
//
// Checkpoints run on a thread of their own per file. SQLite's automatic checkpoint runs
// inside the COMMIT that takes the WAL past 1000 pages: that commit copies the pages
// into the database and syncs both files (3 to 10 ms on this project's machines), and
// with the audit log's group commit every request in the batch waited for it. Here a
// commit only wakes the checkpointer (PASSIVE: it blocks no reader and no writer), so a
// request never waits for a sync (synchronous=NORMAL syncs only at checkpoints).
// PASSIVE never starts the WAL again from its beginning while some reader still reads
// from it, and readers that always overlap always do: past a limit the checkpointer
// runs a TRUNCATE checkpoint, which holds writers back (up to a bounded wait) until the
// readers of the moment are done, then empties the WAL.
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/log.hpp"
#include "infra/db/database.hpp"

namespace wattos::infra::db {
namespace {

core::error sqlite_error(sqlite3* handle, int rc, std::string_view what) {
  const int extended = handle ? sqlite3_extended_errcode(handle) : rc;
  std::string message = std::string(what) + ": " + (handle ? sqlite3_errmsg(handle) : sqlite3_errstr(rc));
  switch (extended) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return core::error::already_exists(std::move(message));
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return core::error::conflict(std::move(message));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
      return core::error::unavailable(std::move(message));
    case SQLITE_TOOBIG:
      return core::error::payload_too_large(std::move(message));
    case SQLITE_RANGE:
      return core::error::invalid_argument(std::move(message));
    default:
      return core::error::internal(std::move(message));
  }
}

// One T per database file, shared by the pool's connections to it: made by `make` when
// no connection holds one, gone with the last connection.
template <class T, class Make>
std::shared_ptr<T> shared_per_file(const std::string& path, Make make) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::weak_ptr<T>> registry;
  std::lock_guard lock(registry_mutex);
  auto& slot = registry[path];
  auto shared = slot.lock();
  if (!shared) {
    shared = make();
    slot = shared;
  }
  return shared;
}

// The writers of one file in this process take turns here (see the top of this file).
// A mutex and a condition variable rather than a std::timed_mutex, so that the
// checkpointer's truncation can go first: a writer that commits in a loop takes a
// timed_mutex back before a waiter wakes, every time.
class writer_gate {
 public:
  bool try_lock_for(std::chrono::milliseconds wait) { return acquire(wait, false); }
  // Ahead of every writer that is waiting or comes later.
  bool try_lock_first_for(std::chrono::milliseconds wait) { return acquire(wait, true); }
  void unlock() {
    {
      std::lock_guard lock(mutex_);
      held_ = false;
    }
    released_.notify_all();
  }

 private:
  bool acquire(std::chrono::milliseconds wait, bool first) {
    std::unique_lock lock(mutex_);
    if (first) ++first_waiting_;
    const bool got = released_.wait_for(lock, wait, [&] { return !held_ && (first || first_waiting_ == 0); });
    if (first) --first_waiting_;
    if (got) {
      held_ = true;
    } else if (first) {
      released_.notify_all();  // writers held back by this wait may go
    }
    return got;
  }

  std::mutex mutex_;
  std::condition_variable released_;
  bool held_ = false;
  int first_waiting_ = 0;
};

// One gate per database file, shared by the pool's connections to it.
std::shared_ptr<writer_gate> writer_gate_for(const std::string& path) {
  return shared_per_file<writer_gate>(path, [] { return std::make_shared<writer_gate>(); });
}

// WAL pages after which a commit asks for a checkpoint: SQLite's own default.
constexpr int checkpoint_after_pages = 1000;
constexpr auto min_pass_interval = std::chrono::milliseconds(100);
// WAL pages past which a pass truncates the WAL (16 MiB at 4 KiB pages), and how long
// that pass may hold writers back waiting for readers before it gives up until the next.
constexpr int truncate_after_pages = 4 * checkpoint_after_pages;
constexpr int truncate_wait_ms = 250;

// Runs PASSIVE checkpoints of one file on its own thread and connection, when a commit
// asks for one; the thread starts with the first request.
class wal_checkpointer {
 public:
  explicit wal_checkpointer(std::string path) : path_(std::move(path)), writer_gate_(writer_gate_for(path_)) {}
  wal_checkpointer(const wal_checkpointer&) = delete;
  wal_checkpointer& operator=(const wal_checkpointer&) = delete;
  ~wal_checkpointer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  void request() {
    {
      std::lock_guard lock(mutex_);
      if (pending_ || stopping_) return;
      pending_ = true;
      if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    }
    wake_.notify_all();
  }

  std::uint64_t completed() {
    std::lock_guard lock(mutex_);
    return completed_;
  }

  bool wait_completed_beyond(std::uint64_t seen, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return done_.wait_for(lock, timeout, [&] { return completed_ > seen; });
  }

  // Called by SQLite after each commit in WAL mode, with the pages now in the WAL.
  static int on_commit(void* self, sqlite3* handle, const char* schema, int wal_pages) {
    if (wal_pages < checkpoint_after_pages) return SQLITE_OK;
    auto* checkpointer = static_cast<wal_checkpointer*>(self);
    if (checkpointer->unusable_.load(std::memory_order_relaxed)) {
      // The thread could not open the file: checkpoint here, as SQLite would, rather
      // than let the WAL grow without bound.
      sqlite3_wal_checkpoint_v2(handle, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } else {
      checkpointer->request();
    }
    return SQLITE_OK;
  }

 private:
  void run() {
    sqlite3* handle = nullptr;
    // A connection sees the file's WAL only once it has read the database: before that
    // a checkpoint is a no-op (it reports -1 pages), hence the read.
    if (sqlite3_open_v2(path_.c_str(), &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK ||
        sqlite3_exec(handle, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr) != SQLITE_OK) {
      core::log_warn("sqlite checkpointer cannot open the database; commits checkpoint themselves",
                     {{"path", path_}, {"error", handle ? sqlite3_errmsg(handle) : "out of memory"}});
      sqlite3_close_v2(handle);
      unusable_.store(true, std::memory_order_relaxed);
      return;
    }
    // Only the TRUNCATE pass waits: PASSIVE never calls the busy handler.
    sqlite3_busy_timeout(handle, truncate_wait_ms);
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return pending_ || stopping_; });
      if (stopping_) break;
      pending_ = false;
      lock.unlock();
      int wal_pages = 0;
      int copied = 0;
      int rc = sqlite3_wal_checkpoint_v2(handle, nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_pages, &copied);
      if (rc == SQLITE_OK && wal_pages > truncate_after_pages) {
        // This process's writers wait at their gate meanwhile (the pass goes first):
        // between their commits it would hardly ever get SQLite's write lock. Busy (the
        // gate, or readers still on the WAL after the wait): the next pass tries again.
        if (writer_gate_->try_lock_first_for(std::chrono::milliseconds(truncate_wait_ms))) {
          rc = sqlite3_wal_checkpoint_v2(handle, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
          writer_gate_->unlock();
        } else {
          rc = SQLITE_BUSY;
        }
      }
      if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        core::log_warn("sqlite checkpoint failed", {{"path", path_}, {"error", sqlite3_errmsg(handle)}});
      }
      lock.lock();
      ++completed_;
      done_.notify_all();
      // While readers keep overlapping, no pass completes, the WAL is never reset and
      // every commit asks again: a pass (and its sync) at most every 100 ms, then.
      wake_.wait_for(lock, min_pass_interval, [&] { return stopping_; });
    }
    lock.unlock();
    sqlite3_close_v2(handle);
  }

  const std::string path_;
  const std::shared_ptr<writer_gate> writer_gate_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  bool pending_ = false;
  bool stopping_ = false;
  std::atomic<bool> unusable_{false};
  std::uint64_t completed_ = 0;
  std::thread thread_;
};

std::shared_ptr<wal_checkpointer> checkpointer_for(const std::string& path) {
  return shared_per_file<wal_checkpointer>(path, [&] { return std::make_shared<wal_checkpointer>(path); });
}

bool starts_with_keyword(std::string_view sql, std::string_view keyword) {
  while (!sql.empty() && std::isspace(static_cast<unsigned char>(sql.front()))) sql.remove_prefix(1);
  if (sql.size() < keyword.size()) return false;
  for (std::size_t i = 0; i < keyword.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(sql[i])) != keyword[i]) return false;
  }
  return true;
}

class sqlite_connection final : public connection {
 public:
  sqlite_connection(sqlite3* handle, std::shared_ptr<writer_gate> gate, std::chrono::milliseconds wait,
                    std::shared_ptr<wal_checkpointer> checkpointer)
      : handle_(handle), gate_(std::move(gate)), gate_wait_(wait), checkpointer_(std::move(checkpointer)) {
    // Replaces the automatic checkpoint inside COMMIT (see the top of this file).
    sqlite3_wal_hook(handle_, &wal_checkpointer::on_commit, checkpointer_.get());
  }
  ~sqlite_connection() override {
    if (holds_gate_) gate_->unlock();
    finalize_statements();
    sqlite3_close_v2(handle_);  // before checkpointer_ goes: the hook points at it
  }

  core::result<query_result> execute(std::string_view sql, const std::vector<value>& params) override {
    // BEGIN IMMEDIATE takes the gate until COMMIT or ROLLBACK; any other writing
    // statement outside a transaction takes it for itself.
    const bool begins = starts_with_keyword(sql, "BEGIN");
    const bool ends =
        starts_with_keyword(sql, "COMMIT") || starts_with_keyword(sql, "ROLLBACK") || starts_with_keyword(sql, "END");
    if (begins && !holds_gate_) {
      if (!gate_->try_lock_for(gate_wait_)) return core::error::unavailable("database is busy (writer gate)");
      holds_gate_ = true;
      auto result = run(sql, params);
      if (!result.ok()) {
        holds_gate_ = false;
        gate_->unlock();
      }
      return result;
    }
    if (ends) {
      auto result = run(sql, params);
      if (holds_gate_ && sqlite3_get_autocommit(handle_) != 0) {
        holds_gate_ = false;
        gate_->unlock();
      }
      return result;
    }
    if (holds_gate_ || is_read_only(sql)) return run(sql, params);
    std::unique_lock lock(*gate_, std::defer_lock);
    if (!lock.try_lock_for(gate_wait_)) return core::error::unavailable("database is busy (writer gate)");
    return run(sql, params);
  }

 private:
  bool is_read_only(std::string_view sql) const {
    return starts_with_keyword(sql, "SELECT") || starts_with_keyword(sql, "PRAGMA") ||
           (starts_with_keyword(sql, "WITH") && sql.find("INSERT") == std::string_view::npos &&
            sql.find("UPDATE") == std::string_view::npos && sql.find("DELETE") == std::string_view::npos);
  }

  // The prepared statement for `sql`, from the cache or newly prepared and cached.
  // Parsing and planning was 40% of the SQLite time of a chat under load; the stores
  // run the same few statements over and over.
  core::result<sqlite3_stmt*> prepared(std::string_view sql) {
    if (auto it = statements_.find(sql); it != statements_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(handle_, sql.data(), static_cast<int>(sql.size()), &stmt, &tail);
    if (rc != SQLITE_OK) return sqlite_error(handle_, rc, "prepare");
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> guard(stmt, &sqlite3_finalize);
    if (!stmt) return core::error::invalid_argument("empty SQL statement");
    for (const char* p = tail; p && p < sql.data() + sql.size(); ++p) {
      if (!std::isspace(static_cast<unsigned char>(*p)) && *p != ';') {
        return core::error::invalid_argument("execute runs one statement; use execute_script for several");
      }
    }
    // Statements built with varying text (IN lists) would fill the cache: past its
    // bound it starts again.
    if (statements_.size() >= max_cached_statements) finalize_statements();
    statements_.emplace(std::string(sql), guard.get());
    return guard.release();
  }

  void finalize_statements() {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    statements_.clear();
  }

  // Binds and steps one statement; leaves it reset, with no bindings, for its next use
  // (a statement left mid-step would hold its read snapshot and stall checkpoints).
  core::result<query_result> run(std::string_view sql, const std::vector<value>& params) {
    WATTOS_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, prepared(sql));
    struct reset_after_use {
      sqlite3_stmt* stmt;
      ~reset_after_use() {
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
      }
    } reset{stmt};
    int rc = SQLITE_OK;
    const int expected = sqlite3_bind_parameter_count(stmt);
    if (expected != static_cast<int>(params.size())) {
      return core::error::invalid_argument("statement has " + std::to_string(expected) + " parameters, " +
                                           std::to_string(params.size()) + " given");
    }
    for (int i = 0; i < expected; ++i) {
      const value& v = params[static_cast<std::size_t>(i)];
      switch (v.index()) {
        case 0:
          rc = sqlite3_bind_null(stmt, i + 1);
          break;
        case 1:
          rc = sqlite3_bind_int64(stmt, i + 1, std::get<std::int64_t>(v));
          break;
        case 2:
          rc = sqlite3_bind_double(stmt, i + 1, std::get<double>(v));
          break;
        case 3: {
          const auto& s = std::get<std::string>(v);
          rc = sqlite3_bind_text64(stmt, i + 1, s.data(), s.size(), SQLITE_STATIC, SQLITE_UTF8);
          break;
        }
        default: {
          const auto& b = std::get<blob>(v);
          rc = sqlite3_bind_blob64(stmt, i + 1, b.bytes.data(), b.bytes.size(), SQLITE_STATIC);
          break;
        }
      }
      if (rc != SQLITE_OK) return sqlite_error(handle_, rc, "bind");
    }
    query_result result;
    // The columns are read after the first step: a kept statement whose table changed
    // is prepared anew inside that step, and `SELECT *` may then have more columns.
    rc = sqlite3_step(stmt);
    const int columns = sqlite3_column_count(stmt);
    for (int c = 0; c < columns; ++c) result.columns.emplace_back(sqlite3_column_name(stmt, c));
    auto names = std::make_shared<const std::vector<std::string>>(result.columns);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(stmt)) {
      std::vector<value> values;
      values.reserve(static_cast<std::size_t>(columns));
      for (int c = 0; c < columns; ++c) {
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_INTEGER:
            values.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(stmt, c)));
            break;
          case SQLITE_FLOAT:
            values.emplace_back(sqlite3_column_double(stmt, c));
            break;
          case SQLITE_TEXT: {
            auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
            values.emplace_back(std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, c))));
            break;
          }
          case SQLITE_BLOB: {
            auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt, c));
            auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt, c));
            values.emplace_back(blob{std::vector<std::uint8_t>(data, data + size)});
            break;
          }
          default:
            values.emplace_back(std::monostate{});
            break;
        }
      }
      result.rows.emplace_back(names, std::move(values));
    }
    if (rc != SQLITE_DONE) return sqlite_error(handle_, rc, "step");
    result.rows_affected = sqlite3_changes64(handle_);
    return result;
  }

 public:
  core::status execute_script(std::string_view sql) override {
    std::unique_lock lock(*gate_, std::defer_lock);
    if (!holds_gate_ && !lock.try_lock_for(gate_wait_))
      return core::error::unavailable("database is busy (writer gate)");
    std::string text(sql);
    char* message = nullptr;
    int rc = sqlite3_exec(handle_, text.c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
      std::string detail = message ? message : sqlite3_errstr(rc);
      sqlite3_free(message);
      auto err = sqlite_error(handle_, rc, "script");
      return core::error(err.code(), "script: " + detail);
    }
    return {};
  }

  dialect kind() const noexcept override { return dialect::sqlite; }
  bool healthy() const noexcept override { return true; }

 private:
  sqlite3* handle_;
  std::shared_ptr<writer_gate> gate_;
  std::chrono::milliseconds gate_wait_;
  std::shared_ptr<wal_checkpointer> checkpointer_;
  bool holds_gate_ = false;
  // Keyed by the SQL text; transparent, so a lookup needs no copy of it.
  struct text_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
  };
  std::unordered_map<std::string, sqlite3_stmt*, text_hash, std::equal_to<>> statements_;
  static constexpr std::size_t max_cached_statements = 200;
};

}  // namespace

core::result<std::unique_ptr<connection>> open_sqlite(const core::database_settings& settings) {
  sqlite3* handle = nullptr;
  int rc = sqlite3_open_v2(settings.sqlite_path.c_str(), &handle,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    core::error err = core::error::unavailable("cannot open SQLite database " + settings.sqlite_path + ": " +
                                               (handle ? sqlite3_errmsg(handle) : sqlite3_errstr(rc)));
    sqlite3_close_v2(handle);
    return err;
  }
  auto conn = std::make_unique<sqlite_connection>(handle, writer_gate_for(settings.sqlite_path),
                                                  std::chrono::milliseconds(settings.busy_timeout_ms),
                                                  checkpointer_for(settings.sqlite_path));
  sqlite3_busy_timeout(handle, settings.busy_timeout_ms);
  // WAL lets readers work beside one writer; NORMAL sync is durable at each checkpoint
  // and safe against corruption in WAL mode.
  WATTOS_RETURN_IF_ERROR(
      conn->execute_script("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"));
  return std::unique_ptr<connection>(std::move(conn));
}

std::uint64_t sqlite_background_checkpoints(const std::string& path) {
  return checkpointer_for(path)->completed();
}

bool wait_for_sqlite_checkpoint(const std::string& path, std::uint64_t seen, std::chrono::milliseconds timeout) {
  return checkpointer_for(path)->wait_completed_beyond(seen, timeout);
}

}  // namespace wattos::infra::db
