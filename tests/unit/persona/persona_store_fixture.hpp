// The persona store on a migrated SQLite or PostgreSQL database, for the tests of
// personas and of their avatars.
#pragma once

#include <memory>

#include "db_backends.hpp"
#include "persona/persona.hpp"

namespace wattos::persona::testing {

class persona_store_test : public infra::db::testing::backend_test {
 protected:
  void SetUp() override {
    backend_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(infra::db::migrate(db(), "persona", persona_store::migrations()).ok());
    store_ = std::make_unique<persona_store>(db());
  }
  std::unique_ptr<persona_store> store_;
};

}  // namespace wattos::persona::testing
