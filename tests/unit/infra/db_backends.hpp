// The backends the SQL conformance suite runs against. SQLite always runs, on a file in
// a fresh temp directory. PostgreSQL runs against WATTOS_TEST_POSTGRES_URL (started by
// scripts/test.sh), each test in its own schema so tests can run in parallel.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>

#include "core/id.hpp"
#include "infra/db/database.hpp"

namespace wattos::infra::db::testing {

inline std::string postgres_url() {
  const char* url = std::getenv("WATTOS_TEST_POSTGRES_URL");
  return url ? url : "";
}

inline bool servers_required() {
  const char* v = std::getenv("WATTOS_TEST_REQUIRE_SERVERS");
  return v && std::string_view(v) == "1";
}

// A fresh database of the given backend; drops its schema or files at the end.
class scratch_database {
 public:
  explicit scratch_database(const std::string& backend, int pool_size = 4) {
    settings_.backend = backend;
    settings_.pool_size = pool_size;
    settings_.acquire_timeout_ms = 2000;
    if (backend == "sqlite") {
      dir_ = std::filesystem::temp_directory_path() / ("wattos-db-" + core::random_hex(8));
      std::filesystem::create_directories(dir_);
      settings_.sqlite_path = (dir_ / "test.db").string();
    } else {
      base_url_ = postgres_url();
      schema_ = "t_" + core::random_hex(8);
      core::database_settings admin = settings_;
      admin.postgres_url = base_url_;
      auto conn = open_postgres(admin);
      if (conn) (void)(*conn)->execute_script("CREATE SCHEMA " + schema_);
      // Every pooled connection starts with the test's schema first in its path.
      settings_.postgres_url =
          base_url_ + (base_url_.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema_;
    }
  }

  ~scratch_database() {
    db_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    if (!schema_.empty()) {
      core::database_settings admin = settings_;
      admin.postgres_url = base_url_;
      if (auto conn = open_postgres(admin)) (void)(*conn)->execute_script("DROP SCHEMA " + schema_ + " CASCADE");
    }
  }

  database& db() {
    if (!db_) {
      auto opened = database::open(settings_);
      if (!opened) throw std::runtime_error(opened.err().message());
      db_ = std::move(opened).value();
    }
    return *db_;
  }

  const core::database_settings& settings() const { return settings_; }

 private:
  core::database_settings settings_;
  std::filesystem::path dir_;
  std::string base_url_;
  std::string schema_;
  std::unique_ptr<database> db_;
};

// Parameterised fixture: GetParam() is "sqlite" or "postgres".
class backend_test : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres" && postgres_url().empty()) {
      if (servers_required()) FAIL() << "WATTOS_TEST_POSTGRES_URL is not set but WATTOS_TEST_REQUIRE_SERVERS=1";
      GTEST_SKIP() << "PostgreSQL backend: WATTOS_TEST_POSTGRES_URL is not set (scripts/test.sh sets it)";
    }
    scratch_ = std::make_unique<scratch_database>(GetParam());
  }
  void TearDown() override { scratch_.reset(); }

  database& db() { return scratch_->db(); }
  scratch_database& scratch() { return *scratch_; }

  std::unique_ptr<scratch_database> scratch_;
};

inline std::string backend_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace wattos::infra::db::testing
