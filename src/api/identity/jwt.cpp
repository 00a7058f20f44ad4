#include "api/identity/jwt.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>

namespace wattos::api {
namespace {

core::error refused(std::string why) {
  return core::error::unauthenticated("invalid token: " + std::move(why));
}

core::result<boost::json::object> decode_part(std::string_view part, const char* what) {
  auto bytes = core::base64url_decode(part);
  if (!bytes) return refused(std::string(what) + " is not base64url");
  boost::system::error_code ec;
  auto value = boost::json::parse(*bytes, ec);
  if (ec || !value.is_object()) return refused(std::string(what) + " is not a JSON object");
  return std::move(value.as_object());
}

}  // namespace

jwt_signer jwt_signer::eddsa(core::ed25519_keypair keys, std::string key_id) {
  jwt_signer s;
  s.algorithm_ = "EdDSA";
  s.keys_ = std::move(keys);
  s.key_id_ = std::move(key_id);
  return s;
}

jwt_signer jwt_signer::hs256(std::string secret, std::string key_id) {
  jwt_signer s;
  s.algorithm_ = "HS256";
  s.secret_ = std::move(secret);
  s.key_id_ = std::move(key_id);
  return s;
}

std::string jwt_signer::sign(const boost::json::object& claims) const {
  boost::json::object header{{"alg", algorithm_}, {"typ", "JWT"}, {"kid", key_id_}};
  std::string signing_input = core::base64url_encode(boost::json::serialize(header)) + "." +
                              core::base64url_encode(boost::json::serialize(claims));
  std::string signature = algorithm_ == "EdDSA" ? core::ed25519_sign(keys_.secret_key, signing_input)
                                                : core::hmac_sha256(secret_, signing_input);
  return signing_input + "." + core::base64url_encode(signature);
}

core::result<compact_jws> split_compact_jws(std::string_view token) {
  if (token.size() > 8192) return refused("too long");
  auto first = token.find('.');
  auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return refused("not three parts");
  }
  compact_jws jws;
  WATTOS_ASSIGN_OR_RETURN(jws.header, decode_part(token.substr(0, first), "header"));
  auto signature = core::base64url_decode(token.substr(second + 1));
  if (!signature) return refused("signature is not base64url");
  jws.signature = std::move(*signature);
  jws.signing_input = token.substr(0, second);
  jws.payload = token.substr(first + 1, second - first - 1);
  return jws;
}

core::result<boost::json::object> checked_claims(const compact_jws& jws, const jwt_expectations& expect) {
  WATTOS_ASSIGN_OR_RETURN(auto claims, decode_part(jws.payload, "payload"));
  auto string_claim = [&claims](const char* name) -> std::string_view {
    auto* v = claims.if_contains(name);
    return (v && v->is_string()) ? std::string_view(v->as_string()) : std::string_view{};
  };
  auto int_claim = [&claims](const char* name) -> std::optional<std::int64_t> {
    auto* v = claims.if_contains(name);
    if (v && v->is_int64()) return v->as_int64();
    if (v && v->is_uint64()) return INT64_MAX;  // beyond int64: far future
    return std::nullopt;
  };
  // aud is one string or, as OpenID providers often send it, an array of them.
  auto audience_holds = [&claims](std::string_view wanted) {
    auto* v = claims.if_contains("aud");
    if (!v) return false;
    if (v->is_string()) return v->as_string() == wanted;
    if (!v->is_array()) return false;
    const auto& list = v->as_array();
    return std::any_of(list.begin(), list.end(),
                       [wanted](const boost::json::value& a) { return a.is_string() && a.as_string() == wanted; });
  };
  if (string_claim("iss") != expect.issuer) return refused("wrong issuer");
  if (!audience_holds(expect.audience)) return refused("wrong audience");
  auto exp = int_claim("exp");
  if (!exp) return refused("no expiry");
  // Written so that no claim value, however extreme, can overflow the arithmetic.
  if (*exp < expect.now - expect.leeway_s) return refused("expired");
  if (auto nbf = int_claim("nbf"); nbf && *nbf > expect.now + expect.leeway_s) return refused("not yet valid");
  if (string_claim("sub").empty()) return refused("no subject");
  return claims;
}

std::string claimed_issuer(std::string_view token) {
  auto jws = split_compact_jws(token);
  if (!jws) return {};
  auto claims = decode_part(jws->payload, "payload");
  if (!claims) return {};
  auto* iss = claims->if_contains("iss");
  return iss && iss->is_string() ? std::string(iss->as_string()) : std::string{};
}

core::result<boost::json::object> jwt_signer::verify(std::string_view token, const jwt_expectations& expect) const {
  WATTOS_ASSIGN_OR_RETURN(auto jws, split_compact_jws(token));
  // The algorithm is the key's; a token asking for another one ("none") is refused.
  auto* alg = jws.header.if_contains("alg");
  if (!alg || !alg->is_string() || alg->as_string() != algorithm_) return refused("unexpected algorithm");
  bool valid = algorithm_ == "EdDSA"
                   ? core::ed25519_verify(keys_.public_key, jws.signing_input, jws.signature)
                   : core::constant_time_equals(core::hmac_sha256(secret_, jws.signing_input), jws.signature);
  if (!valid) return refused("bad signature");
  return checked_claims(jws, expect);
}

}  // namespace wattos::api
