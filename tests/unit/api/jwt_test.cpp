#include "api/identity/jwt.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <cstdint>

namespace wattos::api {
namespace {

constexpr std::int64_t now = 1'800'000'000;

boost::json::object claims(std::int64_t exp = now + 600) {
  return {{"iss", "wattos"}, {"aud", "wattos"}, {"sub", "user-1"}, {"exp", exp}, {"nbf", now - 10}};
}

jwt_expectations expect() {
  return {"wattos", "wattos", now, 30};
}

// Re-signs nothing: builds a token from raw parts, as an attacker would.
std::string forge(const std::string& header_json, const std::string& payload_json, const std::string& signature) {
  return core::base64url_encode(header_json) + "." + core::base64url_encode(payload_json) + "." +
         core::base64url_encode(signature);
}

TEST(jwt, eddsa_round_trip) {
  auto signer = jwt_signer::eddsa(core::ed25519_generate(), "k1");
  auto token = signer.sign(claims());
  auto verified = signer.verify(token, expect());
  ASSERT_TRUE(verified.ok()) << verified.err().message();
  EXPECT_EQ(verified->at("sub").as_string(), "user-1");
}

TEST(jwt, hs256_round_trip) {
  auto signer = jwt_signer::hs256(std::string(40, 'k'), "h");
  EXPECT_TRUE(signer.verify(signer.sign(claims()), expect()).ok());
}

TEST(jwt, alg_none_is_refused) {
  auto signer = jwt_signer::eddsa(core::ed25519_generate(), "k1");
  auto token = forge(R"({"alg":"none","typ":"JWT"})", boost::json::serialize(claims()), "");
  auto verified = signer.verify(token, expect());
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.err().code(), core::errc::unauthenticated);
  // Also with the trailing dot only.
  auto bare = core::base64url_encode(R"({"alg":"none"})") + "." +
              core::base64url_encode(boost::json::serialize(claims())) + ".";
  EXPECT_FALSE(signer.verify(bare, expect()).ok());
}

TEST(jwt, algorithm_confusion_is_refused) {
  // An HS256 token "signed" with the EdDSA public key must not pass an EdDSA verifier.
  auto keys = core::ed25519_generate();
  auto eddsa = jwt_signer::eddsa(keys, "k1");
  auto hs = jwt_signer::hs256(keys.public_key, "k1");
  EXPECT_FALSE(eddsa.verify(hs.sign(claims()), expect()).ok());
}

TEST(jwt, wrong_key_is_refused) {
  auto a = jwt_signer::eddsa(core::ed25519_generate(), "k1");
  auto b = jwt_signer::eddsa(core::ed25519_generate(), "k1");
  EXPECT_FALSE(b.verify(a.sign(claims()), expect()).ok());
}

TEST(jwt, tampered_payload_is_refused) {
  auto signer = jwt_signer::eddsa(core::ed25519_generate(), "k1");
  auto token = signer.sign(claims());
  auto first = token.find('.');
  auto second = token.find('.', first + 1);
  auto evil = claims();
  evil["sub"] = "admin";
  std::string tampered =
      token.substr(0, first + 1) + core::base64url_encode(boost::json::serialize(evil)) + token.substr(second);
  EXPECT_FALSE(signer.verify(tampered, expect()).ok());
}

TEST(jwt, issuer_audience_and_time_are_checked) {
  auto signer = jwt_signer::eddsa(core::ed25519_generate(), "k1");
  auto token = signer.sign(claims());
  EXPECT_FALSE(signer.verify(token, {"other", "wattos", now, 30}).ok());
  EXPECT_FALSE(signer.verify(token, {"wattos", "other", now, 30}).ok());
  EXPECT_FALSE(signer.verify(signer.sign(claims(now - 100)), expect()).ok());  // expired
  EXPECT_TRUE(signer.verify(signer.sign(claims(now - 10)), expect()).ok());    // within leeway
  auto early = claims();
  early["nbf"] = now + 3600;
  EXPECT_FALSE(signer.verify(signer.sign(early), expect()).ok());
  auto no_exp = claims();
  no_exp.erase("exp");
  EXPECT_FALSE(signer.verify(signer.sign(no_exp), expect()).ok());
  auto no_sub = claims();
  no_sub.erase("sub");
  EXPECT_FALSE(signer.verify(signer.sign(no_sub), expect()).ok());
}

TEST(jwt, audience_may_be_an_array_and_extreme_times_do_not_overflow) {
  auto signer = jwt_signer::eddsa(core::ed25519_generate(), "k1");
  auto listed = claims();
  listed["aud"] = boost::json::array{"account", "wattos"};
  EXPECT_TRUE(signer.verify(signer.sign(listed), expect()).ok());
  listed["aud"] = boost::json::array{"account", 7};
  EXPECT_FALSE(signer.verify(signer.sign(listed), expect()).ok());
  auto far = claims();
  far["exp"] = INT64_MAX;
  far["nbf"] = INT64_MIN;
  EXPECT_TRUE(signer.verify(signer.sign(far), expect()).ok());
  far["exp"] = UINT64_MAX;  // beyond int64: far future, not a wrap into the past
  EXPECT_TRUE(signer.verify(signer.sign(far), expect()).ok());
  auto ancient = claims();
  ancient["exp"] = INT64_MIN;
  EXPECT_FALSE(signer.verify(signer.sign(ancient), expect()).ok());
  EXPECT_EQ(claimed_issuer(signer.sign(claims())), "wattos");
  EXPECT_EQ(claimed_issuer("not a token"), "");
}

TEST(jwt, malformed_tokens_are_refused) {
  auto signer = jwt_signer::eddsa(core::ed25519_generate(), "k1");
  for (const char* bad : {"", ".", "..", "a.b.c", "a.b", "a.b.c.d", "eyJ.eyJ.!!!"}) {
    auto v = signer.verify(bad, expect());
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_EQ(v.err().code(), core::errc::unauthenticated);
  }
  EXPECT_FALSE(signer.verify(std::string(10000, 'a'), expect()).ok());
  EXPECT_FALSE(signer.verify(forge("[1]", "{}", "x"), expect()).ok());
}

}  // namespace
}  // namespace wattos::api
