// Black-box tests of the `wattos` binary: each test starts it as a child process with
// a fresh data directory and port 0, learns the port from its "listening" log line,
// and talks HTTP to it.
#include "wattos_process.hpp"

namespace {

using namespace wattos::testing;

TEST_F(wattos_binary, serves_health_readiness_metrics_and_stops_on_sigterm) {
  auto child = start({"serve"});
  auto line = child->wait_for_line("\"msg\":\"listening\"");
  ASSERT_FALSE(line.empty()) << child->captured;
  auto port = port_from(line);

  auto health = send_request(port, "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, R"({"status":"ok"})");
  EXPECT_EQ(health.headers["x-content-type-options"], "nosniff");

  auto ready = send_request(port, "GET", "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_NE(ready.body.find("\"database\":\"ok\""), std::string::npos);

  auto version = send_request(port, "GET", "/api/v1/version");
  EXPECT_EQ(version.status, 200);
  auto v = boost::json::parse(version.body);
  EXPECT_EQ(v.at("services").as_array().at(0).as_string(), "all");
  EXPECT_EQ(v.at("instance_id").as_string().size(), 36u);

  auto missing = send_request(port, "GET", "/api/v1/nothing");
  EXPECT_EQ(missing.status, 404);

  auto metrics = send_request(port, "GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("wattos_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1"),
            std::string::npos)
      << metrics.body;
  EXPECT_TRUE(std::filesystem::exists(data_dir / "wattos.db"));

  ::kill(child->pid, SIGTERM);
  EXPECT_EQ(child->wait_exit(), 0) << child->captured;
  EXPECT_NE(child->captured.find("\"msg\":\"stopped\""), std::string::npos);
}

TEST_F(wattos_binary, instance_id_survives_restart) {
  std::string first_id;
  for (int run = 0; run < 2; ++run) {
    auto child = start({"serve"});
    auto line = child->wait_for_line("\"msg\":\"listening\"");
    ASSERT_FALSE(line.empty()) << child->captured;
    auto version = send_request(port_from(line), "GET", "/api/v1/version");
    std::string id(boost::json::parse(version.body).at("instance_id").as_string());
    if (run == 0)
      first_id = id;
    else
      EXPECT_EQ(id, first_id);
    ::kill(child->pid, SIGTERM);
    EXPECT_EQ(child->wait_exit(), 0);
  }
}

TEST_F(wattos_binary, unknown_config_key_stops_the_start_with_its_name) {
  std::filesystem::create_directories(data_dir);
  auto config = data_dir / "bad.yaml";
  std::ofstream(config) << "server:\n  prot: 8080\n";
  auto child = start({"serve", "--config", config.string()});
  EXPECT_EQ(child->wait_exit(), 2);
  EXPECT_NE(child->captured.find("server.prot"), std::string::npos) << child->captured;
}

TEST_F(wattos_binary, bad_environment_value_stops_the_start) {
  auto child = start({"serve"}, {"WATTOS_SERVER_THREADS=many"});
  EXPECT_EQ(child->wait_exit(), 2);
  EXPECT_NE(child->captured.find("server.threads"), std::string::npos) << child->captured;
}

TEST_F(wattos_binary, service_mode_and_port_option) {
  auto child = start({"serve", "--service", "chat", "--port", "0"});
  auto line = child->wait_for_line("\"msg\":\"listening\"");
  ASSERT_FALSE(line.empty()) << child->captured;
  auto version = send_request(port_from(line), "GET", "/api/v1/version");
  EXPECT_NE(version.body.find("\"services\":[\"chat\"]"), std::string::npos) << version.body;
  ::kill(child->pid, SIGTERM);
  EXPECT_EQ(child->wait_exit(), 0);
}

TEST_F(wattos_binary, migrate_lists_applied_migrations_and_version_prints) {
  auto migrate = start({"migrate"});
  EXPECT_EQ(migrate->wait_exit(), 0) << migrate->captured;
  EXPECT_NE(migrate->captured.find("core 1 instance"), std::string::npos) << migrate->captured;
  auto version = start({"version"});
  EXPECT_EQ(version->wait_exit(), 0);
  EXPECT_NE(version->captured.find("wattos 0.1.0"), std::string::npos) << version->captured;
  auto unknown = start({"serve", "--service", "nope"});
  EXPECT_NE(unknown->wait_exit(), 0);
}

}  // namespace
