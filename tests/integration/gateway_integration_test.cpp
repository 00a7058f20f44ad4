// The gateway end to end, against the real binary: sessions, RBAC on every kind of
// route, API keys, bad credentials and inputs, brute force, CORS, the audit trail, and
// rate limits shared by two processes through Redis.
#include <boost/json/serialize.hpp>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include "../unit/api/oidc_keys.hpp"
#include "core/crypto.hpp"
#include "infra/db/database.hpp"
#include "wattos_process.hpp"

namespace {

using namespace wattos::testing;
namespace json = boost::json;

constexpr const char* strong = "a-long-enough-passphrase";

std::map<std::string, std::string> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};
}

std::map<std::string, std::string> json_only() {
  return {{"Content-Type", "application/json"}};
}

class gateway_test : public wattos_binary {
 protected:
  // Starts the server and logs the initial admin in.
  void boot(std::vector<std::string> env = {}) {
    server_ = start({"serve"}, std::move(env));
    auto line = server_->wait_for_line("\"msg\":\"listening\"");
    ASSERT_FALSE(line.empty()) << server_->captured;
    port_ = port_from(line);
    auto pw_line = server_->captured.substr(server_->captured.find("One-time password:"));
    admin_password_ = pw_line.substr(pw_line.find(':') + 1);
    admin_password_ = admin_password_.substr(admin_password_.find_first_not_of(' '));
    admin_password_ = admin_password_.substr(0, admin_password_.find('\n'));
    admin_token_ = login("admin@localhost", admin_password_);
    ASSERT_FALSE(admin_token_.empty());
  }

  reply call(const std::string& method, const std::string& path, const std::string& token = {},
             const std::string& body = {}) {
    return send_request(port_, method, path, body, token.empty() ? json_only() : bearer(token));
  }

  std::string login(const std::string& email, const std::string& password) {
    auto r =
        call("POST", "/api/v1/auth/login", {}, json::serialize(json::object{{"email", email}, {"password", password}}));
    if (r.status != 200) return {};
    return std::string(json::parse(r.body).at("access_token").as_string());
  }

  std::string make_member(const std::string& email) {
    auto r =
        call("POST", "/api/v1/admin/users", admin_token_,
             json::serialize(json::object{{"email", email}, {"password", strong}, {"roles", json::array{"member"}}}));
    EXPECT_EQ(r.status, 201) << r.body;
    return login(email, strong);
  }

  static std::string code_of(const reply& r) {
    return std::string(json::parse(r.body).at("error").at("code").as_string());
  }

  std::unique_ptr<child_process> server_;
  std::uint16_t port_ = 0;
  std::string admin_password_;
  std::string admin_token_;
};

TEST_F(gateway_test, every_admin_route_refuses_members_and_anonymous_callers) {
  boot();
  auto member = make_member("mia@example.eu");
  ASSERT_FALSE(member.empty());
  struct probe {
    const char* method;
    const char* path;
  };
  const probe admin_routes[] = {
      {"GET", "/api/v1/admin/users"},
      {"POST", "/api/v1/admin/users"},
      {"GET", "/api/v1/admin/users/x"},
      {"PATCH", "/api/v1/admin/users/x"},
      {"DELETE", "/api/v1/admin/users/x"},
      {"PUT", "/api/v1/admin/users/x/roles"},
      {"POST", "/api/v1/admin/users/x/password"},
      {"GET", "/api/v1/admin/roles"},
      {"POST", "/api/v1/admin/roles"},
      {"PATCH", "/api/v1/admin/roles/x"},
      {"DELETE", "/api/v1/admin/roles/x"},
      {"GET", "/api/v1/admin/api-keys"},
      {"DELETE", "/api/v1/admin/api-keys/x"},
      {"GET", "/api/v1/admin/audit"},
      {"GET", "/api/v1/admin/audit/export"},
      {"GET", "/api/v1/admin/audit/verify"},
      {"GET", "/api/v1/admin/permissions"},
  };
  for (const auto& p : admin_routes) {
    auto anonymous = call(p.method, p.path, {}, "{}");
    EXPECT_EQ(anonymous.status, 401) << p.method << " " << p.path;
    EXPECT_EQ(code_of(anonymous), "unauthenticated");
    auto as_member = call(p.method, p.path, member, "{}");
    EXPECT_EQ(as_member.status, 403) << p.method << " " << p.path;
    EXPECT_EQ(code_of(as_member), "permission_denied");
  }
  // Signed-in routes refuse anonymous callers too.
  EXPECT_EQ(call("GET", "/api/v1/auth/me").status, 401);
  EXPECT_EQ(call("GET", "/api/v1/api-keys").status, 401);
  EXPECT_EQ(call("GET", "/api/v1/auth/me", member).status, 200);
}

TEST_F(gateway_test, api_keys_work_and_belong_to_their_owner) {
  boot();
  auto mia = make_member("mia@example.eu");
  auto created = call("POST", "/api/v1/api-keys", mia,
                      json::serialize(json::object{{"name", "laptop"}, {"permissions", json::array{"chat:use"}}}));
  ASSERT_EQ(created.status, 201) << created.body;
  auto key_doc = json::parse(created.body);
  std::string key(key_doc.at("key").as_string());
  std::string key_id(key_doc.at("id").as_string());
  auto me = send_request(port_, "GET", "/api/v1/auth/me", {}, {{"X-API-Key", key}});
  EXPECT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(json::parse(me.body).at("auth").as_string(), "api_key");
  // The key holds chat:use only: its owner's own key list is out of its reach.
  EXPECT_EQ(call("GET", "/api/v1/api-keys", key).status, 403);
  // Another member can neither see nor revoke it.
  auto max = make_member("max@example.eu");
  EXPECT_EQ(call("DELETE", "/api/v1/api-keys/" + key_id, max).status, 404);
  auto max_list = json::parse(call("GET", "/api/v1/api-keys", max).body);
  EXPECT_TRUE(max_list.at("items").as_array().empty());
  // The admin sees every key, without secrets, and can revoke it.
  auto all = call("GET", "/api/v1/admin/api-keys", admin_token_);
  EXPECT_EQ(all.body.find(key), std::string::npos);
  EXPECT_EQ(call("DELETE", "/api/v1/admin/api-keys/" + key_id, admin_token_).status, 204);
  EXPECT_EQ(send_request(port_, "GET", "/api/v1/auth/me", {}, {{"X-API-Key", key}}).status, 401);
}

TEST_F(gateway_test, bad_credentials_are_refused) {
  boot();
  auto none = wattos::core::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." +
              wattos::core::base64url_encode(R"({"sub":"x","iss":"wattos","aud":"wattos","exp":9999999999})") + ".";
  for (const std::string& token : {none, std::string("garbage"), std::string("wk_guessed"), admin_token_ + "x"}) {
    auto r = call("GET", "/api/v1/auth/me", token);
    EXPECT_EQ(r.status, 401) << token;
    EXPECT_EQ(r.headers["www-authenticate"], "Bearer error=\"invalid_token\"");
  }
  // A token signed by another installation's key.
  auto other = wattos::core::ed25519_generate();
  auto header = wattos::core::base64url_encode(R"({"alg":"EdDSA","typ":"JWT"})");
  auto payload =
      wattos::core::base64url_encode(R"({"sub":"x","iss":"wattos","aud":"wattos","exp":9999999999,"sid":"s","tv":0})");
  auto forged = header + "." + payload + "." +
                wattos::core::base64url_encode(wattos::core::ed25519_sign(other.secret_key, header + "." + payload));
  EXPECT_EQ(call("GET", "/api/v1/auth/me", forged).status, 401);
}

TEST_F(gateway_test, logout_refresh_reuse_and_password_change) {
  boot({"WATTOS_RATE_LIMIT_LOGIN_BURST=20"});  // more logins and refreshes than the default burst
  auto login_reply = call("POST", "/api/v1/auth/login", {},
                          json::serialize(json::object{{"email", "admin@localhost"}, {"password", admin_password_}}));
  auto doc = json::parse(login_reply.body);
  std::string access(doc.at("access_token").as_string());
  std::string refresh(doc.at("refresh_token").as_string());
  auto rotated = call("POST", "/api/v1/auth/refresh", {}, json::serialize(json::object{{"refresh_token", refresh}}));
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  auto reuse = call("POST", "/api/v1/auth/refresh", {}, json::serialize(json::object{{"refresh_token", refresh}}));
  EXPECT_EQ(reuse.status, 401);
  EXPECT_EQ(call("GET", "/api/v1/auth/me", access).status, 401);  // the family is gone
  EXPECT_EQ(call("POST", "/api/v1/auth/logout", admin_token_).status, 204);
  EXPECT_EQ(call("GET", "/api/v1/auth/me", admin_token_).status, 401);
  auto fresh = login("admin@localhost", admin_password_);
  auto weak = call("POST", "/api/v1/auth/password", fresh,
                   json::serialize(json::object{{"current_password", admin_password_}, {"new_password", "short"}}));
  EXPECT_EQ(weak.status, 400);
  auto changed = call("POST", "/api/v1/auth/password", fresh,
                      json::serialize(json::object{{"current_password", admin_password_}, {"new_password", strong}}));
  EXPECT_EQ(changed.status, 204) << changed.body;
  EXPECT_EQ(call("GET", "/api/v1/auth/me", fresh).status, 401);
  EXPECT_FALSE(login("admin@localhost", strong).empty());
}

TEST_F(gateway_test, sql_looking_malformed_and_oversized_inputs_get_4xx) {
  boot();
  auto injection =
      call("POST", "/api/v1/auth/login", {}, R"({"email":"admin@localhost' OR '1'='1","password":"x' OR '1'='1"})");
  EXPECT_EQ(injection.status, 401);
  EXPECT_EQ(call("POST", "/api/v1/auth/login", {}, "{not json").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/auth/login", {}, R"({"email":5,"password":"x"})").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/auth/login", {}, R"([1,2])").status, 400);
  auto huge = call("POST", "/api/v1/admin/users", admin_token_, std::string(2 << 20, 'x'));
  EXPECT_EQ(huge.status, 413);
  auto long_name = call("POST", "/api/v1/admin/users", admin_token_,
                        json::serialize(json::object{
                            {"email", "a@b.eu"}, {"password", strong}, {"display_name", std::string(5000, 'n')}}));
  EXPECT_EQ(long_name.status, 400);
  auto drop =
      call("POST", "/api/v1/admin/roles", admin_token_, R"({"name":"x'; DROP TABLE users; --","permissions":[]})");
  EXPECT_EQ(drop.status, 400);
  EXPECT_EQ(call("GET", "/api/v1/admin/users", admin_token_).status, 200);  // still there
  EXPECT_EQ(call("GET", "/api/v1/admin/users/'%20OR%201=1", admin_token_).status, 404);
}

TEST_F(gateway_test, brute_force_is_rate_limited_and_locks_the_account) {
  boot({"WATTOS_RATE_LIMIT_LOGIN_BURST=4", "WATTOS_RATE_LIMIT_LOGIN_PER_MINUTE=1"});
  // The admin's own login above took one token: three wrong guesses remain, then 429.
  int unauthorized = 0;
  reply last;
  for (int i = 0; i < 5; ++i) {
    last =
        call("POST", "/api/v1/auth/login", {},
             json::serialize(json::object{{"email", "admin@localhost"}, {"password", "guess-" + std::to_string(i)}}));
    if (last.status == 401) ++unauthorized;
  }
  EXPECT_EQ(unauthorized, 3);
  EXPECT_EQ(last.status, 429);
  EXPECT_GE(std::stoi(last.headers["retry-after"]), 1);
  EXPECT_EQ(last.headers["ratelimit-remaining"], "0");
  auto audit = call("GET", "/api/v1/admin/audit?action=auth.login&outcome=failure", admin_token_);
  EXPECT_EQ(json::parse(audit.body).at("items").as_array().size(), 3u);
}

TEST_F(gateway_test, denied_and_successful_changes_are_audited_and_exported) {
  boot();
  auto member = make_member("mia@example.eu");
  EXPECT_EQ(call("POST", "/api/v1/admin/roles", member, R"({"name":"x","permissions":[]})").status, 403);
  auto audit = json::parse(call("GET", "/api/v1/admin/audit?action=POST%20/api/v1/admin/roles", admin_token_).body);
  auto items = audit.at("items").as_array();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].at("outcome").as_string(), "403");
  EXPECT_TRUE(items[0].at("actor").as_string().starts_with("user:"));
  auto created = json::parse(call("GET", "/api/v1/admin/audit?action=POST%20/api/v1/admin/users", admin_token_).body);
  EXPECT_EQ(created.at("items").as_array().at(0).at("outcome").as_string(), "201");
  auto export_reply = call("GET", "/api/v1/admin/audit/export", admin_token_);
  EXPECT_EQ(export_reply.headers["content-type"], "application/x-ndjson");
  EXPECT_GE(std::count(export_reply.body.begin(), export_reply.body.end(), '\n'), 5);
  auto verify = json::parse(call("GET", "/api/v1/admin/audit/verify", admin_token_).body);
  EXPECT_TRUE(verify.at("intact").as_bool());

  // Tamper with the stored log: `wattos audit verify` must notice (exit 3).
  ::kill(server_->pid, SIGTERM);
  ASSERT_EQ(server_->wait_exit(), 0);
  wattos::core::database_settings settings;
  settings.sqlite_path = (data_dir / "wattos.db").string();
  auto db = wattos::infra::db::database::open(settings);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->execute("UPDATE audit_log SET outcome = '200' WHERE outcome = '403'").ok());
  db->reset();
  auto check = start({"audit", "verify"});
  EXPECT_EQ(check->wait_exit(), 3) << check->captured;
  EXPECT_NE(check->captured.find("BROKEN"), std::string::npos);
}

// A change through the gateway to a lone service is audited once, by the gateway (it
// sees the caller); the service trusts the signed identity and writes no second row.
TEST_F(gateway_test, a_change_forwarded_to_a_lone_service_is_audited_once) {
  const std::string secret = "an-identity-secret-the-two-processes-share";
  auto service = start({"serve", "--service", "chat"}, {"WATTOS_GATEWAY_IDENTITY_SECRET=" + secret});
  auto service_line = service->wait_for_line("\"msg\":\"listening\"");
  ASSERT_FALSE(service_line.empty()) << service->captured;
  // The first process on the empty store made the admin account.
  auto pw_line = service->captured.substr(service->captured.find("One-time password:"));
  admin_password_ = pw_line.substr(pw_line.find(':') + 1);
  admin_password_ = admin_password_.substr(admin_password_.find_first_not_of(' '));
  admin_password_ = admin_password_.substr(0, admin_password_.find('\n'));
  server_ = start({"serve"}, {"WATTOS_GATEWAY_IDENTITY_SECRET=" + secret,
                              "WATTOS_SERVICES_CHAT_URL=http://127.0.0.1:" + std::to_string(port_from(service_line))});
  auto line = server_->wait_for_line("\"msg\":\"listening\"");
  ASSERT_FALSE(line.empty()) << server_->captured;
  port_ = port_from(line);
  admin_token_ = login("admin@localhost", admin_password_);
  ASSERT_FALSE(admin_token_.empty());

  auto created = call("POST", "/api/v1/conversations", admin_token_, R"({"title":"Audit"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string request_id = created.headers["x-request-id"];
  ASSERT_FALSE(request_id.empty());
  auto audit = json::parse(call("GET", "/api/v1/admin/audit?target=/api/v1/conversations", admin_token_).body);
  int rows = 0;
  for (const auto& item : audit.at("items").as_array()) {
    if (item.at("request_id").as_string() == request_id) {
      ++rows;
      EXPECT_EQ(item.at("outcome").as_string(), "201");
      EXPECT_EQ(item.at("ip").as_string(), "127.0.0.1");
    }
  }
  EXPECT_EQ(rows, 1) << audit;
}

TEST_F(gateway_test, requests_to_unknown_api_paths_are_rate_limited_too) {
  boot({"WATTOS_RATE_LIMIT_DEFAULT_BURST=3", "WATTOS_RATE_LIMIT_DEFAULT_PER_MINUTE=1"});
  int not_found = 0;
  int limited = 0;
  for (int i = 0; i < 6; ++i) {
    auto r = call("POST", "/api/v1/made-up-" + std::to_string(i), {}, "{}");
    if (r.status == 404) ++not_found;
    if (r.status == 429) ++limited;
  }
  EXPECT_EQ(not_found, 3);
  EXPECT_EQ(limited, 3);
}

TEST_F(gateway_test, cors_allows_only_configured_origins) {
  boot({"WATTOS_CORS_ALLOWED_ORIGINS=https://ki.example.eu"});
  auto preflight = send_request(port_, "OPTIONS", "/api/v1/auth/me", {},
                                {{"Origin", "https://ki.example.eu"}, {"Access-Control-Request-Method", "GET"}});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.headers["access-control-allow-origin"], "https://ki.example.eu");
  EXPECT_NE(preflight.headers["access-control-allow-headers"].find("Authorization"), std::string::npos);
  auto foreign = send_request(port_, "GET", "/api/v1/version", {}, {{"Origin", "https://evil.example"}});
  EXPECT_EQ(foreign.headers.count("access-control-allow-origin"), 0u);
  auto allowed = send_request(port_, "GET", "/api/v1/version", {}, {{"Origin", "https://ki.example.eu"}});
  EXPECT_EQ(allowed.headers["access-control-allow-origin"], "https://ki.example.eu");
}

TEST_F(gateway_test, two_processes_share_one_rate_limit_through_redis) {
  const char* redis = std::getenv("WATTOS_TEST_REDIS_URL");
  if (!redis) {
    const char* required = std::getenv("WATTOS_TEST_REQUIRE_SERVERS");
    if (required && std::string_view(required) == "1") FAIL() << "WATTOS_TEST_REDIS_URL is not set";
    GTEST_SKIP() << "WATTOS_TEST_REDIS_URL is not set (scripts/test.sh sets it)";
  }
  std::vector<std::string> env = {"WATTOS_RATE_LIMIT_BACKEND=redis",
                                  std::string("WATTOS_RATE_LIMIT_REDIS_URL=") + redis,
                                  "WATTOS_RATE_LIMIT_DEFAULT_BURST=6", "WATTOS_RATE_LIMIT_DEFAULT_PER_MINUTE=1"};
  auto first = start({"serve"}, env);
  auto first_line = first->wait_for_line("\"msg\":\"listening\"");
  ASSERT_FALSE(first_line.empty()) << first->captured;
  auto second = start({"serve"}, env);
  auto second_line = second->wait_for_line("\"msg\":\"listening\"");
  ASSERT_FALSE(second_line.empty()) << second->captured;
  const std::uint16_t ports[] = {port_from(first_line), port_from(second_line)};
  // Anonymous callers share the bucket of their IP and route class; empty it first so
  // that an earlier run within the refill time cannot interfere.
  std::string flush = std::string("redis-cli -u ") + redis + " DEL wattos:ratelimit:default:ip:127.0.0.1 >/dev/null";
  ASSERT_EQ(std::system(flush.c_str()), 0);
  int allowed = 0;
  int limited = 0;
  for (int i = 0; i < 12; ++i) {
    auto r = send_request(ports[i % 2], "GET", "/api/v1/version");
    if (r.status == 200) ++allowed;
    if (r.status == 429) ++limited;
  }
  EXPECT_EQ(allowed, 6);  // one shared bucket of six, not six per process
  EXPECT_EQ(limited, 6);
}

// An external OpenID Connect provider: its JWKS is served here; the binary fetches
// the keys on first use and again when a token names a new key.
TEST_F(gateway_test, tokens_of_an_openid_connect_provider_sign_users_in) {
  using wattos::api::testing::jwks_of;
  using wattos::api::testing::provider_key;
  const std::string issuer = "https://login.example.eu/realms/acme";
  std::mutex mutex;
  std::string published;
  std::atomic<int> fetches{0};
  wattos::net::testing::test_server provider;
  provider.routes.add("GET", "/certs", [&](wattos::net::request&) -> boost::asio::awaitable<wattos::net::response> {
    ++fetches;
    std::lock_guard lock(mutex);
    co_return wattos::net::response::json(200, published);
  });
  provider.start();
  auto first_key = provider_key::rsa("2026-12");
  auto next_key = provider_key::p256("2027-01");
  {
    std::lock_guard lock(mutex);
    published = jwks_of(first_key);
  }
  boot({"WATTOS_OIDC_ISSUER=" + issuer,
        "WATTOS_OIDC_JWKS_URL=http://127.0.0.1:" + std::to_string(provider.port()) + "/certs",
        "WATTOS_OIDC_AUDIENCE=wattos", "WATTOS_OIDC_ROLES_CLAIM=groups", "WATTOS_OIDC_ROLE_MAP=staff=editor",
        "WATTOS_OIDC_JWKS_MIN_INTERVAL_S=0"});
  auto claims = [&](const std::string& sub, const std::string& email, json::array groups) {
    const auto t = static_cast<std::int64_t>(std::time(nullptr));
    return json::object{{"iss", issuer},
                        {"aud", "wattos"},
                        {"sub", sub},
                        {"exp", t + 300},
                        {"iat", t},
                        {"email", email},
                        {"email_verified", true},
                        {"groups", std::move(groups)}};
  };

  auto erika = first_key.sign(claims("kc-1", "erika@example.eu", {"staff"}));
  auto me = call("GET", "/api/v1/auth/me", erika);
  ASSERT_EQ(me.status, 200) << me.body;
  auto doc = json::parse(me.body);
  EXPECT_EQ(doc.at("email").as_string(), "erika@example.eu");
  EXPECT_EQ(doc.at("roles").as_array(), (json::array{"editor"}));
  EXPECT_EQ(fetches.load(), 1);
  // An editor, not an admin; the admin sees the provisioned user.
  EXPECT_EQ(call("GET", "/api/v1/admin/users", erika).status, 403);
  auto users = call("GET", "/api/v1/admin/users", admin_token_);
  EXPECT_NE(users.body.find("erika@example.eu"), std::string::npos);

  // The provider rotates to a new key: the first token under it makes the gateway fetch again.
  {
    std::lock_guard lock(mutex);
    published = jwks_of(first_key, next_key);
  }
  auto max = next_key.sign(claims("kc-2", "max@example.eu", {}));
  auto max_me = call("GET", "/api/v1/auth/me", max);
  ASSERT_EQ(max_me.status, 200) << max_me.body;
  EXPECT_EQ(json::parse(max_me.body).at("roles").as_array(), (json::array{"member"}));
  EXPECT_EQ(fetches.load(), 2);

  // Forged, foreign and stale tokens are refused with 401 and a Bearer challenge.
  auto impostor = provider_key::p256("2027-01").sign(claims("kc-1", "erika@example.eu", {"staff"}));
  auto forged = call("GET", "/api/v1/auth/me", impostor);
  EXPECT_EQ(forged.status, 401);
  EXPECT_EQ(code_of(forged), "unauthenticated");
  EXPECT_EQ(forged.headers["www-authenticate"], "Bearer error=\"invalid_token\"");
  auto expired_claims = claims("kc-1", "erika@example.eu", {"staff"});
  expired_claims["exp"] = static_cast<std::int64_t>(std::time(nullptr)) - 3600;
  EXPECT_EQ(call("GET", "/api/v1/auth/me", first_key.sign(expired_claims)).status, 401);
  auto wrong_audience = claims("kc-1", "erika@example.eu", {"staff"});
  wrong_audience["aud"] = "another-app";
  EXPECT_EQ(call("GET", "/api/v1/auth/me", first_key.sign(wrong_audience)).status, 401);
  provider.stop();
}

}  // namespace
