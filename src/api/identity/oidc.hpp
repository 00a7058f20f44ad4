// File: api/identity/oidc.hpp
//
// Access tokens of an external OpenID Connect provider (Keycloak, Entra ID, Google, an
// organisation's own), accepted as bearer tokens beside WattOS's own. The provider's
// signing keys come from its JWKS URL: RS256 (RSA of 2048 to 8192 bits) and ES256
// (P-256). The algorithm is the key's: a token whose header names another one (none,
// or HS256 with the public key as its secret) is refused, as is a token that fails
// jwt.hpp's claim checks (issuer, audience, expiry, subject).
//
// Keys are fetched on first use, again after `jwks_refresh_s`, and at once when a
// token names a key id the set does not hold (the provider rotated its keys), but not
// sooner than `jwks_min_interval_s` after the last fetch, so made-up key ids cannot
// drive traffic to the provider. One fetch runs at a time; callers that need it wait
// for that one. A failed fetch keeps the keys held before.
//
// Example (the gateway's authenticate middleware does this):
//   auto who = verifier->verify(token, now);
//   if (!who && verifier->wants_keys_for(token)) {
//     co_await oidc_verifier::refresh_keys(verifier);
//     who = verifier->verify(token, now);
//   }
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"

namespace wattos::api {

// Who the provider says the caller is.
struct oidc_identity {
  std::string subject;  // sub: stable per user at this provider
  std::string email;    // email (or an e-mail-shaped preferred_username or upn), lower case; may be empty
  bool email_verified = false;
  std::string name;                 // name, else preferred_username
  std::vector<std::string> groups;  // the values of settings.roles_claim
};

// A JSON Web Key Set (RFC 7517), reduced to the signing keys it can use. Keys of
// another type, curve, algorithm or use are skipped; a set without any usable key,
// more than 64 keys or a document over 256 KiB is refused.
class jwk_set {
 public:
  static constexpr std::size_t max_document_bytes = std::size_t{256} * 1024;

  enum class verdict { valid, bad_signature, unknown_key, wrong_algorithm };

  static core::result<jwk_set> parse(std::string_view json);

  // Checks `signature` over `signing_input` with the key `kid` names (or, for a token
  // without kid, the set's only key), which must be a key for `alg`.
  verdict verify(std::string_view kid, std::string_view alg, std::string_view signing_input,
                 std::string_view signature) const;
  bool holds(std::string_view kid) const;
  std::size_t size() const noexcept { return keys_.size(); }

  struct key;  // defined in oidc.cpp: holds the OpenSSL key

 private:
  std::vector<std::shared_ptr<const key>> keys_;
};

class oidc_verifier {
 public:
  explicit oidc_verifier(core::oidc_settings settings);

  const core::oidc_settings& settings() const noexcept { return settings_; }

  // True if the token claims to come from this provider (nothing verified).
  bool issued(std::string_view token) const;

  // The verified identity, or unauthenticated with the reason.
  core::result<oidc_identity> verify(std::string_view token, std::int64_t now) const;

  // True when a fetch of the keys might let `token` pass: it claims this provider as
  // its issuer, and there are no keys yet, or the token
  // names a key id not held, and no fetch was tried in the last jwks_min_interval_s
  // (or one runs now, which the caller can wait for).
  bool wants_keys_for(std::string_view token) const;
  // True when the keys are older than jwks_refresh_s, no fetch runs and none was tried
  // in the last jwks_min_interval_s.
  bool keys_stale() const;

  // Fetches the JWKS and installs it; a caller that finds a fetch running waits for
  // it instead (and gets ok: it checks its token again either way). Static, taking the
  // owner: a detached refresh keeps the verifier alive.
  static boost::asio::awaitable<core::status> refresh_keys(std::shared_ptr<oidc_verifier> self);

  // Installs a key set (what refresh_keys does after a fetch; tests use it directly).
  void set_keys(jwk_set keys);
  // Moves the last fetch and the last attempt `by` into the past: lets a test reach
  // jwks_refresh_s (at least a minute) without waiting for it.
  void backdate_keys_for_test(std::chrono::seconds by);

  // The WattOS roles `groups` map to through settings.role_map; default_role when none
  // does (and it is set).
  std::vector<std::string> mapped_roles(const std::vector<std::string>& groups) const;

 private:
  using clock = std::chrono::steady_clock;

  core::oidc_settings settings_;
  std::vector<std::pair<std::string, std::string>> role_map_;  // group, role

  mutable std::mutex mutex_;
  std::shared_ptr<const jwk_set> keys_;  // guarded by mutex_; replaced whole, so readers copy the pointer
  clock::time_point loaded_at_{};        // guarded by mutex_
  clock::time_point last_attempt_{};     // guarded by mutex_
  bool fetching_ = false;                // guarded by mutex_
  // Callers waiting for the running fetch: each resumes its coroutine when it ends.
  std::vector<std::function<void()>> waiters_;  // guarded by mutex_
};

}  // namespace wattos::api
