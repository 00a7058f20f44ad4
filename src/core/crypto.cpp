#include "core/crypto.hpp"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace wattos::core {

void crypto_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) std::abort();  // no safe way on without a working RNG
  });
}

result<std::string> hash_password(std::string_view password) {
  crypto_init();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return error::unavailable("out of memory hashing a password");
  }
  return std::string(out);
}

bool verify_password(std::string_view encoded_hash, std::string_view password) noexcept {
  crypto_init();
  std::string hash(encoded_hash);  // libsodium wants a NUL-terminated string
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

std::string random_token(std::size_t n_bytes) {
  crypto_init();
  std::string bytes(n_bytes, '\0');
  randombytes_buf(bytes.data(), bytes.size());
  return base64url_encode(bytes);
}

result<std::string> sha256_file_hex(const std::string& path) {
  crypto_init();
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return error::unavailable("cannot read " + path);
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  std::vector<unsigned char> block(1 << 16);
  std::size_t n = 0;
  while ((n = std::fread(block.data(), 1, block.size(), f)) > 0) crypto_hash_sha256_update(&state, block.data(), n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return error::unavailable("cannot read " + path);
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state, digest);
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return std::string(hex, crypto_hash_sha256_BYTES * 2);
}

std::string sha256_hex(std::string_view data) {
  crypto_init();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return std::string(hex, crypto_hash_sha256_BYTES * 2);
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  crypto_init();
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  std::string mac(crypto_auth_hmacsha256_BYTES, '\0');
  crypto_auth_hmacsha256_final(&state, reinterpret_cast<unsigned char*>(mac.data()));
  return mac;
}

static_assert(sizeof(crypto_auth_hmacsha256_state) <= sizeof(unsigned char[208]) &&
              alignof(crypto_auth_hmacsha256_state) <= 8);

hmac_sha256_key::hmac_sha256_key(std::string_view key) : state_{} {
  crypto_init();
  crypto_auth_hmacsha256_init(reinterpret_cast<crypto_auth_hmacsha256_state*>(state_),
                              reinterpret_cast<const unsigned char*>(key.data()), key.size());
}

hmac_sha256_key hmac_sha256_key::after(std::string_view prefix) const {
  hmac_sha256_key out(*this);
  crypto_auth_hmacsha256_update(reinterpret_cast<crypto_auth_hmacsha256_state*>(out.state_),
                                reinterpret_cast<const unsigned char*>(prefix.data()), prefix.size());
  return out;
}

std::string hmac_sha256_key::sign(std::string_view data) const {
  crypto_auth_hmacsha256_state state;
  std::memcpy(&state, state_, sizeof state);
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  std::string mac(crypto_auth_hmacsha256_BYTES, '\0');
  crypto_auth_hmacsha256_final(&state, reinterpret_cast<unsigned char*>(mac.data()));
  sodium_memzero(&state, sizeof state);
  return mac;
}

bool constant_time_equals(std::string_view a, std::string_view b) noexcept {
  crypto_init();
  if (a.size() != b.size()) return false;
  return a.empty() || sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string base64_encode(std::string_view bytes) {
  crypto_init();
  const auto variant = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    variant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  base64url_append(out, bytes);
  return out;
}

void base64url_append(std::string& out, std::string_view bytes) {
  crypto_init();
  const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  const std::size_t at = out.size();
  // sodium writes a terminating NUL after the (4n + 2) / 3 characters of unpadded base64.
  out.resize(at + sodium_base64_ENCODED_LEN(bytes.size(), variant));
  sodium_bin2base64(out.data() + at, out.size() - at, reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), variant);
  out.resize(at + (4 * bytes.size() + 2) / 3);
}

namespace {

result<std::string> base64_decode_variant(std::string_view text, int variant, const char* what) {
  crypto_init();
  std::string out(text.size(), '\0');
  std::size_t length = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                        &length, &end, variant) != 0 ||
      end != text.data() + text.size()) {
    return error::invalid_argument(std::string("invalid ") + what);
  }
  out.resize(length);
  return out;
}

}  // namespace

result<std::string> base64url_decode(std::string_view text) {
  return base64_decode_variant(text, sodium_base64_VARIANT_URLSAFE_NO_PADDING, "base64url");
}

result<std::string> base64_decode(std::string_view text) {
  return base64_decode_variant(text, sodium_base64_VARIANT_ORIGINAL, "base64");
}

ed25519_keypair ed25519_generate() {
  crypto_init();
  ed25519_keypair keys;
  keys.public_key.resize(crypto_sign_PUBLICKEYBYTES);
  keys.secret_key.resize(crypto_sign_SECRETKEYBYTES);
  crypto_sign_keypair(reinterpret_cast<unsigned char*>(keys.public_key.data()),
                      reinterpret_cast<unsigned char*>(keys.secret_key.data()));
  return keys;
}

std::string ed25519_sign(std::string_view secret_key, std::string_view message) {
  crypto_init();
  std::string signature(crypto_sign_BYTES, '\0');
  if (secret_key.size() != crypto_sign_SECRETKEYBYTES) return {};
  crypto_sign_detached(reinterpret_cast<unsigned char*>(signature.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       reinterpret_cast<const unsigned char*>(secret_key.data()));
  return signature;
}

bool ed25519_verify(std::string_view public_key, std::string_view message, std::string_view signature) noexcept {
  crypto_init();
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) return false;
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                     reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                                     reinterpret_cast<const unsigned char*>(public_key.data())) == 0;
}

}  // namespace wattos::core
