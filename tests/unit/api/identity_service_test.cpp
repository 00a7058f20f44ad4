#include "api/identity/identity_service.hpp"

#include <gtest/gtest.h>

#include "api/identity/permissions.hpp"
#include "db_backends.hpp"

namespace wattos::api {
namespace {

constexpr const char* strong = "a-long-enough-passphrase";

class identity : public infra::db::testing::backend_test {
 protected:
  void SetUp() override {
    backend_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(infra::db::migrate(db(), "audit", audit_log::migrations()).ok());
    data_dir_ = std::filesystem::temp_directory_path() / ("wattos-id-" + core::random_hex(6));
    audit_ = std::make_unique<audit_log>(db());
    settings_.lockout_threshold = 3;
    settings_.lockout_max_s = 60;
    auto created = identity_service::create(db(), *audit_, settings_, data_dir_.string());
    ASSERT_TRUE(created.ok()) << created.err().message();
    svc_ = std::move(created).value();
    svc_->set_clock_for_test([this] { return clock_; });
    auto otp = svc_->bootstrap();
    ASSERT_TRUE(otp.ok());
    ASSERT_TRUE(otp->has_value());
    admin_password_ = **otp;
  }
  void TearDown() override {
    svc_.reset();
    std::filesystem::remove_all(data_dir_);
    backend_test::TearDown();
  }

  principal login_as(const std::string& email, const std::string& password) {
    auto session = svc_->login(email, password, ctx_);
    EXPECT_TRUE(session.ok()) << (session.ok() ? "" : session.err().message());
    auto who = svc_->authenticate(session->first.access_token);
    EXPECT_TRUE(who.ok());
    return *who;
  }

  std::filesystem::path data_dir_;
  core::auth_settings settings_;
  std::unique_ptr<audit_log> audit_;
  std::unique_ptr<identity_service> svc_;
  std::string admin_password_;
  std::int64_t clock_ = 1'800'000'000;
  client_context ctx_{"192.0.2.1", "req-test"};
};

TEST_P(identity, bootstrap_runs_once_and_admin_holds_everything) {
  auto again = svc_->bootstrap();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  auto roles = svc_->list_roles();
  ASSERT_EQ(roles->size(), 4u);
  auto admin = login_as("ADMIN@localhost", admin_password_);  // e-mail is case-insensitive
  EXPECT_TRUE(admin.can(perm::users_write));
  EXPECT_EQ(admin.roles, std::vector<std::string>{"admin"});
}

TEST_P(identity, wrong_password_locks_the_account_with_backoff) {
  for (int i = 0; i < 3; ++i) {
    auto bad = svc_->login("admin@localhost", "wrong-password-xx", ctx_);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.err().code(), core::errc::unauthenticated);
  }
  auto locked = svc_->login("admin@localhost", admin_password_, ctx_);
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.err().code(), core::errc::rate_limited);
  clock_ += 2;
  EXPECT_TRUE(svc_->login("admin@localhost", admin_password_, ctx_).ok());
  // Unknown accounts answer exactly like wrong passwords.
  auto unknown = svc_->login("nobody@example.eu", "whatever-password", ctx_);
  EXPECT_EQ(unknown.err().message(), "wrong e-mail or password");
}

TEST_P(identity, refresh_rotates_and_reuse_revokes_the_family) {
  auto session = svc_->login("admin@localhost", admin_password_, ctx_);
  ASSERT_TRUE(session.ok());
  auto first_refresh = session->first.refresh_token;
  auto rotated = svc_->refresh(first_refresh, ctx_);
  ASSERT_TRUE(rotated.ok()) << rotated.err().message();
  EXPECT_NE(rotated->refresh_token, first_refresh);
  EXPECT_TRUE(svc_->authenticate(rotated->access_token).ok());
  // The old refresh token again: theft assumed, the whole session ends.
  auto reuse = svc_->refresh(first_refresh, ctx_);
  ASSERT_FALSE(reuse.ok());
  EXPECT_EQ(reuse.err().code(), core::errc::unauthenticated);
  EXPECT_FALSE(svc_->authenticate(rotated->access_token).ok());
  EXPECT_FALSE(svc_->refresh(rotated->refresh_token, ctx_).ok());
  auto audit_rows = audit_->query({.action = "auth.refresh_reuse"});
  EXPECT_EQ(audit_rows->size(), 1u);
}

TEST_P(identity, expired_tokens_are_refused) {
  auto session = svc_->login("admin@localhost", admin_password_, ctx_);
  clock_ += settings_.access_ttl_s + 60;
  EXPECT_EQ(svc_->authenticate(session->first.access_token).err().code(), core::errc::unauthenticated);
  clock_ += settings_.refresh_ttl_s;
  EXPECT_FALSE(svc_->refresh(session->first.refresh_token, ctx_).ok());
  EXPECT_FALSE(svc_->refresh("wr_not-a-real-token", ctx_).ok());
  EXPECT_FALSE(svc_->refresh("garbage", ctx_).ok());
}

TEST_P(identity, logout_and_password_change_revoke_sessions) {
  auto a = svc_->login("admin@localhost", admin_password_, ctx_);
  auto b = svc_->login("admin@localhost", admin_password_, ctx_);
  auto who_a = svc_->authenticate(a->first.access_token);
  ASSERT_TRUE(svc_->logout(*who_a, ctx_).ok());
  EXPECT_FALSE(svc_->authenticate(a->first.access_token).ok());
  EXPECT_TRUE(svc_->authenticate(b->first.access_token).ok());  // other sessions live on
  auto who_b = svc_->authenticate(b->first.access_token);
  EXPECT_EQ(svc_->change_password(*who_b, "wrong-current-pw", strong, ctx_).err().code(), core::errc::unauthenticated);
  ASSERT_TRUE(svc_->change_password(*who_b, admin_password_, strong, ctx_).ok());
  EXPECT_FALSE(svc_->authenticate(b->first.access_token).ok());
  EXPECT_FALSE(svc_->refresh(b->first.refresh_token, ctx_).ok());
  EXPECT_FALSE(svc_->login("admin@localhost", admin_password_, ctx_).ok());
  EXPECT_TRUE(svc_->login("admin@localhost", strong, ctx_).ok());
}

TEST_P(identity, password_policy) {
  EXPECT_FALSE(svc_->check_password_policy("erika@example.eu", "short").ok());
  EXPECT_FALSE(svc_->check_password_policy("erika@example.eu", std::string(20, 'a')).ok());
  EXPECT_FALSE(svc_->check_password_policy("erika@example.eu", "Erika-is-my-password").ok());
  EXPECT_FALSE(svc_->check_password_policy("erika@example.eu", std::string(300, 'x') + "y").ok());
  EXPECT_TRUE(svc_->check_password_policy("erika@example.eu", strong).ok());
}

TEST_P(identity, users_roles_and_disabled_accounts) {
  auto erika = svc_->create_user("Erika@Example.eu", "Erika", strong, {"member"});
  ASSERT_TRUE(erika.ok()) << erika.err().message();
  EXPECT_EQ(erika->email, "erika@example.eu");
  EXPECT_EQ(svc_->create_user("erika@example.eu", "", strong, {}).err().code(), core::errc::already_exists);
  EXPECT_EQ(svc_->create_user("x@example.eu", "", strong, {"wizard"}).err().code(), core::errc::invalid_argument);
  EXPECT_EQ(svc_->create_user("not-an-email", "", strong, {}).err().code(), core::errc::invalid_argument);
  auto session = svc_->login("erika@example.eu", strong, ctx_);
  auto who = svc_->authenticate(session->first.access_token);
  EXPECT_TRUE(who->can(perm::chat_use));
  EXPECT_FALSE(who->can(perm::users_read));
  ASSERT_TRUE(svc_->update_user(erika->id, std::nullopt, std::string("disabled")).ok());
  EXPECT_FALSE(svc_->authenticate(session->first.access_token).ok());
  EXPECT_FALSE(svc_->login("erika@example.eu", strong, ctx_).ok());
  EXPECT_EQ(svc_->update_user(erika->id, std::nullopt, std::string("sleeping")).err().code(),
            core::errc::invalid_argument);
  ASSERT_TRUE(svc_->delete_user(erika->id).ok());
  EXPECT_EQ(svc_->get_user(erika->id).err().code(), core::errc::not_found);
}

TEST_P(identity, custom_roles_and_builtin_protection) {
  auto roles = svc_->list_roles();
  auto admin_role = std::find_if(roles->begin(), roles->end(), [](const role_info& r) { return r.name == "admin"; });
  EXPECT_EQ(svc_->delete_role(admin_role->id).err().code(), core::errc::failed_precondition);
  EXPECT_EQ(svc_->update_role(admin_role->id, std::string("x"), std::nullopt).err().code(),
            core::errc::failed_precondition);
  EXPECT_EQ(svc_->create_role("Bad Name", "", {}).err().code(), core::errc::invalid_argument);
  EXPECT_EQ(svc_->create_role("reviewer", "", {"launch:missiles"}).err().code(), core::errc::invalid_argument);
  auto reviewer = svc_->create_role("reviewer", "Reads feedback", {std::string(perm::feedback_review)});
  ASSERT_TRUE(reviewer.ok());
  auto user = svc_->create_user("rita@example.eu", "Rita", strong, {"reviewer"});
  auto who = login_as("rita@example.eu", strong);
  EXPECT_TRUE(who.can(perm::feedback_review));
  ASSERT_TRUE(
      svc_->update_role(reviewer->id, std::nullopt, std::vector<std::string>{std::string(perm::usage_read)}).ok());
  auto again = login_as("rita@example.eu", strong);
  EXPECT_FALSE(again.can(perm::feedback_review));
  EXPECT_TRUE(again.can(perm::usage_read));
  ASSERT_TRUE(svc_->delete_role(reviewer->id).ok());
  EXPECT_TRUE(svc_->get_user(user->id)->roles.empty());
}

TEST_P(identity, api_keys_are_scoped_expiring_and_revocable) {
  ASSERT_TRUE(svc_->create_user("max@example.eu", "Max", strong, {"editor"}).ok());
  auto max = login_as("max@example.eu", strong);
  EXPECT_EQ(svc_->create_api_key(max, "too much", {std::string(perm::users_write)}, 0).err().code(),
            core::errc::permission_denied);
  EXPECT_EQ(svc_->create_api_key(max, "", {std::string(perm::chat_use)}, 0).err().code(), core::errc::invalid_argument);
  auto created = svc_->create_api_key(max, "ci", {std::string(perm::chat_use), std::string(perm::spaces_read)}, 1);
  ASSERT_TRUE(created.ok()) << created.err().message();
  const std::string key = created->second;
  EXPECT_TRUE(key.starts_with("wk_"));
  auto as_key = svc_->authenticate(key);
  ASSERT_TRUE(as_key.ok()) << as_key.err().message();
  EXPECT_EQ(as_key->kind, "api_key");
  EXPECT_TRUE(as_key->can(perm::chat_use));
  EXPECT_FALSE(as_key->can(perm::spaces_write));  // the owner may; the key was not given it
  // A key cannot make keys.
  EXPECT_EQ(svc_->create_api_key(*as_key, "child", {std::string(perm::chat_use)}, 0).err().code(),
            core::errc::permission_denied);
  // Listing shows no secret.
  auto listed = svc_->list_api_keys(max.user_id);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->at(0).prefix, key.substr(0, 10));
  // Another user's key is "not found" for them.
  EXPECT_EQ(svc_->revoke_api_key(created->first.id, std::string("someone-else")).err().code(), core::errc::not_found);
  // The owner loses a permission: so does the key.
  auto roles = svc_->set_user_roles(max.user_id, {"auditor"});
  ASSERT_TRUE(roles.ok());
  EXPECT_FALSE(svc_->authenticate(key)->can(perm::chat_use));
  ASSERT_TRUE(svc_->set_user_roles(max.user_id, {"editor"}).ok());
  clock_ += std::int64_t{2} * 86400;
  EXPECT_EQ(svc_->authenticate(key).err().code(), core::errc::unauthenticated);  // expired
  auto forever = svc_->create_api_key(max, "forever", {std::string(perm::chat_use)}, 0);
  EXPECT_TRUE(svc_->authenticate(forever->second).ok());
  ASSERT_TRUE(svc_->revoke_api_key(forever->first.id, max.user_id).ok());
  EXPECT_FALSE(svc_->authenticate(forever->second).ok());
  EXPECT_FALSE(svc_->authenticate("wk_guessed").ok());
}

INSTANTIATE_TEST_SUITE_P(backends, identity, ::testing::Values("sqlite", "postgres"), infra::db::testing::backend_name);

}  // namespace
}  // namespace wattos::api
