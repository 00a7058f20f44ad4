#include "core/crypto.hpp"

#include <gtest/gtest.h>

namespace wattos::core {
namespace {

TEST(crypto, password_hash_is_argon2id_and_verifies) {
  auto hash = hash_password("correct horse battery staple");
  ASSERT_TRUE(hash.ok());
  EXPECT_TRUE(hash->starts_with("$argon2id$"));
  EXPECT_TRUE(verify_password(*hash, "correct horse battery staple"));
  EXPECT_FALSE(verify_password(*hash, "correct horse battery stapler"));
  EXPECT_FALSE(verify_password("not a hash", "x"));
  EXPECT_NE(*hash, *hash_password("correct horse battery staple"));  // salted
}

TEST(crypto, sha256_known_vector) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(crypto, hmac_sha256_rfc4231_case_2) {
  // RFC 4231 test case 2: 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843
  std::string mac = hmac_sha256("Jefe", "what do ya want for nothing?");
  EXPECT_EQ(base64url_encode(mac), "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM");
}

TEST(crypto, a_prepared_hmac_key_signs_like_the_one_shot_function) {
  // RFC 4231 case 6: a key longer than the block is hashed first.
  const std::string long_key(131, '\xaa');
  const hmac_sha256_key prepared(long_key);
  EXPECT_EQ(base64url_encode(prepared.sign("Test Using Larger Than Block-Size Key - Hash Key First")),
            base64url_encode(hmac_sha256(long_key, "Test Using Larger Than Block-Size Key - Hash Key First")));
  const hmac_sha256_key jefe("Jefe");
  EXPECT_EQ(base64url_encode(jefe.sign("what do ya want for nothing?")), "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM");
  // The key's state is not consumed by a signature: the second one is the same.
  EXPECT_EQ(jefe.sign("what do ya want for nothing?"), jefe.sign("what do ya want for nothing?"));
  EXPECT_NE(jefe.sign("a"), jefe.sign("b"));
  // A prefix fed in ahead: the same MAC as the whole message, across block boundaries.
  const std::string message(150, 'm');
  for (std::size_t cut : {0, 1, 63, 64, 65, 150}) {
    EXPECT_EQ(jefe.after(message.substr(0, cut)).sign(message.substr(cut)), hmac_sha256("Jefe", message)) << cut;
  }
}

TEST(crypto, base64url_append_extends_and_matches_rfc4648_for_every_tail_length) {
  // RFC 4648 section 10, without padding; "\xfb\xff" shows the URL alphabet.
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}, {"\xfb\xff", "-_8"}};
  for (const auto& [bytes, text] : vectors) {
    std::string out = "prefix.";
    base64url_append(out, bytes);
    EXPECT_EQ(out, "prefix." + text) << text;
    EXPECT_EQ(base64url_encode(bytes), text);
  }
}

TEST(crypto, base64url_round_trip_and_rejects_garbage) {
  std::string bytes("\x00\xff\xfe hello", 9);
  auto encoded = base64url_encode(bytes);
  EXPECT_EQ(encoded.find('='), std::string::npos);
  EXPECT_EQ(*base64url_decode(encoded), bytes);
  EXPECT_FALSE(base64url_decode("a+b/").ok());
  EXPECT_FALSE(base64url_decode("!!").ok());
}

TEST(crypto, ed25519_sign_verify_and_tamper) {
  auto keys = ed25519_generate();
  auto sig = ed25519_sign(keys.secret_key, "payload");
  EXPECT_TRUE(ed25519_verify(keys.public_key, "payload", sig));
  EXPECT_FALSE(ed25519_verify(keys.public_key, "payloaD", sig));
  auto other = ed25519_generate();
  EXPECT_FALSE(ed25519_verify(other.public_key, "payload", sig));
  EXPECT_FALSE(ed25519_verify(keys.public_key, "payload", sig.substr(1)));
}

TEST(crypto, random_tokens_differ_and_compare_constant_time) {
  auto a = random_token(32);
  auto b = random_token(32);
  EXPECT_EQ(a.size(), 43u);
  EXPECT_NE(a, b);
  EXPECT_TRUE(constant_time_equals(a, a));
  EXPECT_FALSE(constant_time_equals(a, b));
  EXPECT_FALSE(constant_time_equals("a", "ab"));
}

}  // namespace
}  // namespace wattos::core
