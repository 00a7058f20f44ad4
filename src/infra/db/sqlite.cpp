// The SQLite backend: one sqlite3 handle per connection, WAL mode, busy timeout,
// foreign keys on.
//
// SQLite allows one writer per file. Left to itself, a second pooled connection that
// wants to write gets SQLITE_BUSY and its busy handler sleeps and polls (1, 2, 5, 10 ms
// and more): under concurrent writes that put milliseconds of sleep into requests.
// So the connections of one file in this process take turns at a writer gate first (a
// timed mutex, bounded by busy_timeout_ms), held for one writing statement or for a
// whole BEGIN IMMEDIATE ... COMMIT; the busy handler is left for other processes.
#include <sqlite3.h>

#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

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
      return core::error::unavailable(std::move(message));
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

// One gate per database file, shared by the pool's connections to it.
std::shared_ptr<std::timed_mutex> writer_gate_for(const std::string& path) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::weak_ptr<std::timed_mutex>> registry;
  std::lock_guard lock(registry_mutex);
  auto& slot = registry[path];
  auto gate = slot.lock();
  if (!gate) {
    gate = std::make_shared<std::timed_mutex>();
    slot = gate;
  }
  return gate;
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
  sqlite_connection(sqlite3* handle, std::shared_ptr<std::timed_mutex> gate, std::chrono::milliseconds wait)
      : handle_(handle), gate_(std::move(gate)), gate_wait_(wait) {}
  ~sqlite_connection() override {
    if (holds_gate_) gate_->unlock();
    sqlite3_close_v2(handle_);
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

  // Prepares, binds and steps one statement.
  core::result<query_result> run(std::string_view sql, const std::vector<value>& params) {
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
    const int columns = sqlite3_column_count(stmt);
    for (int c = 0; c < columns; ++c) result.columns.emplace_back(sqlite3_column_name(stmt, c));
    auto names = std::make_shared<const std::vector<std::string>>(result.columns);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
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
  std::shared_ptr<std::timed_mutex> gate_;
  std::chrono::milliseconds gate_wait_;
  bool holds_gate_ = false;
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
                                                  std::chrono::milliseconds(settings.busy_timeout_ms));
  sqlite3_busy_timeout(handle, settings.busy_timeout_ms);
  // WAL lets readers work beside one writer; NORMAL sync is durable at each checkpoint
  // and safe against corruption in WAL mode.
  WATTOS_RETURN_IF_ERROR(
      conn->execute_script("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"));
  return std::unique_ptr<connection>(std::move(conn));
}

}  // namespace wattos::infra::db
