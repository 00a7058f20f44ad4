#include "infra/db/migrations.hpp"

#include <map>

namespace wattos::infra::db {
namespace {

constexpr const char* create_table_sql =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " component TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " applied_at TEXT NOT NULL,"
    " PRIMARY KEY (component, version))";

// Serialises migrators of all processes for the rest of the transaction. SQLite needs
// nothing: BEGIN IMMEDIATE already holds the only write lock.
core::status lock_for_migration(connection& conn) {
  if (conn.kind() != dialect::postgres) return {};
  WATTOS_RETURN_IF_ERROR(conn.execute("SELECT pg_advisory_xact_lock(7261029384)"));
  return {};
}

core::result<std::map<int, std::string>> applied_in(connection& conn, std::string_view component) {
  WATTOS_ASSIGN_OR_RETURN(auto rows, conn.execute("SELECT version, name FROM schema_migrations WHERE component = ?",
                                                  {std::string(component)}));
  std::map<int, std::string> applied;
  for (const auto& r : rows.rows) {
    WATTOS_ASSIGN_OR_RETURN(auto version, r.get_int(0));
    WATTOS_ASSIGN_OR_RETURN(auto name, r.get_text(1));
    applied.emplace(static_cast<int>(version), std::move(name));
  }
  return applied;
}

}  // namespace

core::status migrate(database& db, std::string_view component, std::span<const migration> migrations) {
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version <= 0 || (i > 0 && migrations[i].version <= migrations[i - 1].version)) {
      return core::error::invalid_argument("migrations of '" + std::string(component) +
                                           "' must have strictly increasing positive versions");
    }
  }
  WATTOS_RETURN_IF_ERROR(db.transaction([](connection& conn) -> core::status {
    WATTOS_RETURN_IF_ERROR(lock_for_migration(conn));
    return conn.execute_script(create_table_sql);
  }));
  for (const auto& m : migrations) {
    auto st = db.transaction([&](connection& conn) -> core::status {
      WATTOS_RETURN_IF_ERROR(lock_for_migration(conn));
      WATTOS_ASSIGN_OR_RETURN(auto applied, applied_in(conn, component));
      if (!applied.empty() && applied.rbegin()->first > migrations.back().version) {
        return core::error::failed_precondition("database has migration " + std::to_string(applied.rbegin()->first) +
                                                " of '" + std::string(component) +
                                                "', newer than this program knows: upgrade the program");
      }
      auto found = applied.find(m.version);
      if (found != applied.end()) {
        if (found->second != m.name) {
          return core::error::failed_precondition("applied migration " + std::to_string(m.version) + " is named '" +
                                                  found->second + "', the program calls it '" + m.name + "'");
        }
        return {};  // already applied
      }
      const std::string& sql = (conn.kind() == dialect::postgres && !m.postgres_sql.empty()) ? m.postgres_sql : m.sql;
      WATTOS_RETURN_IF_ERROR(conn.execute_script(sql));
      WATTOS_RETURN_IF_ERROR(conn.execute(
          "INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, CURRENT_TIMESTAMP)",
          {std::string(component), static_cast<std::int64_t>(m.version), m.name}));
      return {};
    });
    if (!st.ok()) {
      return st.err().with_context("migration " + std::string(component) + " " + std::to_string(m.version) + " (" +
                                   m.name + ")");
    }
  }
  return {};
}

core::result<std::vector<applied_migration>> applied_migrations(database& db, std::string_view component) {
  WATTOS_ASSIGN_OR_RETURN(
      auto rows,
      db.execute("SELECT version, name, applied_at FROM schema_migrations WHERE component = ? ORDER BY version",
                 {std::string(component)}));
  std::vector<applied_migration> out;
  for (const auto& r : rows.rows) {
    applied_migration m;
    WATTOS_ASSIGN_OR_RETURN(auto version, r.get_int(0));
    m.version = static_cast<int>(version);
    WATTOS_ASSIGN_OR_RETURN(m.name, r.get_text(1));
    WATTOS_ASSIGN_OR_RETURN(m.applied_at, r.get_text(2));
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace wattos::infra::db
