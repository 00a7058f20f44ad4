// File: api/identity/identity_service.hpp
//
// Users, roles, sessions and API keys of the admin service, on the SQL store.
//
// * Passwords: Argon2id; policy (length, not the e-mail, not one repeated
//   character); account lockout after `lockout_threshold` failures, doubling up to
//   `lockout_max_s`.
// * Sessions: a login opens a session (a refresh-token family). Access tokens are
//   short-lived JWTs (EdDSA by default) naming the session; refresh tokens are random,
//   stored hashed, and rotate on every use. Presenting a used refresh token again
//   revokes the whole family (stolen-token detection). Logout revokes the session;
//   a password change revokes every session of the user. Each request re-checks the
//   user's status and session, so revocation is immediate.
// * External sign-in (optional): access tokens of an OpenID Connect provider
//   (oidc.hpp) are accepted too. Its user is found by (issuer, subject); on first sight
//   a user is created (no password here) or, if the provider verified the e-mail, an
//   existing user with that e-mail is linked. With `oidc.roles_claim` set, the user's
//   roles follow the provider's groups on every check. A disabled user stays out.
// * API keys: "wk_" + 32 random bytes, shown once, stored as SHA-256, scoped to a
//   subset of the owner's permissions (re-cut to what the owner still holds), with an
//   optional expiry, revocable.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/audit_log.hpp"
#include "api/identity/jwt.hpp"
#include "api/identity/oidc.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "infra/db/database.hpp"
#include "infra/db/migrations.hpp"

namespace wattos::api {

// Who is calling, as established by the gateway for one request.
struct principal {
  std::string kind;  // "user" or "api_key"
  std::string user_id;
  std::string email;
  std::string session_id;  // for users with a token
  std::string api_key_id;  // for API keys
  std::vector<std::string> roles;
  std::vector<std::string> permissions;

  bool can(std::string_view permission) const;
  // "user:<id>" or "api_key:<id>", as written to the audit log.
  std::string actor() const;
};

struct user_info {
  std::string id;
  std::string email;
  std::string display_name;
  std::string status;  // active, disabled
  std::vector<std::string> roles;
  std::int64_t created_at = 0;
  std::int64_t locked_until = 0;
};

struct role_info {
  std::string id;
  std::string name;
  std::string description;
  std::vector<std::string> permissions;
  bool builtin = false;
};

struct api_key_info {
  std::string id;
  std::string owner_id;
  std::string name;
  std::string prefix;  // first characters, to recognise a key without revealing it
  std::vector<std::string> permissions;
  std::int64_t created_at = 0;
  std::int64_t expires_at = 0;  // 0: never
  std::int64_t revoked_at = 0;
  std::int64_t last_used_at = 0;
};

struct token_pair {
  std::string access_token;
  std::string refresh_token;
  int expires_in = 0;
};

struct client_context {
  std::string ip;
  std::string request_id;
};

class identity_service {
 public:
  // Loads or creates the signing key (<data_dir>/keys/jwt-ed25519.key) unless an
  // HS256 secret is configured. With `oidc.issuer` set, the provider's tokens count too.
  static core::result<std::unique_ptr<identity_service>> create(infra::db::database& db, audit_log& audit,
                                                                const core::auth_settings& settings,
                                                                const std::string& data_dir,
                                                                const core::oidc_settings& oidc = {});

  static const std::vector<infra::db::migration>& migrations();

  // On an empty store: creates the built-in roles and the initial admin, and returns
  // the admin's one-time password (to be printed once). Otherwise nullopt.
  core::result<std::optional<std::string>> bootstrap();

  core::result<std::pair<token_pair, user_info>> login(std::string_view email, std::string_view password,
                                                       const client_context& ctx);
  core::result<token_pair> refresh(std::string_view refresh_token, const client_context& ctx);
  core::status logout(const principal& who, const client_context& ctx);
  core::status change_password(const principal& who, std::string_view current, std::string_view next,
                               const client_context& ctx);

  // Resolves a bearer credential (access token or API key) to a principal. A result is
  // reused for `principal_cache_ms`; every change made through this service empties
  // the cache, so revocations here apply at once (other processes: within that time).
  core::result<principal> authenticate(std::string_view credential);

  // Users.
  core::result<user_info> create_user(std::string_view email, std::string_view display_name, std::string_view password,
                                      const std::vector<std::string>& roles);
  core::result<std::vector<user_info>> list_users(int limit, int offset);
  core::result<user_info> get_user(std::string_view id);
  core::result<user_info> update_user(std::string_view id, std::optional<std::string> display_name,
                                      std::optional<std::string> status);
  core::result<user_info> set_user_roles(std::string_view id, const std::vector<std::string>& roles);
  core::status reset_password(std::string_view id, std::string_view password);
  core::status delete_user(std::string_view id);

  // Roles.
  core::result<std::vector<role_info>> list_roles();
  core::result<role_info> create_role(std::string_view name, std::string_view description,
                                      const std::vector<std::string>& permissions);
  core::result<role_info> update_role(std::string_view id, std::optional<std::string> description,
                                      std::optional<std::vector<std::string>> permissions);
  core::status delete_role(std::string_view id);

  // API keys. The plaintext key is in the returned pair's second member, once.
  core::result<std::pair<api_key_info, std::string>> create_api_key(const principal& owner, std::string_view name,
                                                                    const std::vector<std::string>& permissions,
                                                                    std::int64_t expires_in_days);
  core::result<std::vector<api_key_info>> list_api_keys(std::optional<std::string> owner_id);
  core::status revoke_api_key(std::string_view id, std::optional<std::string> owner_id);

  // Checks a password against the policy; invalid_argument with the reason.
  core::status check_password_policy(std::string_view email, std::string_view password) const;

  const core::auth_settings& settings() const noexcept { return settings_; }
  // The external provider's verifier; null when none is configured.
  const std::shared_ptr<oidc_verifier>& oidc() const noexcept { return oidc_; }
  // For tests: replaces the clock (seconds since the epoch).
  void set_clock_for_test(std::function<std::int64_t()> clock) { clock_ = std::move(clock); }

 private:
  identity_service(infra::db::database& db, audit_log& audit, core::auth_settings settings, jwt_signer signer);

  core::result<token_pair> open_tokens(infra::db::connection& conn, const std::string& user_id,
                                       const std::string& session_id, std::int64_t token_version);
  core::result<user_info> load_user(infra::db::connection& conn, std::string_view id);
  core::result<std::vector<std::string>> role_ids(infra::db::connection& conn, const std::vector<std::string>& names);
  core::result<std::vector<std::string>> permissions_of(infra::db::connection& conn, const std::string& user_id,
                                                        std::vector<std::string>* role_names);
  core::result<principal> authenticate_api_key(std::string_view key);
  core::result<std::string> linked_user(const std::string& issuer, const std::string& subject);
  core::result<principal> authenticate_external(const oidc_identity& who);
  core::result<std::string> provision_external(const oidc_identity& who, const std::vector<std::string>& roles);
  core::status sync_external_roles(infra::db::connection& conn, const std::string& user_id,
                                   const std::vector<std::string>& roles);
  core::result<principal> authenticate_uncached(std::string_view credential);
  void forget_cached_principals();
  void audit_auth(const std::string& actor, const char* action, const std::string& target, const char* outcome,
                  const client_context& ctx, std::string details = {});
  std::int64_t now() const { return clock_(); }

  infra::db::database& db_;
  audit_log& audit_;
  core::auth_settings settings_;
  jwt_signer signer_;
  std::shared_ptr<oidc_verifier> oidc_;
  std::function<std::int64_t()> clock_;

  struct cached_principal {
    principal who;
    std::chrono::steady_clock::time_point expires;
  };
  std::mutex cache_mutex_;
  std::unordered_map<std::string, cached_principal> cache_;  // guarded by cache_mutex_
};

}  // namespace wattos::api
