#include "api/identity/identity_service.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "api/identity/permissions.hpp"
#include "core/crypto.hpp"
#include "core/id.hpp"
#include "core/log.hpp"

namespace wattos::api {
namespace {

using infra::db::connection;
using infra::db::value;

std::int64_t system_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string normalise_email(std::string_view email) {
  std::string out;
  for (char c : email) {
    if (c == ' ' || c == '\t') continue;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

core::status check_email(std::string_view email) {
  if (email.empty() || email.size() > 254) return core::error::invalid_argument("email must be 1 to 254 characters");
  auto at = email.find('@');
  if (at == 0 || at == std::string_view::npos || at == email.size() - 1 ||
      email.find('@', at + 1) != std::string_view::npos) {
    return core::error::invalid_argument("email must look like name@domain");
  }
  return {};
}

// Loads the Ed25519 key from the data directory, or makes one (file mode 0600).
core::result<core::ed25519_keypair> load_or_create_key(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    auto secret = core::base64url_decode(text.str().substr(0, text.str().find('\n')));
    if (!secret || secret->size() != 64)
      return core::error::failed_precondition("signing key file is damaged: " + path.string());
    core::ed25519_keypair keys;
    keys.secret_key = *secret;
    keys.public_key = secret->substr(32);  // libsodium's secret key is seed || public key
    return keys;
  }
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return core::error::unavailable("cannot create " + path.parent_path().string() + ": " + ec.message());
  auto keys = core::ed25519_generate();
  auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << core::base64url_encode(keys.secret_key) << "\n";
    if (!out) return core::error::unavailable("cannot write " + tmp);
  }
  ::chmod(tmp.c_str(), 0600);
  std::filesystem::rename(tmp, path, ec);  // atomic: two processes starting together end with one key
  if (ec) return core::error::unavailable("cannot store signing key: " + ec.message());
  return load_or_create_key(path);
}

std::string to_json_string(const std::vector<std::string>& v) {
  return join_permissions(v);
}

std::int64_t int_or_default(const infra::db::row& r, std::string_view column) {
  auto v = r.get_int(column);
  return v.ok() ? *v : 0;
}

core::error not_found_user() {
  return core::error::not_found("no such user");
}

}  // namespace

bool principal::can(std::string_view permission) const {
  return grants(permissions, permission);
}

std::string principal::actor() const {
  return kind == "api_key" ? "api_key:" + api_key_id : "user:" + user_id;
}

const std::vector<infra::db::migration>& identity_service::migrations() {
  static const std::vector<infra::db::migration> list = {
      {1, "identity",
       "CREATE TABLE roles (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT NOT NULL,"
       " permissions TEXT NOT NULL, builtin INTEGER NOT NULL);"
       "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL,"
       " password_hash TEXT NOT NULL, status TEXT NOT NULL, failed_logins INTEGER NOT NULL DEFAULT 0,"
       " locked_until BIGINT NOT NULL DEFAULT 0, token_version BIGINT NOT NULL DEFAULT 0,"
       " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);"
       "CREATE TABLE user_roles (user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
       " role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE, PRIMARY KEY (user_id, role_id));"
       "CREATE TABLE sessions (id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
       " created_at BIGINT NOT NULL, revoked_at BIGINT NOT NULL DEFAULT 0, ip TEXT NOT NULL);"
       "CREATE TABLE refresh_tokens (token_hash TEXT PRIMARY KEY,"
       " session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE, expires_at BIGINT NOT NULL,"
       " used_at BIGINT NOT NULL DEFAULT 0);"
       "CREATE TABLE api_keys (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
       " name TEXT NOT NULL, prefix TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE, permissions TEXT NOT NULL,"
       " created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL DEFAULT 0, revoked_at BIGINT NOT NULL DEFAULT 0,"
       " last_used_at BIGINT NOT NULL DEFAULT 0);"
       "CREATE INDEX sessions_user ON sessions (user_id);"
       "CREATE INDEX api_keys_owner ON api_keys (owner_id);",
       ""},
      // Users who sign in through an external OpenID Connect provider, by its (issuer, sub).
      {2, "external identities",
       "CREATE TABLE external_identities (issuer TEXT NOT NULL, subject TEXT NOT NULL,"
       " user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, created_at BIGINT NOT NULL,"
       " PRIMARY KEY (issuer, subject));"
       "CREATE INDEX external_identities_user ON external_identities (user_id);",
       ""},
  };
  return list;
}

identity_service::identity_service(infra::db::database& db, audit_log& audit, core::auth_settings settings,
                                   jwt_signer signer)
    : db_(db), audit_(audit), settings_(std::move(settings)), signer_(std::move(signer)), clock_(system_seconds) {}

core::result<std::unique_ptr<identity_service>> identity_service::create(infra::db::database& db, audit_log& audit,
                                                                         const core::auth_settings& settings,
                                                                         const std::string& data_dir,
                                                                         const core::oidc_settings& oidc) {
  WATTOS_RETURN_IF_ERROR(infra::db::migrate(db, "identity", migrations()));
  std::unique_ptr<identity_service> svc;
  if (!settings.hs256_secret.empty()) {
    svc.reset(new identity_service(db, audit, settings, jwt_signer::hs256(settings.hs256_secret, "hs256")));
  } else {
    WATTOS_ASSIGN_OR_RETURN(auto keys,
                            load_or_create_key(std::filesystem::path(data_dir) / "keys" / "jwt-ed25519.key"));
    std::string kid = core::sha256_hex(keys.public_key).substr(0, 16);
    svc.reset(new identity_service(db, audit, settings, jwt_signer::eddsa(std::move(keys), kid)));
  }
  if (!oidc.issuer.empty()) svc->oidc_ = std::make_shared<oidc_verifier>(oidc);
  return svc;
}

core::status identity_service::check_password_policy(std::string_view email, std::string_view password) const {
  if (password.size() < static_cast<std::size_t>(settings_.password_min_length)) {
    return core::error::invalid_argument("password must have at least " +
                                         std::to_string(settings_.password_min_length) + " characters");
  }
  if (password.size() > 256) return core::error::invalid_argument("password must have at most 256 characters");
  if (std::all_of(password.begin(), password.end(), [&](char c) { return c == password.front(); })) {
    return core::error::invalid_argument("password must not repeat one character");
  }
  std::string lowered = normalise_email(password);
  auto local = normalise_email(email.substr(0, email.find('@')));
  if (!local.empty() && local.size() >= 4 && lowered.find(local) != std::string::npos) {
    return core::error::invalid_argument("password must not contain the e-mail name");
  }
  return {};
}

core::result<std::optional<std::string>> identity_service::bootstrap() {
  std::optional<std::string> one_time_password;
  WATTOS_RETURN_IF_ERROR(db_.transaction([&](connection& conn) -> core::status {
    for (const auto& role : builtin_roles()) {
      WATTOS_ASSIGN_OR_RETURN(auto existing, conn.execute("SELECT id FROM roles WHERE name = ?", {role.name}));
      if (!existing.rows.empty()) continue;
      WATTOS_RETURN_IF_ERROR(
          conn.execute("INSERT INTO roles (id, name, description, permissions, builtin) VALUES (?, ?, ?, ?, 1)",
                       {core::new_uuid_v7(), role.name, role.description, to_json_string(role.permissions)}));
    }
    WATTOS_ASSIGN_OR_RETURN(auto users, conn.execute("SELECT COUNT(*) FROM users"));
    WATTOS_ASSIGN_OR_RETURN(auto count, users.rows.at(0).get_int(0));
    if (count > 0) return {};
    std::string password = core::random_token(18);
    WATTOS_ASSIGN_OR_RETURN(auto hash, core::hash_password(password));
    std::string id = core::new_uuid_v7();
    const auto t = now();
    WATTOS_RETURN_IF_ERROR(
        conn.execute("INSERT INTO users (id, email, display_name, password_hash, status, created_at, updated_at)"
                     " VALUES (?, ?, ?, ?, 'active', ?, ?)",
                     {id, normalise_email(settings_.initial_admin_email), std::string("Administrator"), hash, t, t}));
    WATTOS_RETURN_IF_ERROR(
        conn.execute("INSERT INTO user_roles (user_id, role_id) SELECT ?, id FROM roles WHERE name = 'admin'", {id}));
    one_time_password = password;
    return {};
  }));
  if (one_time_password) {
    audit_auth("system", "users.bootstrap_admin", "user:" + normalise_email(settings_.initial_admin_email), "success",
               {});
  }
  return one_time_password;
}

void identity_service::audit_auth(const std::string& actor, const char* action, const std::string& target,
                                  const char* outcome, const client_context& ctx, std::string details) {
  auto st = audit_.append({actor, action, target, outcome, ctx.request_id, ctx.ip, std::move(details)});
  if (!st.ok()) core::log_error("audit append failed", {{"action", action}, {"error", st.err().message()}});
}

core::result<token_pair> identity_service::open_tokens(connection& conn, const std::string& user_id,
                                                       const std::string& session_id, std::int64_t token_version) {
  const auto t = now();
  token_pair tokens;
  tokens.refresh_token = "wr_" + core::random_token(32);
  WATTOS_RETURN_IF_ERROR(
      conn.execute("INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES (?, ?, ?)",
                   {core::sha256_hex(tokens.refresh_token), session_id, t + settings_.refresh_ttl_s}));
  boost::json::object claims{{"iss", settings_.issuer},
                             {"aud", settings_.audience},
                             {"sub", user_id},
                             {"sid", session_id},
                             {"tv", token_version},
                             {"iat", t},
                             {"nbf", t},
                             {"exp", t + settings_.access_ttl_s},
                             {"jti", core::new_uuid_v7()}};
  tokens.access_token = signer_.sign(claims);
  tokens.expires_in = settings_.access_ttl_s;
  return tokens;
}

core::result<std::pair<token_pair, user_info>> identity_service::login(std::string_view email_in,
                                                                       std::string_view password,
                                                                       const client_context& ctx) {
  const std::string email = normalise_email(email_in);
  if (email.empty() || email.size() > 254 || password.empty() || password.size() > 1024) {
    return core::error::unauthenticated("wrong e-mail or password");
  }
  auto found = db_.execute(
      "SELECT id, password_hash, status, failed_logins, locked_until, token_version FROM users WHERE email = ?",
      {email});
  if (!found) return std::move(found).err();
  const auto t = now();
  if (found->rows.empty()) {
    // Same work as a real check, so that timing does not reveal which accounts exist.
    static const std::string dummy_hash = core::hash_password("timing-equaliser").value_or(std::string());
    (void)core::verify_password(dummy_hash, password);
    audit_auth("anonymous", "auth.login", "email:" + email, "failure", ctx, "unknown account");
    return core::error::unauthenticated("wrong e-mail or password");
  }
  const auto& row = found->rows[0];
  WATTOS_ASSIGN_OR_RETURN(auto user_id, row.get_text("id"));
  WATTOS_ASSIGN_OR_RETURN(auto hash, row.get_text("password_hash"));
  WATTOS_ASSIGN_OR_RETURN(auto status, row.get_text("status"));
  const auto failed = int_or_default(row, "failed_logins");
  const auto locked_until = int_or_default(row, "locked_until");
  const auto token_version = int_or_default(row, "token_version");
  if (locked_until > t) {
    audit_auth("user:" + user_id, "auth.login", "user:" + user_id, "failure", ctx, "account locked");
    return core::error::rate_limited("account locked for " + std::to_string(locked_until - t) +
                                     " s after failed logins");
  }
  if (!core::verify_password(hash, password)) {
    const auto failures = failed + 1;
    std::int64_t lock = 0;
    if (failures >= settings_.lockout_threshold) {
      // 1 s, 2 s, 4 s ... per failure beyond the threshold, up to lockout_max_s.
      const auto beyond = std::min<std::int64_t>(failures - settings_.lockout_threshold, 30);
      lock = t + std::min<std::int64_t>(std::int64_t{1} << beyond, settings_.lockout_max_s);
    }
    (void)db_.execute("UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?", {failures, lock, user_id});
    audit_auth("user:" + user_id, "auth.login", "user:" + user_id, "failure", ctx,
               lock ? "wrong password; account locked" : "wrong password");
    return core::error::unauthenticated("wrong e-mail or password");
  }
  if (status != "active") {
    audit_auth("user:" + user_id, "auth.login", "user:" + user_id, "failure", ctx, "account disabled");
    return core::error::unauthenticated("account disabled");
  }
  token_pair tokens;
  user_info info;
  WATTOS_RETURN_IF_ERROR(db_.transaction([&](connection& conn) -> core::status {
    WATTOS_RETURN_IF_ERROR(
        conn.execute("UPDATE users SET failed_logins = 0, locked_until = 0 WHERE id = ?", {user_id}));
    std::string session_id = core::new_uuid_v7();
    WATTOS_RETURN_IF_ERROR(conn.execute("INSERT INTO sessions (id, user_id, created_at, ip) VALUES (?, ?, ?, ?)",
                                        {session_id, user_id, t, ctx.ip}));
    WATTOS_ASSIGN_OR_RETURN(tokens, open_tokens(conn, user_id, session_id, token_version));
    WATTOS_ASSIGN_OR_RETURN(info, load_user(conn, user_id));
    return {};
  }));
  audit_auth("user:" + user_id, "auth.login", "user:" + user_id, "success", ctx);
  return std::make_pair(std::move(tokens), std::move(info));
}

core::result<token_pair> identity_service::refresh(std::string_view refresh_token, const client_context& ctx) {
  forget_cached_principals();
  if (refresh_token.size() > 128 || !refresh_token.starts_with("wr_")) {
    return core::error::unauthenticated("invalid refresh token");
  }
  const std::string hash = core::sha256_hex(refresh_token);
  const auto t = now();
  token_pair tokens;
  std::string user_id;
  bool reused = false;
  auto st = db_.transaction([&](connection& conn) -> core::status {
    WATTOS_ASSIGN_OR_RETURN(
        auto found,
        conn.execute("SELECT r.session_id, r.expires_at, r.used_at, s.user_id, s.revoked_at, u.status, u.token_version"
                     " FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id JOIN users u ON u.id = s.user_id"
                     " WHERE r.token_hash = ?",
                     {hash}));
    if (found.rows.empty()) return core::error::unauthenticated("invalid refresh token");
    const auto& row = found.rows[0];
    WATTOS_ASSIGN_OR_RETURN(auto session_id, row.get_text("session_id"));
    WATTOS_ASSIGN_OR_RETURN(user_id, row.get_text("user_id"));
    if (int_or_default(row, "used_at") != 0) {
      // A used token again: someone holds a copy. End the whole family.
      WATTOS_RETURN_IF_ERROR(conn.execute("UPDATE sessions SET revoked_at = ? WHERE id = ?", {t, session_id}));
      reused = true;
      return {};
    }
    if (int_or_default(row, "revoked_at") != 0) return core::error::unauthenticated("session ended");
    if (int_or_default(row, "expires_at") < t) return core::error::unauthenticated("refresh token expired");
    WATTOS_ASSIGN_OR_RETURN(auto status, row.get_text("status"));
    if (status != "active") return core::error::unauthenticated("account disabled");
    WATTOS_RETURN_IF_ERROR(conn.execute("UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ?", {t, hash}));
    WATTOS_ASSIGN_OR_RETURN(tokens, open_tokens(conn, user_id, session_id, int_or_default(row, "token_version")));
    return {};
  });
  if (reused) {
    audit_auth("user:" + user_id, "auth.refresh_reuse", "user:" + user_id, "failure", ctx,
               "refresh token reused: session revoked");
    return core::error::unauthenticated("refresh token already used: session revoked");
  }
  if (!st.ok()) {
    if (!user_id.empty())
      audit_auth("user:" + user_id, "auth.refresh", "user:" + user_id, "failure", ctx, st.err().message());
    return std::move(st).err();
  }
  audit_auth("user:" + user_id, "auth.refresh", "user:" + user_id, "success", ctx);
  return tokens;
}

core::status identity_service::logout(const principal& who, const client_context& ctx) {
  forget_cached_principals();
  if (who.kind == "user" && who.session_id.empty()) {
    return core::error::failed_precondition("this token is the identity provider's: sign out there");
  }
  if (who.kind != "user") return core::error::invalid_argument("only a logged-in user can log out");
  WATTOS_RETURN_IF_ERROR(db_.execute("UPDATE sessions SET revoked_at = ? WHERE id = ? AND user_id = ?",
                                     {now(), who.session_id, who.user_id}));
  audit_auth(who.actor(), "auth.logout", "user:" + who.user_id, "success", ctx);
  return {};
}

core::status identity_service::change_password(const principal& who, std::string_view current, std::string_view next,
                                               const client_context& ctx) {
  if (who.kind != "user") return core::error::permission_denied("API keys cannot change passwords");
  WATTOS_ASSIGN_OR_RETURN(auto found,
                          db_.execute("SELECT email, password_hash FROM users WHERE id = ?", {who.user_id}));
  if (found.rows.empty()) return not_found_user();
  WATTOS_ASSIGN_OR_RETURN(auto email, found.rows[0].get_text(0));
  WATTOS_ASSIGN_OR_RETURN(auto hash, found.rows[0].get_text(1));
  if (hash.empty()) {
    return core::error::failed_precondition("this account signs in at the identity provider, which keeps its password");
  }
  if (!core::verify_password(hash, current)) {
    audit_auth(who.actor(), "auth.password_change", "user:" + who.user_id, "failure", ctx, "wrong current password");
    return core::error::unauthenticated("current password is wrong");
  }
  WATTOS_RETURN_IF_ERROR(check_password_policy(email, next));
  WATTOS_RETURN_IF_ERROR(reset_password(who.user_id, next));
  audit_auth(who.actor(), "auth.password_change", "user:" + who.user_id, "success", ctx);
  return {};
}

core::status identity_service::reset_password(std::string_view id, std::string_view password) {
  forget_cached_principals();
  WATTOS_ASSIGN_OR_RETURN(auto found, db_.execute("SELECT email FROM users WHERE id = ?", {std::string(id)}));
  if (found.rows.empty()) return not_found_user();
  WATTOS_ASSIGN_OR_RETURN(auto email, found.rows[0].get_text(0));
  WATTOS_RETURN_IF_ERROR(check_password_policy(email, password));
  WATTOS_ASSIGN_OR_RETURN(auto hash, core::hash_password(password));
  const auto t = now();
  // A new password ends every session: token_version invalidates access tokens at once.
  return db_.transaction([&](connection& conn) -> core::status {
    WATTOS_RETURN_IF_ERROR(conn.execute(
        "UPDATE users SET password_hash = ?, token_version = token_version + 1, failed_logins = 0, locked_until = 0,"
        " updated_at = ? WHERE id = ?",
        {hash, t, std::string(id)}));
    WATTOS_RETURN_IF_ERROR(
        conn.execute("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at = 0", {t, std::string(id)}));
    return {};
  });
}

core::result<std::vector<std::string>> identity_service::permissions_of(connection& conn, const std::string& user_id,
                                                                        std::vector<std::string>* role_names) {
  WATTOS_ASSIGN_OR_RETURN(auto rows, conn.execute("SELECT r.name, r.permissions FROM user_roles ur JOIN roles r"
                                                  " ON r.id = ur.role_id WHERE ur.user_id = ? ORDER BY r.name",
                                                  {user_id}));
  std::set<std::string> perms;
  for (const auto& r : rows.rows) {
    WATTOS_ASSIGN_OR_RETURN(auto name, r.get_text(0));
    WATTOS_ASSIGN_OR_RETURN(auto text, r.get_text(1));
    if (role_names) role_names->push_back(name);
    for (auto& p : split_permissions(text)) perms.insert(std::move(p));
  }
  return std::vector<std::string>(perms.begin(), perms.end());
}

core::result<principal> identity_service::authenticate(std::string_view credential) {
  if (settings_.principal_cache_ms <= 0) return authenticate_uncached(credential);
  const auto now_steady = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(cache_mutex_);
    auto it = cache_.find(std::string(credential));
    if (it != cache_.end() && it->second.expires > now_steady) return it->second.who;
  }
  auto who = authenticate_uncached(credential);
  if (!who) return who;  // refusals are not cached: a fixed credential works at once
  std::lock_guard lock(cache_mutex_);
  if (cache_.size() >= 10000) cache_.clear();  // bounded: start over rather than grow
  cache_[std::string(credential)] = {*who, now_steady + std::chrono::milliseconds(settings_.principal_cache_ms)};
  return who;
}

void identity_service::forget_cached_principals() {
  std::lock_guard lock(cache_mutex_);
  cache_.clear();
}

core::result<principal> identity_service::authenticate_uncached(std::string_view credential) {
  if (credential.starts_with("wk_")) return authenticate_api_key(credential);
  if (oidc_ && oidc_->issued(credential)) {
    WATTOS_ASSIGN_OR_RETURN(auto who, oidc_->verify(credential, now()));
    return authenticate_external(who);
  }
  WATTOS_ASSIGN_OR_RETURN(auto claims, signer_.verify(credential, {settings_.issuer, settings_.audience, now(), 30}));
  principal p;
  p.kind = "user";
  p.user_id = std::string(claims.at("sub").as_string());
  auto* sid = claims.if_contains("sid");
  auto* tv = claims.if_contains("tv");
  if (!sid || !sid->is_string() || !tv || !tv->is_int64()) return core::error::unauthenticated("invalid token: claims");
  p.session_id = std::string(sid->as_string());
  WATTOS_ASSIGN_OR_RETURN(auto conn, db_.acquire());
  WATTOS_ASSIGN_OR_RETURN(auto rows, conn->execute("SELECT u.email, u.status, u.token_version, s.revoked_at"
                                                   " FROM users u JOIN sessions s ON s.user_id = u.id"
                                                   " WHERE u.id = ? AND s.id = ?",
                                                   {p.user_id, p.session_id}));
  if (rows.rows.empty()) return core::error::unauthenticated("session not found");
  const auto& row = rows.rows[0];
  WATTOS_ASSIGN_OR_RETURN(p.email, row.get_text("email"));
  WATTOS_ASSIGN_OR_RETURN(auto status, row.get_text("status"));
  if (status != "active") return core::error::unauthenticated("account disabled");
  if (int_or_default(row, "revoked_at") != 0) return core::error::unauthenticated("session ended");
  if (int_or_default(row, "token_version") != tv->as_int64()) return core::error::unauthenticated("token revoked");
  WATTOS_ASSIGN_OR_RETURN(p.permissions, permissions_of(*conn, p.user_id, &p.roles));
  return p;
}

core::result<principal> identity_service::authenticate_api_key(std::string_view key) {
  if (key.size() > 128) return core::error::unauthenticated("invalid API key");
  WATTOS_ASSIGN_OR_RETURN(auto conn, db_.acquire());
  WATTOS_ASSIGN_OR_RETURN(auto rows, conn->execute("SELECT k.id, k.owner_id, k.permissions, k.expires_at, k.revoked_at,"
                                                   " k.last_used_at, u.email, u.status FROM api_keys k JOIN users u"
                                                   " ON u.id = k.owner_id WHERE k.key_hash = ?",
                                                   {core::sha256_hex(key)}));
  if (rows.rows.empty()) return core::error::unauthenticated("invalid API key");
  const auto& row = rows.rows[0];
  const auto t = now();
  if (int_or_default(row, "revoked_at") != 0) return core::error::unauthenticated("API key revoked");
  const auto expires = int_or_default(row, "expires_at");
  if (expires != 0 && expires < t) return core::error::unauthenticated("API key expired");
  WATTOS_ASSIGN_OR_RETURN(auto status, row.get_text("status"));
  if (status != "active") return core::error::unauthenticated("owner account disabled");
  principal p;
  p.kind = "api_key";
  WATTOS_ASSIGN_OR_RETURN(p.api_key_id, row.get_text("id"));
  WATTOS_ASSIGN_OR_RETURN(p.user_id, row.get_text("owner_id"));
  WATTOS_ASSIGN_OR_RETURN(p.email, row.get_text("email"));
  WATTOS_ASSIGN_OR_RETURN(auto scoped_text, row.get_text("permissions"));
  WATTOS_ASSIGN_OR_RETURN(auto owner_perms, permissions_of(*conn, p.user_id, &p.roles));
  // A key never holds more than its owner holds today.
  for (auto& perm : split_permissions(scoped_text)) {
    if (grants(owner_perms, perm)) p.permissions.push_back(std::move(perm));
  }
  if (int_or_default(row, "last_used_at") < t - 60) {
    (void)conn->execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", {t, p.api_key_id});
  }
  return p;
}

// The user linked to the provider's (issuer, subject); empty when none is.
core::result<std::string> identity_service::linked_user(const std::string& issuer, const std::string& subject) {
  WATTOS_ASSIGN_OR_RETURN(auto rows, db_.execute("SELECT user_id FROM external_identities"
                                                 " WHERE issuer = ? AND subject = ?",
                                                 {issuer, subject}));
  if (rows.rows.empty()) return std::string{};
  return rows.rows[0].get_text(0);
}

core::result<principal> identity_service::authenticate_external(const oidc_identity& who) {
  const std::string& issuer = oidc_->settings().issuer;
  const bool roles_from_provider = !oidc_->settings().roles_claim.empty();
  const auto roles = oidc_->mapped_roles(who.groups);
  WATTOS_ASSIGN_OR_RETURN(std::string user_id, linked_user(issuer, who.subject));
  if (user_id.empty()) {
    auto made = provision_external(who, roles);
    if (!made) return made.err();
    user_id = std::move(made).value();
  }
  WATTOS_ASSIGN_OR_RETURN(auto conn, db_.acquire());
  WATTOS_ASSIGN_OR_RETURN(auto found, conn->execute("SELECT email, status FROM users WHERE id = ?", {user_id}));
  if (found.rows.empty()) return core::error::unauthenticated("account not found");
  WATTOS_ASSIGN_OR_RETURN(auto status, found.rows[0].get_text("status"));
  if (status != "active") return core::error::unauthenticated("account disabled");
  principal p;
  p.kind = "user";
  p.user_id = user_id;
  WATTOS_ASSIGN_OR_RETURN(p.email, found.rows[0].get_text("email"));
  if (roles_from_provider) WATTOS_RETURN_IF_ERROR(sync_external_roles(*conn, user_id, roles));
  WATTOS_ASSIGN_OR_RETURN(p.permissions, permissions_of(*conn, p.user_id, &p.roles));
  return p;
}

// Links the provider's identity to a user here: a new one, or the user with the same
// e-mail if the provider verified it (an unverified e-mail could take over any account).
core::result<std::string> identity_service::provision_external(const oidc_identity& who,
                                                               const std::vector<std::string>& roles) {
  const auto& cfg = oidc_->settings();
  if (who.email.empty() || !check_email(who.email).ok()) {
    return core::error::unauthenticated("the identity provider's token carries no e-mail address");
  }
  std::string user_id;
  bool created = false;
  auto linked = db_.transaction([&](connection& conn) -> core::status {
    const auto t = now();
    WATTOS_ASSIGN_OR_RETURN(auto existing, conn.execute("SELECT id FROM users WHERE email = ?", {who.email}));
    if (!existing.rows.empty()) {
      if (!who.email_verified) {
        return core::error::unauthenticated(
            "a user with this e-mail exists here, and the identity provider has not verified the e-mail");
      }
      WATTOS_ASSIGN_OR_RETURN(user_id, existing.rows[0].get_text(0));
    } else {
      if (!cfg.provision_users) return core::error::unauthenticated("no user here for this identity");
      user_id = core::new_uuid_v7();
      created = true;
      // No password: such a user signs in at the provider (an admin may still set one).
      WATTOS_RETURN_IF_ERROR(
          conn.execute("INSERT INTO users (id, email, display_name, password_hash, status, created_at, updated_at)"
                       " VALUES (?, ?, ?, '', 'active', ?, ?)",
                       {user_id, who.email, who.name.empty() ? who.email : who.name, t, t}));
      WATTOS_RETURN_IF_ERROR(sync_external_roles(conn, user_id, roles));
    }
    WATTOS_RETURN_IF_ERROR(
        conn.execute("INSERT INTO external_identities (issuer, subject, user_id, created_at) VALUES (?, ?, ?, ?)",
                     {cfg.issuer, who.subject, user_id, t}));
    return {};
  });
  if (!linked.ok()) {
    // Two first requests of one user at once: the other one linked it.
    if (linked.err().code() == core::errc::already_exists) {
      WATTOS_ASSIGN_OR_RETURN(auto other, linked_user(cfg.issuer, who.subject));
      if (!other.empty()) return other;
    }
    if (linked.err().code() == core::errc::unauthenticated) {
      audit_auth("oidc:" + who.subject, "auth.oidc_link", "email:" + who.email, "failure", {}, linked.err().message());
    }
    return linked.err();
  }
  forget_cached_principals();
  audit_auth("user:" + user_id, created ? "auth.oidc_provision" : "auth.oidc_link", "user:" + user_id, "success", {},
             "issuer " + cfg.issuer + ", subject " + who.subject);
  return user_id;
}

// Makes the user's roles the given ones (names; roles unknown here are skipped with a
// warning, so a role_map typo cannot lock every user out). Writes only on a change.
core::status identity_service::sync_external_roles(connection& conn, const std::string& user_id,
                                                   const std::vector<std::string>& roles) {
  std::vector<std::string> wanted_ids;
  for (const auto& name : roles) {
    WATTOS_ASSIGN_OR_RETURN(auto rows, conn.execute("SELECT id FROM roles WHERE name = ?", {name}));
    if (rows.rows.empty()) {
      core::log_warn("oidc: role of oidc.role_map or oidc.default_role not found", {{"role", name}});
      continue;
    }
    WATTOS_ASSIGN_OR_RETURN(auto id, rows.rows[0].get_text(0));
    wanted_ids.push_back(std::move(id));
  }
  std::sort(wanted_ids.begin(), wanted_ids.end());
  WATTOS_ASSIGN_OR_RETURN(auto held_rows,
                          conn.execute("SELECT role_id FROM user_roles WHERE user_id = ? ORDER BY role_id", {user_id}));
  std::vector<std::string> held_ids;
  for (const auto& r : held_rows.rows) {
    WATTOS_ASSIGN_OR_RETURN(auto id, r.get_text(0));
    held_ids.push_back(std::move(id));
  }
  if (held_ids == wanted_ids) return {};
  WATTOS_RETURN_IF_ERROR(conn.execute("DELETE FROM user_roles WHERE user_id = ?", {user_id}));
  for (const auto& id : wanted_ids) {
    WATTOS_RETURN_IF_ERROR(conn.execute("INSERT INTO user_roles (user_id, role_id) VALUES (?, ?)", {user_id, id}));
  }
  return {};
}

core::result<user_info> identity_service::load_user(connection& conn, std::string_view id) {
  WATTOS_ASSIGN_OR_RETURN(auto rows, conn.execute("SELECT id, email, display_name, status, created_at, locked_until"
                                                  " FROM users WHERE id = ?",
                                                  {std::string(id)}));
  if (rows.rows.empty()) return not_found_user();
  const auto& r = rows.rows[0];
  user_info u;
  WATTOS_ASSIGN_OR_RETURN(u.id, r.get_text("id"));
  WATTOS_ASSIGN_OR_RETURN(u.email, r.get_text("email"));
  WATTOS_ASSIGN_OR_RETURN(u.display_name, r.get_text("display_name"));
  WATTOS_ASSIGN_OR_RETURN(u.status, r.get_text("status"));
  u.created_at = int_or_default(r, "created_at");
  u.locked_until = int_or_default(r, "locked_until");
  WATTOS_ASSIGN_OR_RETURN(auto perms, permissions_of(conn, u.id, &u.roles));
  (void)perms;
  return u;
}

core::result<std::vector<std::string>> identity_service::role_ids(connection& conn,
                                                                  const std::vector<std::string>& names) {
  std::vector<std::string> ids;
  for (const auto& name : names) {
    WATTOS_ASSIGN_OR_RETURN(auto rows, conn.execute("SELECT id FROM roles WHERE name = ?", {name}));
    if (rows.rows.empty()) return core::error::invalid_argument("unknown role '" + name + "'");
    WATTOS_ASSIGN_OR_RETURN(auto id, rows.rows[0].get_text(0));
    ids.push_back(std::move(id));
  }
  return ids;
}

core::result<user_info> identity_service::create_user(std::string_view email_in, std::string_view display_name,
                                                      std::string_view password,
                                                      const std::vector<std::string>& roles) {
  const std::string email = normalise_email(email_in);
  WATTOS_RETURN_IF_ERROR(check_email(email));
  if (display_name.size() > 200) return core::error::invalid_argument("display_name must have at most 200 characters");
  WATTOS_RETURN_IF_ERROR(check_password_policy(email, password));
  WATTOS_ASSIGN_OR_RETURN(auto hash, core::hash_password(password));
  user_info created;
  WATTOS_RETURN_IF_ERROR(db_.transaction([&](connection& conn) -> core::status {
    WATTOS_ASSIGN_OR_RETURN(auto ids, role_ids(conn, roles));
    const std::string id = core::new_uuid_v7();
    const auto t = now();
    auto inserted = conn.execute(
        "INSERT INTO users (id, email, display_name, password_hash, status, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, 'active', ?, ?)",
        {id, email, std::string(display_name.empty() ? email : display_name), hash, t, t});
    if (!inserted.ok()) {
      if (inserted.err().code() == core::errc::already_exists) {
        return core::error::already_exists("a user with this e-mail exists");
      }
      return std::move(inserted).err();
    }
    for (const auto& role_id : ids) {
      WATTOS_RETURN_IF_ERROR(conn.execute("INSERT INTO user_roles (user_id, role_id) VALUES (?, ?)", {id, role_id}));
    }
    WATTOS_ASSIGN_OR_RETURN(created, load_user(conn, id));
    return {};
  }));
  return created;
}

core::result<std::vector<user_info>> identity_service::list_users(int limit, int offset) {
  WATTOS_ASSIGN_OR_RETURN(auto conn, db_.acquire());
  WATTOS_ASSIGN_OR_RETURN(auto rows, conn->execute("SELECT id FROM users ORDER BY email LIMIT ? OFFSET ?",
                                                   {static_cast<std::int64_t>(std::clamp(limit, 1, 1000)),
                                                    static_cast<std::int64_t>(std::max(offset, 0))}));
  std::vector<user_info> out;
  for (const auto& r : rows.rows) {
    WATTOS_ASSIGN_OR_RETURN(auto id, r.get_text(0));
    WATTOS_ASSIGN_OR_RETURN(auto u, load_user(*conn, id));
    out.push_back(std::move(u));
  }
  return out;
}

core::result<user_info> identity_service::get_user(std::string_view id) {
  WATTOS_ASSIGN_OR_RETURN(auto conn, db_.acquire());
  return load_user(*conn, id);
}

core::result<user_info> identity_service::update_user(std::string_view id, std::optional<std::string> display_name,
                                                      std::optional<std::string> status) {
  forget_cached_principals();
  if (status && *status != "active" && *status != "disabled") {
    return core::error::invalid_argument("status must be active or disabled");
  }
  if (display_name && (display_name->empty() || display_name->size() > 200)) {
    return core::error::invalid_argument("display_name must have 1 to 200 characters");
  }
  user_info updated;
  WATTOS_RETURN_IF_ERROR(db_.transaction([&](connection& conn) -> core::status {
    WATTOS_ASSIGN_OR_RETURN(auto existing, load_user(conn, id));
    (void)existing;
    const auto t = now();
    if (display_name) {
      WATTOS_RETURN_IF_ERROR(conn.execute("UPDATE users SET display_name = ?, updated_at = ? WHERE id = ?",
                                          {*display_name, t, std::string(id)}));
    }
    if (status) {
      WATTOS_RETURN_IF_ERROR(
          conn.execute("UPDATE users SET status = ?, updated_at = ? WHERE id = ?", {*status, t, std::string(id)}));
      if (*status == "disabled") {
        WATTOS_RETURN_IF_ERROR(conn.execute("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at = 0",
                                            {t, std::string(id)}));
      }
    }
    WATTOS_ASSIGN_OR_RETURN(updated, load_user(conn, id));
    return {};
  }));
  return updated;
}

core::result<user_info> identity_service::set_user_roles(std::string_view id, const std::vector<std::string>& roles) {
  forget_cached_principals();
  user_info updated;
  WATTOS_RETURN_IF_ERROR(db_.transaction([&](connection& conn) -> core::status {
    WATTOS_ASSIGN_OR_RETURN(auto existing, load_user(conn, id));
    (void)existing;
    WATTOS_ASSIGN_OR_RETURN(auto ids, role_ids(conn, roles));
    WATTOS_RETURN_IF_ERROR(conn.execute("DELETE FROM user_roles WHERE user_id = ?", {std::string(id)}));
    for (const auto& role_id : ids) {
      WATTOS_RETURN_IF_ERROR(
          conn.execute("INSERT INTO user_roles (user_id, role_id) VALUES (?, ?)", {std::string(id), role_id}));
    }
    WATTOS_ASSIGN_OR_RETURN(updated, load_user(conn, id));
    return {};
  }));
  return updated;
}

core::status identity_service::delete_user(std::string_view id) {
  forget_cached_principals();
  WATTOS_ASSIGN_OR_RETURN(auto result, db_.execute("DELETE FROM users WHERE id = ?", {std::string(id)}));
  if (result.rows_affected == 0) return not_found_user();
  return {};
}

core::result<std::vector<role_info>> identity_service::list_roles() {
  WATTOS_ASSIGN_OR_RETURN(auto rows,
                          db_.execute("SELECT id, name, description, permissions, builtin FROM roles ORDER BY name"));
  std::vector<role_info> out;
  for (const auto& r : rows.rows) {
    role_info role;
    WATTOS_ASSIGN_OR_RETURN(role.id, r.get_text("id"));
    WATTOS_ASSIGN_OR_RETURN(role.name, r.get_text("name"));
    WATTOS_ASSIGN_OR_RETURN(role.description, r.get_text("description"));
    WATTOS_ASSIGN_OR_RETURN(auto perms, r.get_text("permissions"));
    role.permissions = split_permissions(perms);
    role.builtin = int_or_default(r, "builtin") != 0;
    out.push_back(std::move(role));
  }
  return out;
}

namespace {
core::status check_permission_names(const std::vector<std::string>& permissions) {
  for (const auto& p : permissions) {
    const auto& known = known_permissions();
    if (std::find(known.begin(), known.end(), p) == known.end()) {
      return core::error::invalid_argument("unknown permission '" + p + "'");
    }
  }
  return {};
}

core::status check_role_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return core::error::invalid_argument("role name must have 1 to 64 characters");
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
      return core::error::invalid_argument("role name may hold a-z, 0-9, - and _");
    }
  }
  return {};
}
}  // namespace

core::result<role_info> identity_service::create_role(std::string_view name, std::string_view description,
                                                      const std::vector<std::string>& permissions) {
  WATTOS_RETURN_IF_ERROR(check_role_name(name));
  WATTOS_RETURN_IF_ERROR(check_permission_names(permissions));
  if (description.size() > 500) return core::error::invalid_argument("description must have at most 500 characters");
  role_info role{core::new_uuid_v7(), std::string(name), std::string(description), permissions, false};
  auto inserted = db_.execute("INSERT INTO roles (id, name, description, permissions, builtin) VALUES (?, ?, ?, ?, 0)",
                              {role.id, role.name, role.description, join_permissions(permissions)});
  if (!inserted.ok()) {
    if (inserted.err().code() == core::errc::already_exists) return core::error::already_exists("role exists");
    return std::move(inserted).err();
  }
  return role;
}

core::result<role_info> identity_service::update_role(std::string_view id, std::optional<std::string> description,
                                                      std::optional<std::vector<std::string>> permissions) {
  forget_cached_principals();
  WATTOS_ASSIGN_OR_RETURN(auto roles, list_roles());
  auto it = std::find_if(roles.begin(), roles.end(), [&](const role_info& r) { return r.id == id; });
  if (it == roles.end()) return core::error::not_found("no such role");
  if (it->builtin) return core::error::failed_precondition("built-in roles cannot be changed");
  if (permissions) {
    WATTOS_RETURN_IF_ERROR(check_permission_names(*permissions));
    it->permissions = *permissions;
  }
  if (description) it->description = *description;
  WATTOS_RETURN_IF_ERROR(db_.execute("UPDATE roles SET description = ?, permissions = ? WHERE id = ?",
                                     {it->description, join_permissions(it->permissions), it->id}));
  return *it;
}

core::status identity_service::delete_role(std::string_view id) {
  forget_cached_principals();
  WATTOS_ASSIGN_OR_RETURN(auto rows, db_.execute("SELECT builtin FROM roles WHERE id = ?", {std::string(id)}));
  if (rows.rows.empty()) return core::error::not_found("no such role");
  if (int_or_default(rows.rows[0], "builtin") != 0)
    return core::error::failed_precondition("built-in roles cannot be deleted");
  WATTOS_RETURN_IF_ERROR(db_.execute("DELETE FROM roles WHERE id = ?", {std::string(id)}));
  return {};
}

core::result<std::pair<api_key_info, std::string>> identity_service::create_api_key(
    const principal& owner, std::string_view name, const std::vector<std::string>& permissions,
    std::int64_t expires_in_days) {
  if (owner.kind != "user") return core::error::permission_denied("API keys cannot create API keys");
  if (name.empty() || name.size() > 100) return core::error::invalid_argument("name must have 1 to 100 characters");
  if (expires_in_days < 0 || expires_in_days > 3650) {
    return core::error::invalid_argument("expires_in_days must be 0 (never) to 3650");
  }
  WATTOS_RETURN_IF_ERROR(check_permission_names(permissions));
  if (permissions.empty()) return core::error::invalid_argument("an API key needs at least one permission");
  for (const auto& p : permissions) {
    if (!owner.can(p)) return core::error::permission_denied("you do not hold permission '" + p + "'");
  }
  const std::string key = "wk_" + core::random_token(32);
  api_key_info info;
  info.id = core::new_uuid_v7();
  info.owner_id = owner.user_id;
  info.name = std::string(name);
  info.prefix = key.substr(0, 10);
  info.permissions = permissions;
  info.created_at = now();
  info.expires_at = expires_in_days ? info.created_at + expires_in_days * 86400 : 0;
  WATTOS_RETURN_IF_ERROR(
      db_.execute("INSERT INTO api_keys (id, owner_id, name, prefix, key_hash, permissions, created_at, expires_at)"
                  " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  {info.id, info.owner_id, info.name, info.prefix, core::sha256_hex(key), join_permissions(permissions),
                   info.created_at, info.expires_at}));
  return std::make_pair(std::move(info), key);
}

core::result<std::vector<api_key_info>> identity_service::list_api_keys(std::optional<std::string> owner_id) {
  std::string sql =
      "SELECT id, owner_id, name, prefix, permissions, created_at, expires_at, revoked_at, last_used_at"
      " FROM api_keys";
  std::vector<value> params;
  if (owner_id) {
    sql += " WHERE owner_id = ?";
    params.emplace_back(*owner_id);
  }
  sql += " ORDER BY created_at DESC, id DESC";
  WATTOS_ASSIGN_OR_RETURN(auto rows, db_.execute(sql, params));
  std::vector<api_key_info> out;
  for (const auto& r : rows.rows) {
    api_key_info k;
    WATTOS_ASSIGN_OR_RETURN(k.id, r.get_text("id"));
    WATTOS_ASSIGN_OR_RETURN(k.owner_id, r.get_text("owner_id"));
    WATTOS_ASSIGN_OR_RETURN(k.name, r.get_text("name"));
    WATTOS_ASSIGN_OR_RETURN(k.prefix, r.get_text("prefix"));
    WATTOS_ASSIGN_OR_RETURN(auto perms, r.get_text("permissions"));
    k.permissions = split_permissions(perms);
    k.created_at = int_or_default(r, "created_at");
    k.expires_at = int_or_default(r, "expires_at");
    k.revoked_at = int_or_default(r, "revoked_at");
    k.last_used_at = int_or_default(r, "last_used_at");
    out.push_back(std::move(k));
  }
  return out;
}

core::status identity_service::revoke_api_key(std::string_view id, std::optional<std::string> owner_id) {
  forget_cached_principals();
  std::string sql = "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at = 0";
  std::vector<value> params{now(), std::string(id)};
  if (owner_id) {
    sql += " AND owner_id = ?";
    params.emplace_back(*owner_id);
  }
  WATTOS_ASSIGN_OR_RETURN(auto result, db_.execute(sql, params));
  // Another user's key answers as missing: its existence is not revealed.
  if (result.rows_affected == 0) return core::error::not_found("no such active API key");
  return {};
}

}  // namespace wattos::api
