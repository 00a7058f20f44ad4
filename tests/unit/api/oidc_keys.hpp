// A stand-in OpenID Connect provider's keys for tests: makes RSA and P-256 keys with
// OpenSSL, publishes them as JWKs and signs tokens with them as a provider would.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "core/crypto.hpp"

namespace wattos::api::testing {

class provider_key {
 public:
  static provider_key rsa(std::string kid, int bits = 2048) {
    return provider_key(EVP_RSA_gen(static_cast<unsigned>(bits)), std::move(kid), "RS256");
  }
  static provider_key p256(std::string kid) { return provider_key(EVP_EC_gen("P-256"), std::move(kid), "ES256"); }

  const std::string& kid() const { return kid_; }
  const std::string& alg() const { return alg_; }

  // The public key as a JWK (with kid, alg and use).
  boost::json::object jwk() const {
    boost::json::object out{{"kid", kid_}, {"alg", alg_}, {"use", "sig"}};
    if (alg_ == "RS256") {
      out["kty"] = "RSA";
      out["n"] = core::base64url_encode(bn_param(OSSL_PKEY_PARAM_RSA_N));
      out["e"] = core::base64url_encode(bn_param(OSSL_PKEY_PARAM_RSA_E));
    } else {
      out["kty"] = "EC";
      out["crv"] = "P-256";
      unsigned char point[65];
      std::size_t len = 0;
      EVP_PKEY_get_octet_string_param(key_.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &len);
      if (len != 65) throw std::runtime_error("unexpected EC point size");
      out["x"] = core::base64url_encode(std::string(reinterpret_cast<char*>(point) + 1, 32));
      out["y"] = core::base64url_encode(std::string(reinterpret_cast<char*>(point) + 33, 32));
    }
    return out;
  }

  // A signed token: header {alg, typ, kid} (alg overridable, to forge) and the claims.
  std::string sign(const boost::json::object& claims, std::string header_alg = {}) const {
    boost::json::object header{{"alg", header_alg.empty() ? alg_ : header_alg}, {"typ", "JWT"}, {"kid", kid_}};
    std::string input = core::base64url_encode(boost::json::serialize(header)) + "." +
                        core::base64url_encode(boost::json::serialize(claims));
    return input + "." + core::base64url_encode(signature(input));
  }

  // The raw signature of `input` in JWS form (RSA PKCS#1 v1.5, or ECDSA r || s).
  std::string signature(const std::string& input) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get());
    std::size_t len = 0;
    EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    sig.resize(len);
    if (alg_ == "RS256") return sig;
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* der = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(der), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(der), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(der);
    return raw;
  }

 private:
  provider_key(EVP_PKEY* key, std::string kid, std::string alg)
      : key_(key, EVP_PKEY_free), kid_(std::move(kid)), alg_(std::move(alg)) {
    if (!key) throw std::runtime_error("key generation failed");
  }

  std::string bn_param(const char* name) const {
    BIGNUM* bn = nullptr;
    EVP_PKEY_get_bn_param(key_.get(), name, &bn);
    std::string out(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
    BN_free(bn);
    return out;
  }

  std::shared_ptr<EVP_PKEY> key_;
  std::string kid_;
  std::string alg_;
};

// {"keys": [...]} of the given keys.
template <typename... Keys>
std::string jwks_of(const Keys&... keys) {
  boost::json::array list;
  (list.push_back(keys.jwk()), ...);
  return boost::json::serialize(boost::json::object{{"keys", std::move(list)}});
}

}  // namespace wattos::api::testing
