// File: infra/db/migrations.hpp
//
// Versioned schema migrations per component (each service owns one). Every pending
// migration runs in its own transaction together with its row in
// `schema_migrations(component, version, name, applied_at)`, so a failing migration
// leaves nothing behind. Concurrent migrators (several replicas starting at once)
// serialise on a lock: a PostgreSQL advisory lock, SQLite's BEGIN IMMEDIATE.
//
// Rules: versions strictly increase; an applied migration is never edited (a
// different name under an applied version is refused as tampering); a database that
// has versions this binary does not know is refused (it is newer than the code).
//
// Example:
//   static const std::vector<db::migration> chat_migrations = {
//     {1, "conversations", "CREATE TABLE conversations (id TEXT PRIMARY KEY, title TEXT NOT NULL)"},
//   };
//   WATTOS_RETURN_IF_ERROR(db::migrate(*store, "chat", chat_migrations));
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "infra/db/database.hpp"

namespace wattos::infra::db {

struct migration {
  int version = 0;
  std::string name;
  std::string sql;           // for both backends
  std::string postgres_sql;  // used instead of `sql` on PostgreSQL when not empty
};

struct applied_migration {
  int version = 0;
  std::string name;
  std::string applied_at;
};

core::status migrate(database& db, std::string_view component, std::span<const migration> migrations);

core::result<std::vector<applied_migration>> applied_migrations(database& db, std::string_view component);

}  // namespace wattos::infra::db
