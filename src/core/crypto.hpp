// File: core/crypto.hpp
//
// The cryptographic primitives of the platform, all from libsodium: Argon2id password
// hashes, Ed25519 signatures (JWT EdDSA), HMAC-SHA256, SHA-256, secure random tokens,
// base64url, and a constant-time compare. Nothing here rolls its own cryptography.
//
// Example:
//   std::string stored = core::hash_password("correct horse battery staple").value();
//   bool ok = core::verify_password(stored, attempt);
//   auto keys = core::ed25519_generate();
//   std::string sig = core::ed25519_sign(keys.secret_key, message);
#pragma once

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace wattos::core {

// Initialises libsodium once; every function below calls it. Thread safe.
void crypto_init();

// Argon2id in libsodium's encoded form ($argon2id$v=19$m=...). `interactive` costs
// (64 MiB, 2 passes) keep a login at about 0.1 s on this class of machine.
result<std::string> hash_password(std::string_view password);
bool verify_password(std::string_view encoded_hash, std::string_view password) noexcept;

// n random bytes as unpadded base64url (a secret: tokens, API keys, one-time passwords).
std::string random_token(std::size_t n_bytes);

std::string sha256_hex(std::string_view data);
// SHA-256 of a file's content, read in blocks (hex); unavailable when it cannot be read.
result<std::string> sha256_file_hex(const std::string& path);
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes

// HMAC-SHA256 under one key that signs many messages (the gateway's identity header on
// every proxied request): the key's two blocks are hashed once, here, not per message.
class hmac_sha256_key {
 public:
  explicit hmac_sha256_key(std::string_view key);
  std::string sign(std::string_view data) const;  // raw 32 bytes, as hmac_sha256(key, data)
  // This key with `prefix` already fed in: after(p).sign(d) == sign(p + d), for messages
  // that share a long beginning.
  hmac_sha256_key after(std::string_view prefix) const;

 private:
  alignas(8) unsigned char state_[208];  // crypto_auth_hmacsha256_state, without sodium.h here
};

bool constant_time_equals(std::string_view a, std::string_view b) noexcept;

std::string base64url_encode(std::string_view bytes);
void base64url_append(std::string& out, std::string_view bytes);  // base64url_encode, onto `out`
// Standard base64 with padding (RFC 4648 section 4), as OpenAI's base64 embeddings use.
std::string base64_encode(std::string_view bytes);
result<std::string> base64url_decode(std::string_view text);
result<std::string> base64_decode(std::string_view text);  // standard, padded

struct ed25519_keypair {
  std::string public_key;  // 32 raw bytes
  std::string secret_key;  // 64 raw bytes (seed + public key)
};
ed25519_keypair ed25519_generate();
std::string ed25519_sign(std::string_view secret_key, std::string_view message);  // 64 raw bytes
bool ed25519_verify(std::string_view public_key, std::string_view message, std::string_view signature) noexcept;

}  // namespace wattos::core
