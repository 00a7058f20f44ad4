// Bearer tokens from any client and the key set of an OpenID Connect provider: our own
// JWT checks (EdDSA), the provider's (RS256 and ES256 against a fixed key set), the
// unverified issuer peek that routes a token, and the JWKS parser. The first byte
// picks the parser.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "../unit/api/oidc_keys.hpp"
#include "api/identity/jwt.hpp"
#include "api/identity/oidc.hpp"

namespace api = wattos::api;

namespace {

const api::jwt_signer& own_signer() {
  static const api::jwt_signer signer = api::jwt_signer::eddsa(wattos::core::ed25519_generate(), "own");
  return signer;
}

const api::oidc_verifier& provider() {
  static const api::oidc_verifier* verifier = [] {
    wattos::core::oidc_settings s;
    s.issuer = "https://idp.example";
    s.jwks_url = "https://idp.example/certs";
    s.audience = "wattos";
    s.roles_claim = "realm_access.roles";
    auto* v = new api::oidc_verifier(s);
    auto keys = api::jwk_set::parse(
        api::testing::jwks_of(api::testing::provider_key::rsa("r"), api::testing::provider_key::p256("e")));
    if (!keys) std::abort();
    v->set_keys(std::move(keys).value());
    return v;
  }();
  return *verifier;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t mode = data[0] % 3;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (mode) {
    case 0:
      (void)api::jwk_set::parse(text);
      return 0;
    case 1:
      (void)api::claimed_issuer(text);
      (void)own_signer().verify(text, {"wattos", "wattos", 1'800'000'000, 30});
      return 0;
    default: {
      const auto& v = provider();
      (void)v.issued(text);
      (void)v.wants_keys_for(text);
      auto who = v.verify(text, 1'800'000'000);
      if (who) (void)v.mapped_roles(who->groups);
      return 0;
    }
  }
}
