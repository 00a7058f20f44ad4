#include "core/config.hpp"

#include <gtest/gtest.h>

namespace wattos::core {
namespace {

TEST(config, defaults_without_file) {
  auto cfg = parse_config("", {});
  ASSERT_TRUE(cfg.ok()) << cfg.err().message();
  EXPECT_EQ(cfg->server.port, 3001);
  EXPECT_EQ(cfg->database.backend, "sqlite");
  EXPECT_EQ(cfg->data_dir, "./data");
}

TEST(config, yaml_sets_nested_values) {
  auto cfg = parse_config("server:\n  port: 8080\n  threads: 2\nlog:\n  level: debug\n  access_log: false\n", {});
  ASSERT_TRUE(cfg.ok()) << cfg.err().message();
  EXPECT_EQ(cfg->server.port, 8080);
  EXPECT_EQ(cfg->server.threads, 2);
  EXPECT_EQ(cfg->log.level, "debug");
  EXPECT_FALSE(cfg->log.access_log);
}

TEST(config, unknown_key_is_named) {
  auto cfg = parse_config("server:\n  prot: 8080\n", {});
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.err().code(), errc::invalid_argument);
  EXPECT_NE(cfg.err().message().find("server.prot"), std::string::npos) << cfg.err().message();
}

TEST(config, unknown_top_level_section_is_named) {
  auto cfg = parse_config("severs:\n  port: 1\n", {});
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.err().message().find("'severs'"), std::string::npos) << cfg.err().message();
}

TEST(config, bad_values_are_named) {
  for (const char* text : {"server:\n  port: 70000\n", "server:\n  port: abc\n", "log:\n  level: loud\n",
                           "log:\n  access_log: maybe\n", "server:\n  threads: -1\n"}) {
    auto cfg = parse_config(text, {});
    ASSERT_FALSE(cfg.ok()) << text;
    EXPECT_EQ(cfg.err().code(), errc::invalid_argument);
    EXPECT_NE(cfg.err().message().find("config: "), std::string::npos);
  }
}

TEST(config, section_must_be_mapping_and_value_scalar) {
  EXPECT_FALSE(parse_config("server: 5\n", {}).ok());
  EXPECT_FALSE(parse_config("server:\n  port: [1, 2]\n", {}).ok());
  EXPECT_FALSE(parse_config("- a\n- b\n", {}).ok());
}

TEST(config, yaml_syntax_error_is_reported) {
  auto cfg = parse_config("server: [unclosed\n", {});
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.err().message().find("YAML"), std::string::npos);
}

TEST(config, environment_overrides_file) {
  environment env{{"WATTOS_SERVER_PORT", "9090"}, {"WATTOS_SERVER_READ_TIMEOUT_MS", "2500"}, {"HOME", "/root"}};
  auto cfg = parse_config("server:\n  port: 8080\n", env);
  ASSERT_TRUE(cfg.ok()) << cfg.err().message();
  EXPECT_EQ(cfg->server.port, 9090);
  EXPECT_EQ(cfg->server.read_timeout_ms, 2500);
}

TEST(config, unknown_environment_variable_is_named) {
  auto cfg = parse_config("", {{"WATTOS_SERVER_PROT", "1"}});
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.err().message().find("WATTOS_SERVER_PROT"), std::string::npos);
}

TEST(config, reserved_environment_variables_are_ignored) {
  auto cfg = parse_config("", {{"WATTOS_CONFIG", "x.yaml"}, {"WATTOS_TEST_POSTGRES_URL", "postgresql://x"}});
  EXPECT_TRUE(cfg.ok());
}

TEST(config, postgres_backend_needs_url) {
  EXPECT_FALSE(parse_config("database:\n  backend: postgres\n", {}).ok());
  EXPECT_TRUE(parse_config("database:\n  backend: postgres\n  postgres_url: postgresql://u@h/db\n", {}).ok());
}

TEST(config, every_option_has_description_and_env_name) {
  for (const auto& option : config_options()) {
    EXPECT_FALSE(option.description.empty()) << option.path;
    EXPECT_TRUE(option.env_name.starts_with("WATTOS_")) << option.path;
  }
}

TEST(config, dump_round_trips_and_redacts_password) {
  auto cfg = parse_config("server:\n  port: 4000\ndatabase:\n  postgres_url: postgresql://u:hunter2@h/db\n", {});
  ASSERT_TRUE(cfg.ok());
  std::string text = dump_config(*cfg);
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  auto again = parse_config(text, {});
  ASSERT_TRUE(again.ok()) << again.err().message();
  EXPECT_EQ(again->server.port, 4000);
}

TEST(config, redact_url_password_cases) {
  EXPECT_EQ(redact_url_password("postgresql://u:pw@h:5432/db"), "postgresql://u:***@h:5432/db");
  EXPECT_EQ(redact_url_password("postgresql://u@h/db"), "postgresql://u@h/db");
  EXPECT_EQ(redact_url_password("not a url"), "not a url");
  EXPECT_EQ(redact_url_password("http://h/p:x@y"), "http://h/p:x@y");
}

TEST(config, shipped_default_file_is_valid) {
  auto cfg = load_config(WATTOS_SOURCE_DIR "/config/wattos.yaml", {});
  ASSERT_TRUE(cfg.ok()) << cfg.err().message();
}

TEST(config, models_list_is_parsed_with_defaults) {
  auto cfg = parse_config(R"(
models:
  - id: mistral-large
    provider: openai
    endpoint: https://api.mistral.example/v1/
    api_key_env: MISTRAL_API_KEY
    capabilities: [chat, tools]
    price_in_per_1m: 2
    price_out_per_1m: 6.5
    fallbacks: [extractive]
  - id: claude
    provider: anthropic
    endpoint: https://anthropic.example/v1
    region: us
    context_window: 200000
llm:
  default_model: mistral-large
  role_daily_tokens: "member=200000, editor=0"
)",
                          {});
  ASSERT_TRUE(cfg.ok()) << cfg.err().message();
  ASSERT_EQ(cfg->models.size(), 2u);
  const auto& m = cfg->models[0];
  EXPECT_EQ(m.endpoint, "https://api.mistral.example/v1");  // trailing slash dropped
  EXPECT_EQ(m.upstream_model, "mistral-large");
  EXPECT_EQ(m.display_name, "mistral-large");
  EXPECT_EQ(m.region, "eu");
  EXPECT_TRUE(m.external);
  EXPECT_DOUBLE_EQ(m.price_out_per_1m, 6.5);
  EXPECT_EQ(m.fallbacks, std::vector<std::string>{"extractive"});
  EXPECT_EQ(cfg->models[1].capabilities, std::vector<std::string>{"chat"});
  EXPECT_EQ(cfg->models[1].region, "us");
  EXPECT_EQ(cfg->llm.default_model, "mistral-large");
  auto budgets = parse_role_budgets(cfg->llm.role_daily_tokens);
  ASSERT_TRUE(budgets.ok());
  EXPECT_EQ(budgets->at("member"), 200000);
  EXPECT_EQ(budgets->at("editor"), 0);
  EXPECT_NE(dump_config(*cfg).find("mistral-large"), std::string::npos);
}

TEST(config, bad_models_are_named) {
  struct bad_case {
    const char* yaml;
    const char* names;
  };
  const bad_case cases[] = {
      {"models:\n  - provider: openai\n    endpoint: http://x\n", "models[0].id"},
      {"models:\n  - id: a\n    provider: magic\n", "models[0].provider"},
      {"models:\n  - id: a\n    provider: openai\n", "models[0].endpoint"},
      {"models:\n  - id: a\n    provider: openai\n    endpoint: ftp://x\n", "models[0].endpoint"},
      {"models:\n  - id: a\n    provider: extractive\n    colour: red\n", "models[0].colour"},
      {"models:\n  - id: a\n    provider: extractive\n    capabilities: [telepathy]\n", "telepathy"},
      {"models:\n  - id: a\n    provider: extractive\n    price_in_per_1m: -1\n", "price_in_per_1m"},
      {"models:\n  - id: a b\n    provider: extractive\n", "models[0].id"},
      {"models:\n  - id: a\n    provider: extractive\n  - id: a\n    provider: extractive\n", "twice"},
      {"models:\n  - id: a\n    provider: extractive\n    fallbacks: [ghost]\n", "ghost"},
      {"models:\n  - id: a\n    provider: extractive\n    fallbacks: [a]\n", "fallback 'a'"},
      {"models: {id: a}\n", "models must be a list"},
      {"llm:\n  default_model: ghost\n", "llm.default_model"},
      {"llm:\n  role_daily_tokens: member\n", "llm.role_daily_tokens"},
      {"llm:\n  max_retries: 99\n", "llm.max_retries"},
  };
  for (const auto& c : cases) {
    auto cfg = parse_config(c.yaml, {});
    ASSERT_FALSE(cfg.ok()) << c.yaml;
    EXPECT_EQ(cfg.err().code(), errc::invalid_argument);
    EXPECT_NE(cfg.err().message().find(c.names), std::string::npos) << c.yaml << " -> " << cfg.err().message();
  }
}

TEST(config, missing_file_is_not_found) {
  auto cfg = load_config("/nonexistent/wattos.yaml", {});
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.err().code(), errc::not_found);
}

}  // namespace
}  // namespace wattos::core
