// File: api/identity/jwt.hpp
//
// JSON Web Tokens (RFC 7519) in compact JWS form, signed with EdDSA (Ed25519, the
// default) or HS256 (only when configured). Verification takes the algorithm from the
// key, never from the token: a token whose header names another algorithm (`none`
// included) is refused, as is a bad signature, a wrong issuer or audience, an expired
// or not-yet-valid token, or a malformed one. Every refusal is errc::unauthenticated.
//
// Example:
//   api::jwt_signer signer = api::jwt_signer::eddsa(keys, "key-1");
//   std::string token = signer.sign(claims);
//   auto verified = signer.verify(token, {.issuer = "wattos", .audience = "wattos", .now = now});
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/crypto.hpp"
#include "core/error.hpp"

namespace wattos::api {

struct jwt_expectations {
  std::string issuer;
  std::string audience;
  std::int64_t now = 0;        // seconds since the epoch
  std::int64_t leeway_s = 30;  // clock skew allowed on exp and nbf
};

// A compact JWS split into its parts; nothing is verified yet.
struct compact_jws {
  boost::json::object header;
  std::string_view signing_input;  // "header.payload", the bytes the signature covers
  std::string_view payload;        // base64url
  std::string signature;           // raw bytes
};

// Splits and decodes a token of at most 8 KiB; unauthenticated when malformed.
core::result<compact_jws> split_compact_jws(std::string_view token);

// Decodes the payload and checks iss, aud (a string, or an array that holds it), exp
// (required), nbf and sub (required). Call only after the signature was verified.
core::result<boost::json::object> checked_claims(const compact_jws& jws, const jwt_expectations& expect);

// The iss a token claims, unverified: tells whose key must verify it. Empty if none.
std::string claimed_issuer(std::string_view token);

class jwt_signer {
 public:
  static jwt_signer eddsa(core::ed25519_keypair keys, std::string key_id);
  static jwt_signer hs256(std::string secret, std::string key_id);

  // Signs the claims; the header carries alg, typ and kid.
  std::string sign(const boost::json::object& claims) const;

  // The verified claims, or unauthenticated with the reason.
  core::result<boost::json::object> verify(std::string_view token, const jwt_expectations& expect) const;

  std::string_view algorithm() const noexcept { return algorithm_; }
  const std::string& key_id() const noexcept { return key_id_; }

 private:
  std::string algorithm_;  // "EdDSA" or "HS256"
  std::string key_id_;
  core::ed25519_keypair keys_;
  std::string secret_;
};

}  // namespace wattos::api
