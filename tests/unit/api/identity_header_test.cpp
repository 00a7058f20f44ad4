// The signed identity header the gateway's proxy adds (api/proxy.hpp): what the signer
// writes verifies on the service side with every field intact, whichever way it is
// signed, and nothing else verifies.
#include <gtest/gtest.h>

#include <string>

#include "api/proxy.hpp"
#include "core/crypto.hpp"

namespace wattos::api {
namespace {

constexpr std::string_view secret = "identity-secret-for-the-test-0123456789";

principal awkward_principal() {
  principal p;
  p.kind = "user";
  p.user_id = "0193-user";
  p.email = "a\"quote\\back\x01slash\n@example.com";  // every character JSON must escape
  p.session_id = "session \xc3\xa4";                  // UTF-8 passes as it is
  p.roles = {"editor", "member"};
  p.permissions = {"chat:use", "spaces:read"};
  return p;
}

TEST(identity_header, verifies_with_every_field_intact) {
  const identity_signer signer(secret);
  const auto header = signer.sign(awkward_principal(), "req-1", 1000);
  auto back = verify_identity(header, secret, 1000);
  ASSERT_TRUE(back.ok()) << back.err().message();
  const principal want = awkward_principal();
  EXPECT_EQ(back->kind, want.kind);
  EXPECT_EQ(back->user_id, want.user_id);
  EXPECT_EQ(back->email, want.email);
  EXPECT_EQ(back->session_id, want.session_id);
  EXPECT_EQ(back->api_key_id, "");
  EXPECT_EQ(back->roles, want.roles);
  EXPECT_EQ(back->permissions, want.permissions);
  // The one-shot function writes the same header.
  EXPECT_EQ(sign_identity(want, "req-1", 1000, secret), header);
}

TEST(identity_header, from_request_attributes_equals_from_the_principal) {
  const identity_signer signer(secret);
  const principal who = awkward_principal();
  net::request req;
  req.request_id = "req-2";
  EXPECT_EQ(signer.sign(req, 1000), "");  // anonymous: no header
  req.attributes = {{"principal.kind", who.kind},
                    {"principal.user_id", who.user_id},
                    {"principal.email", who.email},
                    {"principal.session_id", who.session_id},
                    {"principal.api_key_id", who.api_key_id},
                    {"principal.roles", "editor member"},
                    {"principal.permissions", "chat:use spaces:read"}};
  EXPECT_EQ(signer.sign(req, 1000), signer.sign(who, "req-2", 1000));
}

// The per-thread cache of the last principal must never sign one principal's claims
// for another, or with another signer's key.
TEST(identity_header, alternating_principals_and_signers_each_verify_as_themselves) {
  const identity_signer first(secret);
  const std::string other_secret = std::string(secret) + "-other";
  const identity_signer second(other_secret);
  principal alice = awkward_principal();
  principal bob = awkward_principal();
  bob.user_id = "0193-bob";
  bob.permissions = {"chat:use"};
  for (int round = 0; round < 3; ++round) {
    for (const principal* who : {&alice, &bob}) {
      auto by_first = verify_identity(first.sign(*who, "r", 1000), secret, 1000);
      ASSERT_TRUE(by_first.ok());
      EXPECT_EQ(by_first->user_id, who->user_id);
      EXPECT_EQ(by_first->permissions, who->permissions);
      auto by_second = verify_identity(second.sign(*who, "r", 1000), other_secret, 1000);
      ASSERT_TRUE(by_second.ok());
      EXPECT_EQ(by_second->user_id, who->user_id);
      EXPECT_FALSE(verify_identity(second.sign(*who, "r", 1000), secret, 1000).ok());
    }
  }
}

TEST(identity_header, refuses_other_secrets_tampering_and_age) {
  const identity_signer signer(secret);
  const auto header = signer.sign(awkward_principal(), "req-3", 1000);
  EXPECT_FALSE(verify_identity(header, std::string(secret) + "x", 1000).ok());
  EXPECT_FALSE(verify_identity(header, secret, 1000 + 301).ok());  // older than max_age_s
  EXPECT_FALSE(verify_identity(header, secret, 1000 - 61).ok());   // from the future
  // A payload changed by one character no longer matches its signature.
  auto dot = header.find('.');
  ASSERT_NE(dot, std::string::npos);
  std::string tampered = header;
  tampered[dot / 2] = tampered[dot / 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify_identity(tampered, secret, 1000).ok());
  // A payload that is not JSON, correctly signed, is refused as malformed.
  std::string not_json = core::base64url_encode("not json");
  not_json += "." + core::base64url_encode(core::hmac_sha256(secret, not_json));
  EXPECT_FALSE(verify_identity(not_json, secret, 1000).ok());
}

}  // namespace
}  // namespace wattos::api
