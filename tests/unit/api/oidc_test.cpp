// Tokens of an external OpenID Connect provider: the key set, the verifier's refusals,
// the key fetch from a JWKS server, and the identity service's users for such tokens
// (provisioning, linking, roles from groups) on SQLite and PostgreSQL.
#include "api/identity/oidc.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>

#include "../net/test_client.hpp"
#include "api/gateway.hpp"
#include "api/identity/identity_service.hpp"
#include "db_backends.hpp"
#include "oidc_keys.hpp"

namespace wattos::api {
namespace {

using testing::jwks_of;
using testing::provider_key;
namespace json = boost::json;

constexpr std::int64_t now = 1'800'000'000;
constexpr const char* issuer = "https://login.example.eu/realms/acme";

core::oidc_settings provider_settings() {
  core::oidc_settings s;
  s.issuer = issuer;
  s.jwks_url = "http://127.0.0.1:1/certs";
  s.audience = "wattos";
  s.roles_claim = "realm_access.roles";
  s.role_map = "wattos-admins=admin,editors=editor";
  return s;
}

json::object claims_for(std::string sub, std::string email = "erika@example.eu", bool verified = true) {
  return {{"iss", issuer},
          {"aud", json::array{"account", "wattos"}},
          {"sub", std::move(sub)},
          {"exp", now + 300},
          {"iat", now},
          {"email", std::move(email)},
          {"email_verified", verified},
          {"name", "Erika Mustermann"},
          {"realm_access", {{"roles", json::array{"offline_access", "editors"}}}}};
}

// Keys are made once: RSA generation takes a while under the sanitizers.
const provider_key& rsa_key() {
  static const provider_key key = provider_key::rsa("rsa-1");
  return key;
}
const provider_key& ec_key() {
  static const provider_key key = provider_key::p256("ec-1");
  return key;
}

std::shared_ptr<oidc_verifier> verifier_with_keys(core::oidc_settings s = provider_settings()) {
  auto v = std::make_shared<oidc_verifier>(std::move(s));
  auto keys = jwk_set::parse(jwks_of(rsa_key(), ec_key()));
  EXPECT_TRUE(keys.ok()) << keys.err().message();
  v->set_keys(std::move(keys).value());
  return v;
}

std::string refusal(const core::result<oidc_identity>& r) {
  return r.ok() ? "accepted" : r.err().message();
}

TEST(jwk_set, keeps_usable_signing_keys_and_skips_the_rest) {
  auto weak = provider_key::rsa("weak", 1024);
  auto rsa_jwk = rsa_key().jwk();
  auto for_encryption = rsa_key().jwk();
  for_encryption["use"] = "enc";
  for_encryption["kid"] = "enc-1";
  auto other_curve = ec_key().jwk();
  other_curve["crv"] = "P-384";
  other_curve["kid"] = "p384";
  json::object symmetric{{"kty", "oct"}, {"k", "c2VjcmV0"}, {"kid", "hmac"}};
  json::array keys{rsa_jwk, for_encryption, other_curve, symmetric, weak.jwk(), ec_key().jwk(), 42};
  auto set = jwk_set::parse(json::serialize(json::object{{"keys", keys}}));
  ASSERT_TRUE(set.ok()) << set.err().message();
  EXPECT_EQ(set->size(), 2u);
  EXPECT_TRUE(set->holds("rsa-1"));
  EXPECT_TRUE(set->holds("ec-1"));
  EXPECT_FALSE(set->holds("weak"));  // 1024 bits
  EXPECT_FALSE(set->holds("enc-1"));
  EXPECT_FALSE(set->holds("hmac"));
}

TEST(jwk_set, refuses_documents_without_usable_keys) {
  for (const char* doc : {"", "[]", "{}", R"({"keys":{}})", R"({"keys":[]})", R"({"keys":[{"kty":"RSA"}]})",
                          R"({"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]})"}) {
    auto set = jwk_set::parse(doc);
    EXPECT_FALSE(set.ok()) << doc;
    if (!set.ok()) {
      EXPECT_EQ(set.err().code(), core::errc::bad_gateway) << doc;
    }
  }
  EXPECT_FALSE(jwk_set::parse(std::string(std::size_t{300} * 1024, ' ')).ok());
  json::array many;
  for (int i = 0; i < 65; ++i) many.push_back(ec_key().jwk());
  EXPECT_FALSE(jwk_set::parse(json::serialize(json::object{{"keys", many}})).ok());
}

TEST(oidc_verifier, accepts_rs256_and_es256_tokens_of_the_provider) {
  auto v = verifier_with_keys();
  for (const auto* key : {&rsa_key(), &ec_key()}) {
    auto token = key->sign(claims_for("sub-" + key->kid()));
    EXPECT_TRUE(v->issued(token));
    auto who = v->verify(token, now);
    ASSERT_TRUE(who.ok()) << key->alg() << ": " << who.err().message();
    EXPECT_EQ(who->subject, "sub-" + key->kid());
    EXPECT_EQ(who->email, "erika@example.eu");
    EXPECT_TRUE(who->email_verified);
    EXPECT_EQ(who->name, "Erika Mustermann");
    EXPECT_EQ(who->groups, (std::vector<std::string>{"offline_access", "editors"}));
  }
}

TEST(oidc_verifier, refuses_forged_altered_and_foreign_tokens) {
  auto v = verifier_with_keys();
  auto good = rsa_key().sign(claims_for("u1"));
  auto dot = good.rfind('.');

  // alg none, with and without a signature.
  std::string none_header = core::base64url_encode(R"({"alg":"none","kid":"rsa-1"})");
  std::string body = good.substr(good.find('.') + 1, dot - good.find('.') - 1);
  EXPECT_EQ(refusal(v->verify(none_header + "." + body + ".", now)), "invalid token: unexpected algorithm");
  // HS256 keyed with the public key's bytes: the classic algorithm confusion.
  std::string hs_header = core::base64url_encode(R"({"alg":"HS256","kid":"rsa-1"})");
  std::string input = hs_header + "." + body;
  std::string public_n(rsa_key().jwk().at("n").as_string());
  EXPECT_EQ(refusal(v->verify(input + "." + core::base64url_encode(core::hmac_sha256(public_n, input)), now)),
            "invalid token: unexpected algorithm");
  // A header naming ES256 for the RSA key.
  EXPECT_EQ(refusal(v->verify(rsa_key().sign(claims_for("u1"), "ES256"), now)), "invalid token: unexpected algorithm");
  // A payload changed after signing.
  auto altered = claims_for("u1");
  altered["realm_access"] = {{"roles", json::array{"wattos-admins"}}};
  std::string forged =
      good.substr(0, good.find('.') + 1) + core::base64url_encode(json::serialize(altered)) + good.substr(dot);
  EXPECT_EQ(refusal(v->verify(forged, now)), "invalid token: bad signature");
  // Signed by a key the provider does not publish, under a known and an unknown kid.
  auto stranger = provider_key::p256("ec-1");
  EXPECT_EQ(refusal(v->verify(stranger.sign(claims_for("u1")), now)), "invalid token: bad signature");
  auto rotated = provider_key::p256("ec-2");
  EXPECT_EQ(refusal(v->verify(rotated.sign(claims_for("u1")), now)), "invalid token: unknown key id");

  auto with = [](const char* name, json::value value) {
    auto c = claims_for("u1");
    c[name] = std::move(value);
    return c;
  };
  EXPECT_EQ(refusal(v->verify(rsa_key().sign(with("iss", "https://evil.example")), now)),
            "invalid token: wrong issuer");
  EXPECT_EQ(refusal(v->verify(rsa_key().sign(with("aud", json::array{"other"})), now)),
            "invalid token: wrong audience");
  EXPECT_TRUE(v->verify(rsa_key().sign(with("aud", "wattos")), now).ok());  // aud as a string
  EXPECT_EQ(refusal(v->verify(rsa_key().sign(with("exp", now - 61)), now)), "invalid token: expired");
  EXPECT_EQ(refusal(v->verify(rsa_key().sign(with("sub", "")), now)), "invalid token: no subject");
  EXPECT_EQ(refusal(v->verify(rsa_key().sign(with("sub", json::string(std::string(256, 's')))), now)),
            "invalid token: subject longer than 255 characters");
  EXPECT_FALSE(v->verify("not.a.token", now).ok());
  EXPECT_FALSE(v->verify(std::string(9000, 'a'), now).ok());
}

TEST(oidc_verifier, takes_an_email_shaped_login_name_but_never_as_verified) {
  auto v = verifier_with_keys();
  auto c = claims_for("u1");
  c.erase("email");
  c["preferred_username"] = "Max@Example.EU";
  auto who = v->verify(rsa_key().sign(c), now);
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->email, "max@example.eu");
  EXPECT_FALSE(who->email_verified);
  EXPECT_EQ(who->name, "Erika Mustermann");
}

TEST(oidc_verifier, maps_groups_to_roles_with_a_default) {
  auto v = verifier_with_keys();
  EXPECT_EQ(v->mapped_roles({"editors", "wattos-admins", "editors"}), (std::vector<std::string>{"admin", "editor"}));
  EXPECT_EQ(v->mapped_roles({"sales"}), (std::vector<std::string>{"member"}));
  auto s = provider_settings();
  s.default_role.clear();
  EXPECT_TRUE(oidc_verifier(s).mapped_roles({"sales"}).empty());
}

TEST(oidc_verifier, wants_keys_only_for_unknown_key_ids_and_not_twice_in_a_row) {
  auto v = std::make_shared<oidc_verifier>(provider_settings());
  auto token = rsa_key().sign(claims_for("u1"));
  EXPECT_EQ(refusal(v->verify(token, now)), "the identity provider's keys are not loaded yet");
  EXPECT_TRUE(v->wants_keys_for(token));
  // The fetch fails (nothing listens on the URL's port): the next waits jwks_min_interval_s.
  boost::asio::io_context io;
  auto done = boost::asio::co_spawn(io, oidc_verifier::refresh_keys(v), boost::asio::use_future);
  io.run();
  EXPECT_FALSE(done.get().ok());
  EXPECT_FALSE(v->wants_keys_for(token));
  EXPECT_FALSE(v->wants_keys_for("garbage"));
  EXPECT_FALSE(v->keys_stale());  // no keys held: nothing is stale

  auto eager = provider_settings();
  eager.jwks_min_interval_s = 0;
  auto w = verifier_with_keys(eager);
  EXPECT_FALSE(w->wants_keys_for(token));  // its kid is held
  EXPECT_TRUE(w->wants_keys_for(provider_key::p256("ec-2").sign(claims_for("u1"))));
  auto ours = claims_for("u1");
  ours["iss"] = "wattos";  // an expired token of our own must not send us to the provider
  EXPECT_FALSE(w->wants_keys_for(provider_key::p256("ec-2").sign(ours)));
}

// The provider's JWKS endpoint, counting its requests. While held, a request waits at the
// endpoint (on the server's own thread) until released.
class jwks_server {
 public:
  jwks_server() {
    server_.routes.add("GET", "/certs", [this](net::request&) -> boost::asio::awaitable<net::response> {
      ++requests;
      std::string body;
      {
        std::unique_lock lock(mutex_);
        ++waiting_;
        changed_.notify_all();
        changed_.wait(lock, [this] { return !held_; });
        --waiting_;
        body = document_;
      }
      co_return net::response::json(200, body);
    });
    server_.start();
  }
  ~jwks_server() {
    release();
    server_.stop();
  }
  void publish(std::string doc) {
    std::lock_guard lock(mutex_);
    document_ = std::move(doc);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()) + "/certs"; }

  void hold() {
    std::lock_guard lock(mutex_);
    held_ = true;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      held_ = false;
    }
    changed_.notify_all();
  }
  // True once a request waits at the held endpoint.
  bool wait_for_held_request(std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [this] { return waiting_ > 0; });
  }

  std::atomic<int> requests{0};

 private:
  net::testing::test_server server_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string document_;
  bool held_ = false;
  int waiting_ = 0;
};

TEST(oidc_verifier, fetches_keys_once_for_callers_that_ask_together_and_keeps_them_on_failure) {
  jwks_server provider;
  provider.publish(jwks_of(rsa_key()));
  auto s = provider_settings();
  s.jwks_url = provider.url();
  auto v = std::make_shared<oidc_verifier>(s);
  auto token = rsa_key().sign(claims_for("u1"));

  // Each caller checks the token right after its refresh returns: one that returned
  // before the shared fetch ended would find no keys.
  boost::asio::io_context io;
  std::vector<std::future<bool>> results;
  for (int i = 0; i < 3; ++i) {
    auto caller = [](std::shared_ptr<oidc_verifier> verifier, std::string t) -> boost::asio::awaitable<bool> {
      auto st = co_await oidc_verifier::refresh_keys(verifier);
      co_return st.ok() && verifier->verify(t, now).ok();
    };
    results.push_back(boost::asio::co_spawn(io, caller(v, token), boost::asio::use_future));
  }
  io.run();
  for (auto& r : results) EXPECT_TRUE(r.get());
  EXPECT_EQ(provider.requests.load(), 1);

  // A broken document does not replace the keys held.
  provider.publish("{\"keys\": []}");
  io.restart();
  auto failed = boost::asio::co_spawn(io, oidc_verifier::refresh_keys(v), boost::asio::use_future);
  io.run();
  EXPECT_EQ(failed.get().err().code(), core::errc::bad_gateway);
  EXPECT_TRUE(v->verify(token, now).ok());
}

// What the gateway's authenticate middleware does, without waiting a real hour: keys
// older than jwks_refresh_s are stale, and the (detached) refresh that follows installs
// the provider's rotated keys; a refresh that failed is not retried before
// jwks_min_interval_s.
TEST(oidc_verifier, keys_past_the_refresh_interval_are_stale_until_a_refresh_renews_them) {
  jwks_server provider;
  provider.publish(jwks_of(rsa_key()));
  auto s = provider_settings();
  s.jwks_url = provider.url();
  s.jwks_refresh_s = 3600;
  s.jwks_min_interval_s = 10;
  auto v = std::make_shared<oidc_verifier>(s);
  auto refresh = [&v] {
    boost::asio::io_context io;
    auto done = boost::asio::co_spawn(io, oidc_verifier::refresh_keys(v), boost::asio::use_future);
    io.run();
    return done.get();
  };
  ASSERT_TRUE(refresh().ok());
  EXPECT_FALSE(v->keys_stale());
  v->backdate_keys_for_test(std::chrono::seconds(3600 - 60));
  EXPECT_FALSE(v->keys_stale());  // a minute short of the interval
  v->backdate_keys_for_test(std::chrono::seconds(120));
  EXPECT_TRUE(v->keys_stale());

  // The provider rotated its key: after the refresh only the new one verifies.
  provider.publish(jwks_of(ec_key()));
  ASSERT_TRUE(refresh().ok());
  EXPECT_EQ(provider.requests.load(), 2);
  EXPECT_FALSE(v->keys_stale());
  EXPECT_TRUE(v->verify(ec_key().sign(claims_for("u1")), now).ok());
  EXPECT_FALSE(v->verify(rsa_key().sign(claims_for("u1")), now).ok());

  // Stale again, but the provider is broken: the keys stay, and the failed attempt
  // holds off the next one for jwks_min_interval_s.
  v->backdate_keys_for_test(std::chrono::seconds(3600 + 1));
  provider.publish("{\"keys\": []}");
  ASSERT_TRUE(v->keys_stale());
  EXPECT_FALSE(refresh().ok());
  EXPECT_FALSE(v->keys_stale());
  EXPECT_TRUE(v->verify(ec_key().sign(claims_for("u1")), now).ok());
  v->backdate_keys_for_test(std::chrono::seconds(11));
  EXPECT_TRUE(v->keys_stale());
}

// The identity service with a provider configured, on each store.
class identity_oidc : public infra::db::testing::backend_test {
 protected:
  void SetUp() override {
    backend_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(infra::db::migrate(db(), "audit", audit_log::migrations()).ok());
    data_dir_ = std::filesystem::temp_directory_path() / ("wattos-oidc-" + core::random_hex(6));
    audit_ = std::make_unique<audit_log>(db());
    make_service(provider_settings());
  }
  void make_service(const core::oidc_settings& oidc) {
    svc_.reset();
    core::auth_settings auth;
    auth.principal_cache_ms = 0;  // every check asks the store: role changes show at once
    auto created = identity_service::create(db(), *audit_, auth, data_dir_.string(), oidc);
    ASSERT_TRUE(created.ok()) << created.err().message();
    svc_ = std::move(created).value();
    svc_->set_clock_for_test([] { return now; });
    ASSERT_TRUE(svc_->bootstrap().ok());
    auto keys = jwk_set::parse(jwks_of(rsa_key(), ec_key()));
    ASSERT_TRUE(keys.ok());
    ASSERT_NE(svc_->oidc(), nullptr);
    svc_->oidc()->set_keys(std::move(keys).value());
  }
  void TearDown() override {
    svc_.reset();
    std::filesystem::remove_all(data_dir_);
    backend_test::TearDown();
  }

  std::filesystem::path data_dir_;
  std::unique_ptr<audit_log> audit_;
  std::unique_ptr<identity_service> svc_;
};

TEST_P(identity_oidc, a_new_identity_becomes_a_user_whose_roles_follow_the_groups) {
  auto who = svc_->authenticate(rsa_key().sign(claims_for("kc-erika")));
  ASSERT_TRUE(who.ok()) << who.err().message();
  EXPECT_EQ(who->kind, "user");
  EXPECT_EQ(who->email, "erika@example.eu");
  EXPECT_EQ(who->roles, (std::vector<std::string>{"editor"}));
  EXPECT_TRUE(who->session_id.empty());

  // The same identity again, now in the admins group: the same user, with the new role.
  auto c = claims_for("kc-erika");
  c["realm_access"] = {{"roles", json::array{"wattos-admins"}}};
  auto again = svc_->authenticate(ec_key().sign(c));
  ASSERT_TRUE(again.ok()) << again.err().message();
  EXPECT_EQ(again->user_id, who->user_id);
  EXPECT_EQ(again->roles, (std::vector<std::string>{"admin"}));
  auto user = svc_->get_user(who->user_id);
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->display_name, "Erika Mustermann");
  EXPECT_EQ(user->roles, (std::vector<std::string>{"admin"}));

  // Such a user has no password here and no session to end.
  EXPECT_EQ(svc_->login("erika@example.eu", "", {"192.0.2.1", "r"}).err().code(), core::errc::unauthenticated);
  EXPECT_EQ(svc_->change_password(*again, "x", "a-long-enough-passphrase", {}).err().code(),
            core::errc::failed_precondition);
  EXPECT_EQ(svc_->logout(*again, {}).err().code(), core::errc::failed_precondition);

  // An admin can still shut the user out here.
  ASSERT_TRUE(svc_->update_user(who->user_id, std::nullopt, std::string("disabled")).ok());
  EXPECT_EQ(svc_->authenticate(rsa_key().sign(claims_for("kc-erika"))).err().message(), "account disabled");

  // Provisioning and linking are in the audit trail.
  audit_filter provisioned;
  provisioned.action = "auth.oidc_provision";
  auto events = audit_->query(provisioned);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().event.target, "user:" + who->user_id);
}

TEST_P(identity_oidc, an_existing_user_is_linked_only_by_a_verified_email) {
  auto local = svc_->create_user("max@example.eu", "Max", "a-long-enough-passphrase", {"member"});
  ASSERT_TRUE(local.ok()) << local.err().message();
  auto unverified = svc_->authenticate(rsa_key().sign(claims_for("kc-max", "max@example.eu", false)));
  EXPECT_EQ(unverified.err().code(), core::errc::unauthenticated);
  auto verified = svc_->authenticate(rsa_key().sign(claims_for("kc-max", "Max@Example.eu", true)));
  ASSERT_TRUE(verified.ok()) << verified.err().message();
  EXPECT_EQ(verified->user_id, local->id);
  // The local password still works for the linked user.
  EXPECT_TRUE(svc_->login("max@example.eu", "a-long-enough-passphrase", {"192.0.2.1", "r"}).ok());
}

TEST_P(identity_oidc, without_provisioning_only_known_users_get_in_and_without_roles_claim_roles_stay_local) {
  auto s = provider_settings();
  s.provision_users = false;
  s.roles_claim.clear();
  make_service(s);
  EXPECT_EQ(svc_->authenticate(rsa_key().sign(claims_for("kc-new", "new@example.eu"))).err().message(),
            "no user here for this identity");
  auto local = svc_->create_user("anna@example.eu", "Anna", "a-long-enough-passphrase", {"auditor"});
  ASSERT_TRUE(local.ok());
  auto who = svc_->authenticate(rsa_key().sign(claims_for("kc-anna", "anna@example.eu")));
  ASSERT_TRUE(who.ok()) << who.err().message();
  EXPECT_EQ(who->roles, (std::vector<std::string>{"auditor"}));  // the groups claim is not read
}

TEST_P(identity_oidc, a_token_without_email_or_from_another_issuer_is_refused) {
  auto c = claims_for("kc-x");
  c.erase("email");
  EXPECT_EQ(svc_->authenticate(rsa_key().sign(c)).err().message(),
            "the identity provider's token carries no e-mail address");
  // Another issuer's token goes to the local verifier, which refuses the algorithm.
  auto foreign = claims_for("kc-x");
  foreign["iss"] = "wattos";
  EXPECT_EQ(svc_->authenticate(rsa_key().sign(foreign)).err().code(), core::errc::unauthenticated);
}

// The gateway's authenticate middleware: a request whose token verifies with keys past
// jwks_refresh_s is answered with those keys at once, and the refresh runs beside it.
// The provider holds the fetch until the answer is back; once the refresh is done, the
// rotated key set decides.
TEST_P(identity_oidc, the_gateway_answers_with_stale_keys_and_refreshes_them_in_the_background) {
  jwks_server provider;
  provider.publish(jwks_of(ec_key()));  // rotated: the RSA key is gone
  auto settings = provider_settings();
  settings.jwks_url = provider.url();
  settings.jwks_refresh_s = 3600;
  make_service(settings);  // holds the RSA and the EC key, just loaded
  auto limiter = infra::make_memory_rate_limiter();
  net::testing::test_server srv;
  route_table routes(srv.routes);
  routes.add(
      "GET", "/api/v1/test/me", access_rule::signed_in(),
      [](net::request& req) -> boost::asio::awaitable<net::response> {
        co_return net::response::json(200, json::serialize(json::object{{"kind", req.attribute("principal.kind")}}));
      });
  gateway gw(routes, *svc_, *audit_, *limiter, core::rate_limit_settings{}, core::cors_settings{});
  srv.middlewares = {gw.authenticate(), gw.authorize()};
  srv.start();
  auto me = [&srv](const std::string& token) {
    return net::testing::send_request(srv.port(), "GET", "/api/v1/test/me", {}, {{"Authorization", "Bearer " + token}});
  };
  const std::string rsa_token = rsa_key().sign(claims_for("kc-erika"));
  const std::string ec_token = ec_key().sign(claims_for("kc-erika"));

  auto fresh = me(rsa_token);
  EXPECT_EQ(fresh.status, 200) << fresh.body;
  EXPECT_EQ(provider.requests.load(), 0);  // fresh keys: nothing fetched

  svc_->oidc()->backdate_keys_for_test(std::chrono::seconds(3600 + 1));
  provider.hold();
  auto stale = me(rsa_token);  // answered while the fetch waits at the provider
  EXPECT_EQ(stale.status, 200) << stale.body;
  ASSERT_TRUE(provider.wait_for_held_request(std::chrono::seconds(10))) << "no refresh was started";
  provider.release();
  // refresh_keys joins a fetch that runs (and fetches again if it ended already).
  boost::asio::io_context io;
  auto joined = boost::asio::co_spawn(io, oidc_verifier::refresh_keys(svc_->oidc()), boost::asio::use_future);
  io.run();
  ASSERT_TRUE(joined.get().ok());
  EXPECT_GE(provider.requests.load(), 1);

  EXPECT_EQ(me(rsa_token).status, 401);  // its key is no longer published
  auto rotated = me(ec_token);
  EXPECT_EQ(rotated.status, 200) << rotated.body;
  srv.stop();
}

INSTANTIATE_TEST_SUITE_P(backends, identity_oidc, ::testing::Values("sqlite", "postgres"),
                         infra::db::testing::backend_name);

}  // namespace
}  // namespace wattos::api
