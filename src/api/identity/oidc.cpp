#include "api/identity/oidc.hpp"

#include <boost/json/parse.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>

#include "api/identity/jwt.hpp"
#include "core/crypto.hpp"

namespace wattos::api {
namespace {

namespace json = boost::json;

constexpr std::size_t max_keys = 64;

core::error refused(std::string why) {
  return core::error::unauthenticated("invalid token: " + std::move(why));
}

struct pkey_free {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

// A key from parameters (RSA n/e, or an EC group and point), through OpenSSL 3's
// provider interface; null when OpenSSL refuses them.
pkey_ptr key_from_params(const char* type, const std::function<bool(OSSL_PARAM_BLD*)>& push) {
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> builder(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  if (!builder || !push(builder.get())) return nullptr;
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(builder.get()),
                                                                 OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr),
                                                                  EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return pkey_ptr(raw);
}

std::string_view string_member(const json::object& o, std::string_view name) {
  auto* v = o.if_contains(name);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view{};
}

// The value at a dotted path ("realm_access.roles"), or null.
const json::value* at_path(const json::object& root, std::string_view path) {
  const json::object* node = &root;
  while (true) {
    auto dot = path.find('.');
    auto* v = node->if_contains(path.substr(0, dot));
    if (!v || dot == std::string_view::npos) return v;
    if (!v->is_object()) return nullptr;
    node = &v->as_object();
    path.remove_prefix(dot + 1);
  }
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

}  // namespace

struct jwk_set::key {
  std::string kid;
  std::string alg;  // RS256 or ES256
  pkey_ptr pkey;
};

core::result<jwk_set> jwk_set::parse(std::string_view text) {
  if (text.size() > jwk_set::max_document_bytes) return core::error::bad_gateway("JWKS is larger than 256 KiB");
  boost::system::error_code ec;
  auto doc = json::parse(text, ec);
  if (ec || !doc.is_object()) return core::error::bad_gateway("JWKS is not a JSON object");
  auto* list = doc.as_object().if_contains("keys");
  if (!list || !list->is_array()) return core::error::bad_gateway("JWKS has no keys array");
  if (list->as_array().size() > max_keys) return core::error::bad_gateway("JWKS has more than 64 keys");
  jwk_set set;
  for (const auto& entry : list->as_array()) {
    if (!entry.is_object()) continue;
    const auto& jwk = entry.as_object();
    if (auto use = string_member(jwk, "use"); !use.empty() && use != "sig") continue;
    auto kty = string_member(jwk, "kty");
    auto alg = string_member(jwk, "alg");
    auto k = std::make_shared<key>();
    k->kid = std::string(string_member(jwk, "kid"));
    if (kty == "RSA" && (alg.empty() || alg == "RS256")) {
      auto n = core::base64url_decode(string_member(jwk, "n"));
      auto e = core::base64url_decode(string_member(jwk, "e"));
      if (!n || !e || n->empty() || e->empty() || e->size() > 8) continue;
      std::unique_ptr<BIGNUM, decltype(&BN_free)> bn_n(
          BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr), BN_free);
      std::unique_ptr<BIGNUM, decltype(&BN_free)> bn_e(
          BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr), BN_free);
      if (!bn_n || !bn_e) continue;
      const int bits = BN_num_bits(bn_n.get());
      if (bits < 2048 || bits > 8192) continue;  // short RSA keys are forgeable; long ones a CPU sink
      k->pkey = key_from_params("RSA", [&](OSSL_PARAM_BLD* b) {
        return OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn_n.get()) == 1 &&
               OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, bn_e.get()) == 1;
      });
      k->alg = "RS256";
    } else if (kty == "EC" && string_member(jwk, "crv") == "P-256" && (alg.empty() || alg == "ES256")) {
      auto x = core::base64url_decode(string_member(jwk, "x"));
      auto y = core::base64url_decode(string_member(jwk, "y"));
      if (!x || !y || x->size() != 32 || y->size() != 32) continue;
      std::string point = "\x04" + *x + *y;  // uncompressed SEC1 point
      k->pkey = key_from_params("EC", [&](OSSL_PARAM_BLD* b) {
        return OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
               OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1;
      });
      k->alg = "ES256";
    }
    if (k->pkey) set.keys_.push_back(std::move(k));
  }
  if (set.keys_.empty()) return core::error::bad_gateway("JWKS holds no RS256 or ES256 signing key");
  return set;
}

bool jwk_set::holds(std::string_view kid) const {
  return std::any_of(keys_.begin(), keys_.end(), [kid](const auto& k) { return k->kid == kid; });
}

jwk_set::verdict jwk_set::verify(std::string_view kid, std::string_view alg, std::string_view signing_input,
                                 std::string_view signature) const {
  const key* chosen = nullptr;
  if (!kid.empty()) {
    for (const auto& k : keys_)
      if (k->kid == kid) chosen = k.get();
  } else if (keys_.size() == 1) {
    chosen = keys_.front().get();
  }
  if (!chosen) return verdict::unknown_key;
  if (chosen->alg != alg) return verdict::wrong_algorithm;

  std::string der;  // JWS carries ECDSA signatures as r || s; OpenSSL wants DER
  if (alg == "ES256") {
    if (signature.size() != 64) return verdict::bad_signature;
    ECDSA_SIG* sig = ECDSA_SIG_new();
    if (!sig) return verdict::bad_signature;
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()), 32, nullptr);
    BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()) + 32, 32, nullptr);
    if (!r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
      BN_free(r);
      BN_free(s);
      ECDSA_SIG_free(sig);
      return verdict::bad_signature;
    }
    unsigned char* out = nullptr;
    const int len = i2d_ECDSA_SIG(sig, &out);
    ECDSA_SIG_free(sig);
    if (len <= 0) return verdict::bad_signature;
    der.assign(reinterpret_cast<const char*>(out), static_cast<std::size_t>(len));
    OPENSSL_free(out);
    signature = der;
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, chosen->pkey.get()) != 1) {
    return verdict::bad_signature;
  }
  const int ok = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                                  reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size());
  return ok == 1 ? verdict::valid : verdict::bad_signature;
}

oidc_verifier::oidc_verifier(core::oidc_settings settings) : settings_(std::move(settings)) {
  // Validated at start (core::validate); a map that does not parse maps no group.
  if (auto map = core::parse_role_map(settings_.role_map)) role_map_ = std::move(map).value();
}

bool oidc_verifier::issued(std::string_view token) const {
  return !settings_.issuer.empty() && claimed_issuer(token) == settings_.issuer;
}

core::result<oidc_identity> oidc_verifier::verify(std::string_view token, std::int64_t now) const {
  WATTOS_ASSIGN_OR_RETURN(auto jws, split_compact_jws(token));
  std::shared_ptr<const jwk_set> keys;
  {
    std::lock_guard lock(mutex_);
    keys = keys_;
  }
  if (!keys) return core::error::unauthenticated("the identity provider's keys are not loaded yet");
  auto alg = string_member(jws.header, "alg");
  if (alg != "RS256" && alg != "ES256") return refused("unexpected algorithm");
  switch (keys->verify(string_member(jws.header, "kid"), alg, jws.signing_input, jws.signature)) {
    case jwk_set::verdict::valid:
      break;
    case jwk_set::verdict::unknown_key:
      return refused("unknown key id");
    case jwk_set::verdict::wrong_algorithm:
      return refused("unexpected algorithm");
    case jwk_set::verdict::bad_signature:
      return refused("bad signature");
  }
  WATTOS_ASSIGN_OR_RETURN(auto claims,
                          checked_claims(jws, {settings_.issuer, settings_.audience, now, /*leeway_s=*/60}));
  oidc_identity who;
  who.subject = std::string(string_member(claims, "sub"));
  if (who.subject.size() > 255) return refused("subject longer than 255 characters");
  // Access tokens often carry no `email`; an e-mail-shaped login name stands in.
  for (const char* name : {"email", "preferred_username", "upn"}) {
    auto v = string_member(claims, name);
    if (!v.empty() && v.find('@') != std::string_view::npos && v.size() <= 254) {
      who.email = lower_ascii(v);
      auto* verified = claims.if_contains("email_verified");
      who.email_verified = std::string_view(name) == "email" && verified && verified->is_bool() && verified->as_bool();
      break;
    }
  }
  who.name = std::string(string_member(claims, "name"));
  if (who.name.empty()) who.name = std::string(string_member(claims, "preferred_username"));
  if (who.name.size() > 200) who.name.resize(200);
  if (!settings_.roles_claim.empty()) {
    if (auto* groups = at_path(claims, settings_.roles_claim)) {
      if (groups->is_string()) who.groups.emplace_back(groups->as_string());
      if (groups->is_array()) {
        for (const auto& g : groups->as_array()) {
          if (g.is_string() && who.groups.size() < 256) who.groups.emplace_back(g.as_string());
        }
      }
    }
  }
  return who;
}

bool oidc_verifier::wants_keys_for(std::string_view token) const {
  if (!issued(token)) return false;  // our own tokens, API keys, garbage: no key of the provider helps
  auto jws = split_compact_jws(token);
  if (!jws) return false;
  std::lock_guard lock(mutex_);
  if (fetching_) return true;
  if (last_attempt_ != clock::time_point{} &&
      clock::now() - last_attempt_ < std::chrono::seconds(settings_.jwks_min_interval_s)) {
    return false;
  }
  return !keys_ || !keys_->holds(string_member(jws->header, "kid"));
}

bool oidc_verifier::keys_stale() const {
  std::lock_guard lock(mutex_);
  const auto now = clock::now();
  return !fetching_ && keys_ && now - loaded_at_ > std::chrono::seconds(settings_.jwks_refresh_s) &&
         now - last_attempt_ >= std::chrono::seconds(settings_.jwks_min_interval_s);
}

void oidc_verifier::backdate_keys_for_test(std::chrono::seconds by) {
  std::lock_guard lock(mutex_);
  if (loaded_at_ != clock::time_point{}) loaded_at_ -= by;
  if (last_attempt_ != clock::time_point{}) last_attempt_ -= by;
}

void oidc_verifier::set_keys(jwk_set keys) {
  auto shared = std::make_shared<const jwk_set>(std::move(keys));
  std::lock_guard lock(mutex_);
  keys_ = std::move(shared);
  loaded_at_ = clock::now();
}

std::vector<std::string> oidc_verifier::mapped_roles(const std::vector<std::string>& groups) const {
  std::vector<std::string> roles;
  for (const auto& [group, role] : role_map_) {
    if (std::find(groups.begin(), groups.end(), group) != groups.end() &&
        std::find(roles.begin(), roles.end(), role) == roles.end()) {
      roles.push_back(role);
    }
  }
  if (roles.empty() && !settings_.default_role.empty()) roles.push_back(settings_.default_role);
  return roles;
}

}  // namespace wattos::api
