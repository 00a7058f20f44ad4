// File: infra/db/database.hpp
//
// The SQL store: one interface over SQLite (embedded default, WAL mode) and PostgreSQL
// (scale-out). SQL is written once with `?` placeholders; the PostgreSQL backend turns
// them into $1..$n. Connections come from a fixed-size pool; a call that finds none
// free within `acquire_timeout_ms` fails with errc::unavailable. Errors are values:
// a unique violation is errc::already_exists, another constraint errc::conflict, a
// lock or connection problem errc::unavailable. The driver headers (sqlite3.h,
// libpq-fe.h) stay in the .cpp files.
//
// Thread safety: `database` is safe to share between threads; a `connection` is used
// by one thread at a time (the pool hands it out).
//
// Example:
//   WATTOS_ASSIGN_OR_RETURN(auto db, db::database::open(cfg.database));
//   WATTOS_RETURN_IF_ERROR(db->execute("INSERT INTO notes (id, text) VALUES (?, ?)", {id, text}));
//   WATTOS_ASSIGN_OR_RETURN(auto rows, db->execute("SELECT text FROM notes WHERE id = ?", {id}));
//   WATTOS_RETURN_IF_ERROR(db->transaction([&](db::connection& c) -> core::status {
//     WATTOS_RETURN_IF_ERROR(c.execute("UPDATE a SET n = n - 1 WHERE id = ?", {from}));
//     return c.execute("UPDATE a SET n = n + 1 WHERE id = ?", {to}).ok() ? core::status{} : ...;
//   }));
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"

namespace wattos::infra::db {

struct blob {
  std::vector<std::uint8_t> bytes;
  bool operator==(const blob&) const = default;
};

// A SQL value: NULL, integer, floating point, text (UTF-8) or bytes.
using value = std::variant<std::monostate, std::int64_t, double, std::string, blob>;

inline value null_value() {
  return std::monostate{};
}

enum class dialect { sqlite, postgres };

class row {
 public:
  row(std::shared_ptr<const std::vector<std::string>> columns, std::vector<value> values)
      : columns_(std::move(columns)), values_(std::move(values)) {}

  std::size_t size() const noexcept { return values_.size(); }
  const value& at(std::size_t index) const { return values_.at(index); }
  bool is_null(std::size_t index) const { return std::holds_alternative<std::monostate>(values_.at(index)); }

  // Typed access; invalid_argument on a NULL or a value of another type (an integer
  // reads as double, nothing else converts), not_found for an unknown column.
  core::result<std::int64_t> get_int(std::size_t index) const;
  core::result<double> get_double(std::size_t index) const;
  core::result<std::string> get_text(std::size_t index) const;
  core::result<blob> get_blob(std::size_t index) const;
  core::result<std::int64_t> get_int(std::string_view column) const;
  core::result<double> get_double(std::string_view column) const;
  core::result<std::string> get_text(std::string_view column) const;
  core::result<blob> get_blob(std::string_view column) const;

 private:
  core::result<std::size_t> index_of(std::string_view column) const;
  std::shared_ptr<const std::vector<std::string>> columns_;
  std::vector<value> values_;
};

struct query_result {
  std::vector<std::string> columns;
  std::vector<row> rows;
  std::int64_t rows_affected = 0;  // INSERT, UPDATE, DELETE
};

class connection {
 public:
  virtual ~connection() = default;
  // Runs one statement with positional `?` parameters.
  virtual core::result<query_result> execute(std::string_view sql, const std::vector<value>& params = {}) = 0;
  // Runs several `;`-separated statements without parameters (migrations).
  virtual core::status execute_script(std::string_view sql) = 0;
  virtual dialect kind() const noexcept = 0;
  // False once the connection is unusable; the pool then drops it.
  virtual bool healthy() const noexcept = 0;
};

class database {
 public:
  // Opens the pool and checks that one connection works. For sqlite, `sqlite_path`
  // must be set (the app fills in <data_dir>/wattos.db).
  static core::result<std::unique_ptr<database>> open(const core::database_settings& settings);

  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  dialect kind() const noexcept;

  // Runs one statement on a pooled connection.
  core::result<query_result> execute(std::string_view sql, const std::vector<value>& params = {});

  // Runs `fn` in a transaction (SQLite: BEGIN IMMEDIATE): committed when it returns ok,
  // rolled back when it returns an error or throws (the exception is rethrown).
  core::status transaction(const std::function<core::status(connection&)>& fn);

  // A cheap round trip, for readiness checks.
  core::status ping();

  // A pooled connection, returned to the pool when the handle goes away.
  class lease {
   public:
    lease(database* owner, std::unique_ptr<connection> conn) : owner_(owner), conn_(std::move(conn)) {}
    lease(lease&& other) noexcept = default;
    lease& operator=(lease&&) = delete;
    ~lease();
    connection& operator*() const { return *conn_; }
    connection* operator->() const { return conn_.get(); }

   private:
    database* owner_;
    std::unique_ptr<connection> conn_;
  };
  core::result<lease> acquire();

 private:
  struct pool;
  explicit database(std::unique_ptr<pool> p);
  void release(std::unique_ptr<connection> conn);
  std::unique_ptr<pool> pool_;
};

// Backends, for tests and the pool.
core::result<std::unique_ptr<connection>> open_sqlite(const core::database_settings& settings);
core::result<std::unique_ptr<connection>> open_postgres(const core::database_settings& settings);

// The checkpoints that the background checkpointer of an open SQLite file has run, and
// a wait until it has run more than `seen` (for tests: no sleeping).
std::uint64_t sqlite_background_checkpoints(const std::string& path);
bool wait_for_sqlite_checkpoint(const std::string& path, std::uint64_t seen, std::chrono::milliseconds timeout);

// A list of one-line strings (tags, ids) kept in one TEXT column, newline-separated;
// empty items are dropped when read back.
std::string join_lines(const std::vector<std::string>& items);
std::vector<std::string> split_lines(std::string_view text);

// Rewrites `?` placeholders to $1..$n, leaving quoted strings, identifiers and
// comments alone; also returns the number of placeholders.
std::pair<std::string, int> to_postgres_placeholders(std::string_view sql);

}  // namespace wattos::infra::db
