// The LLM gateway against a scripted provider: streams, tool calls split across
// chunks, malformed chunks, a mid-stream disconnect, a 429 storm, a slow first token,
// fallbacks, circuit breakers, PII redaction and restoration, residency, budgets and
// usage, for the OpenAI and the Anthropic wire formats and the built-in models.
#include "infra/llm/llm_gateway.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <vector>

#include "core/clock.hpp"
#include "db_backends.hpp"
#include "infra/db/migrations.hpp"
#include "infra/llm/json_wire.hpp"
#include "infra/llm/token_budget.hpp"
#include "scripted_provider.hpp"
#include "test_images.hpp"

namespace wattos::infra::llm {
namespace {

using net::testing::run_client;
using testing::scripted_provider;

struct collected {
  std::string text;
  std::map<int, tool_call> calls;
  std::string finish_reason;
  token_usage usage;
  std::optional<core::error> failure;
  std::string model;
  int events = 0;
};

class llm_gateway_test : public db::testing::backend_test {
 protected:
  void SetUp() override {
    backend_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(db::migrate(db(), "llm", llm_gateway::migrations()).ok());
    cfg_.llm.retry_base_ms = 1;
    cfg_.llm.retry_max_ms = 20;
    cfg_.llm.max_retries = 2;
    cfg_.llm.first_token_timeout_ms = 300;
    cfg_.llm.breaker_failures = 3;
    cfg_.llm.breaker_open_ms = 60000;
    for (const char* scenario : {"endless", "normal", "tools", "malformed", "malformed_first", "disconnect", "storm",
                                 "flaky", "slow", "echo", "bad_request"}) {
      add_model(std::string("s-") + scenario, scenario);
    }
    add_model("s-us", "normal").region = "us";
    add_model("s-embed", "embed").capabilities = {"embeddings"};
    add_model("s-rerank", "rerank").capabilities = {"rerank"};
    add_model("s-tts", "tts-1").capabilities = {"speech"};
    add_model("s-stt", "whisper-1").capabilities = {"transcription"};
    auto& with_fallback = add_model("s-storm-then-normal", "storm");
    with_fallback.fallbacks = {"s-normal"};
    auto& claude = add_model("claude", "normal");
    claude.provider = "anthropic";
    claude.endpoint = provider_.anthropic_url();
    add_model("s-vision", "echo").capabilities = {"chat", "vision"};
    auto& with_vision_fallback = add_model("s-storm-vision", "storm");
    with_vision_fallback.capabilities = {"chat", "vision"};
    with_vision_fallback.fallbacks = {"s-normal", "s-vision"};  // s-normal reads no images: skipped
    auto& claude_vision = add_model("claude-vision", "normal");
    claude_vision.provider = "anthropic";
    claude_vision.endpoint = provider_.anthropic_url();
    claude_vision.capabilities = {"chat", "vision"};
    auto& claude_tools = add_model("claude-tools", "tools");
    claude_tools.provider = "anthropic";
    claude_tools.endpoint = provider_.anthropic_url();
  }

  core::model_settings& add_model(const std::string& id, const std::string& upstream) {
    core::model_settings m;
    m.id = id;
    m.display_name = id;
    m.provider = "openai";
    m.endpoint = provider_.base_url();
    m.upstream_model = upstream;
    m.region = "eu";
    m.capabilities = {"chat", "tools"};
    m.price_in_per_1m = 1.0;
    m.price_out_per_1m = 2.0;
    cfg_.models.push_back(m);
    return cfg_.models.back();
  }

  llm_gateway& gateway() {
    if (!gateway_) {
      auto created = llm_gateway::create(cfg_, db(), {});
      if (!created) throw std::runtime_error(created.err().message());
      gateway_ = std::move(created).value();
    }
    return *gateway_;
  }

  static chat_request ask(std::string model, std::string text) {
    chat_request r;
    r.model = std::move(model);
    r.messages.push_back({"user", std::move(text), {}, {}, {}});
    return r;
  }

  // Starts a chat and drains its stream; the start error, if any, comes back as failure.
  collected run_chat(chat_request request, caller who = {}) {
    auto* gw = &gateway();
    return run_client([](llm_gateway* g, chat_request r, caller c) -> boost::asio::awaitable<collected> {
      collected out;
      auto started = co_await g->chat(c, std::move(r));
      if (!started) {
        out.failure = started.err();
        co_return out;
      }
      auto stream = std::move(*started);
      while (auto e = co_await stream->next()) {
        ++out.events;
        if (e->type == chat_event::kind::text) out.text += e->text;
        if (e->type == chat_event::kind::tool_call) {
          auto& call = out.calls[e->tool_index];
          if (!e->tool_id.empty()) call.id = e->tool_id;
          if (!e->tool_name.empty()) call.name = e->tool_name;
          call.arguments += e->tool_arguments;
        }
        if (e->type == chat_event::kind::finish) {
          out.finish_reason = e->finish_reason;
          out.usage = e->usage;
        }
        if (e->type == chat_event::kind::failure) out.failure = e->error;
      }
      out.model = stream->model();
      co_return out;
    }(gw, std::move(request), std::move(who)));
  }

  core::config cfg_;
  scripted_provider provider_;
  std::unique_ptr<llm_gateway> gateway_;
};

TEST_P(llm_gateway_test, openai_stream_normalised_with_usage) {
  auto out = run_chat(ask("s-normal", "hi"));
  ASSERT_FALSE(out.failure) << out.failure->message();
  EXPECT_EQ(out.text, "Hello world");
  EXPECT_EQ(out.finish_reason, "stop");
  EXPECT_EQ(out.usage.prompt_tokens, 11);
  EXPECT_EQ(out.usage.completion_tokens, 7);
  EXPECT_FALSE(out.usage.estimated);
  EXPECT_EQ(out.model, "s-normal");
}

TEST_P(llm_gateway_test, calls_are_counted_in_metrics) {
  core::metrics_registry registry;
  gateway().export_metrics(registry);
  run_chat(ask("s-normal", "hi"));
  const std::string text = registry.render();
  EXPECT_NE(text.find(R"(wattos_llm_requests_total{model="s-normal",kind="chat",outcome="ok"} 1)"), std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(wattos_llm_tokens_total{model="s-normal",direction="out"} 7)"), std::string::npos) << text;
  EXPECT_NE(text.find("wattos_llm_first_token_seconds_count{model=\"s-normal\"} 1"), std::string::npos) << text;
}

TEST_P(llm_gateway_test, tool_call_split_across_chunks_is_reassembled) {
  auto request = ask("s-tools", "weather in Berlin?");
  request.tools.push_back(
      {"get_weather", "Current weather", R"({"type":"object","properties":{"city":{"type":"string"}}})"});
  auto out = run_chat(request);
  ASSERT_FALSE(out.failure) << out.failure->message();
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].id, "call_1");
  EXPECT_EQ(out.calls[0].name, "get_weather");
  EXPECT_EQ(out.calls[0].arguments, R"({"city":"Berlin"})");
  EXPECT_EQ(out.finish_reason, "tool_calls");
  // The tool definition went out in OpenAI's shape.
  EXPECT_NE(provider_.bodies().back().find(R"("tools":[{"type":"function","function":{"name":"get_weather")"),
            std::string::npos);
}

TEST_P(llm_gateway_test, malformed_chunk_after_text_ends_the_answer_with_an_error_and_no_retry) {
  auto out = run_chat(ask("s-malformed", "hi"));
  EXPECT_EQ(out.text, "Hello");
  ASSERT_TRUE(out.failure);
  EXPECT_EQ(out.failure->code(), core::errc::bad_gateway);
  EXPECT_EQ(provider_.calls("malformed"), 1);  // text had reached the caller: a retry would repeat it
}

TEST_P(llm_gateway_test, malformed_first_chunk_is_retried_then_reported) {
  auto out = run_chat(ask("s-malformed_first", "hi"));
  ASSERT_TRUE(out.failure);
  EXPECT_EQ(out.failure->code(), core::errc::bad_gateway);
  EXPECT_EQ(out.text, "");
  EXPECT_EQ(provider_.calls("malformed_first"), 3);
}

TEST_P(llm_gateway_test, mid_stream_disconnect_is_a_failure_not_a_finished_answer) {
  auto out = run_chat(ask("s-disconnect", "hi"));
  EXPECT_EQ(out.text, "Hello");
  ASSERT_TRUE(out.failure);
  EXPECT_EQ(out.failure->code(), core::errc::bad_gateway);
  EXPECT_TRUE(out.finish_reason.empty());
}

TEST_P(llm_gateway_test, rate_limit_storm_retries_with_backoff_then_fails_as_rate_limited) {
  auto out = run_chat(ask("s-storm", "hi"));
  ASSERT_TRUE(out.failure);
  EXPECT_EQ(out.failure->code(), core::errc::rate_limited);
  EXPECT_EQ(provider_.calls("storm"), 3);  // one call plus llm.max_retries
}

TEST_P(llm_gateway_test, flaky_provider_succeeds_after_retries) {
  provider_.flaky_failures = 2;
  auto out = run_chat(ask("s-flaky", "hi"));
  ASSERT_FALSE(out.failure) << out.failure->message();
  EXPECT_EQ(out.text, "Hello world");
  EXPECT_EQ(provider_.calls("flaky"), 3);
}

TEST_P(llm_gateway_test, slow_first_token_times_out_as_deadline_exceeded) {
  cfg_.llm.max_retries = 0;
  auto out = run_chat(ask("s-slow", "hi"));
  ASSERT_TRUE(out.failure);
  EXPECT_EQ(out.failure->code(), core::errc::deadline_exceeded) << out.failure->message();
}

TEST_P(llm_gateway_test, client_errors_are_not_retried) {
  auto out = run_chat(ask("s-bad_request", "hi"));
  ASSERT_TRUE(out.failure);
  EXPECT_EQ(out.failure->code(), core::errc::invalid_argument);
  EXPECT_EQ(provider_.calls("bad_request"), 1);
}

TEST_P(llm_gateway_test, fallback_chain_answers_when_the_primary_fails) {
  cfg_.llm.breaker_failures = 10;  // both models share the scripted endpoint, hence its breaker
  auto out = run_chat(ask("s-storm-then-normal", "hi"));
  ASSERT_FALSE(out.failure) << out.failure->message();
  EXPECT_EQ(out.text, "Hello world");
  EXPECT_EQ(out.model, "s-normal");
  EXPECT_EQ(provider_.calls("storm"), 3);
}

TEST_P(llm_gateway_test, circuit_breaker_opens_after_consecutive_failures) {
  cfg_.llm.max_retries = 0;
  for (int i = 0; i < 3; ++i) run_chat(ask("s-storm", "hi"));
  EXPECT_EQ(gateway().breaker_state("s-storm"), "open");
  auto out = run_chat(ask("s-storm", "hi"));
  ASSERT_TRUE(out.failure);
  EXPECT_EQ(out.failure->code(), core::errc::unavailable);
  EXPECT_EQ(provider_.calls("storm"), 3);  // the open circuit did not call
  // The breaker is per endpoint: every model on the scripted server is now refused.
  EXPECT_EQ(gateway().breaker_state("s-normal"), "open");
}

TEST_P(llm_gateway_test, pii_is_redacted_outbound_and_restored_in_the_streamed_answer) {
  const std::string secret = "Mail max.mustermann@example.de, IBAN DE89 3704 0044 0532 0130 00";
  auto out = run_chat(ask("s-echo", secret));
  ASSERT_FALSE(out.failure) << out.failure->message();
  EXPECT_EQ(out.text, "You said: " + secret);
  const auto sent = provider_.bodies().back();
  EXPECT_EQ(sent.find("max.mustermann"), std::string::npos) << sent;
  EXPECT_EQ(sent.find("3704"), std::string::npos) << sent;
  EXPECT_NE(sent.find("[EMAIL_1]"), std::string::npos) << sent;
  EXPECT_NE(sent.find("[IBAN_1]"), std::string::npos) << sent;
}

// Redaction rewrites the text piece by piece, so an image between two pieces stays
// between them (in both wire formats).
TEST_P(llm_gateway_test, redacted_text_keeps_images_in_place) {
  for (const char* model : {"s-vision", "claude-vision"}) {
    chat_request request = ask(model, "Schreib an max.mustermann@example.de: Rechnung anbei, bitte prüfen");
    auto& m = request.messages.front();
    const std::string first = "Schreib an max.mustermann@example.de: ";
    const std::string blank = testing::blank_data_url();  // a real image without text: sent as it is
    m.images.push_back({blank, "", first.size()});
    auto out = run_chat(request);
    ASSERT_FALSE(out.failure) << model << ": " << out.failure->message();
    const auto sent = provider_.bodies().back();
    EXPECT_EQ(sent.find("max.mustermann"), std::string::npos) << sent;
    const auto email = sent.find("[EMAIL_1]");
    const auto image = sent.find(blank.substr(blank.find(',') + 1));
    const auto rest = sent.find("Rechnung anbei");
    ASSERT_NE(email, std::string::npos) << sent;
    ASSERT_NE(image, std::string::npos) << sent;
    ASSERT_NE(rest, std::string::npos) << sent;
    EXPECT_LT(email, image) << model << ": " << sent;
    EXPECT_LT(image, rest) << model << ": " << sent;
  }
}

TEST_P(llm_gateway_test, pii_is_kept_for_a_model_that_is_not_external) {
  cfg_.models[9].external = false;  // s-echo
  ASSERT_EQ(cfg_.models[9].id, "s-echo");
  auto out = run_chat(ask("s-echo", "max@example.de"));
  ASSERT_FALSE(out.failure);
  EXPECT_NE(provider_.bodies().back().find("max@example.de"), std::string::npos);
}

TEST_P(llm_gateway_test, model_outside_the_eu_needs_an_admin_allowance) {
  auto refused = run_chat(ask("s-us", "hi"));
  ASSERT_TRUE(refused.failure);
  EXPECT_EQ(refused.failure->code(), core::errc::permission_denied);
  EXPECT_EQ(provider_.calls("normal"), 0);
  ASSERT_TRUE(gateway().set_allowed_outside_eu("s-us", true, "user:admin").ok());
  auto allowed = run_chat(ask("s-us", "hi"));
  EXPECT_FALSE(allowed.failure);
  // The allowance is stored: a new gateway (a restart) still has it.
  gateway_.reset();
  EXPECT_TRUE(gateway().model("s-us")->residency_ok);
  EXPECT_EQ(gateway().set_allowed_outside_eu("nope", true, "user:admin").err().code(), core::errc::not_found);
}

TEST(daily_token_counter, counts_per_user_and_starts_each_utc_day_at_zero) {
  daily_token_counter used;
  used.reset("2026-12-01", {{"user-1", 100}});
  used.add("user-1", "2026-12-01", 20);
  used.add("user-2", "2026-12-01", 5);
  EXPECT_EQ(used.used("user-1", "2026-12-01"), 120);
  EXPECT_EQ(used.used("user-2", "2026-12-01"), 5);
  EXPECT_EQ(used.used("user-3", "2026-12-01"), 0);
  // Midnight UTC: the first look at the new day finds nothing used.
  EXPECT_EQ(used.used("user-1", "2026-12-02"), 0);
  used.add("user-1", "2026-12-01", 7);  // a late row of the day before: not today's
  used.add("user-1", "2026-12-02", 3);
  EXPECT_EQ(used.used("user-1", "2026-12-02"), 3);
  // A row of a new day starts that day too, before any check.
  used.add("user-2", "2026-12-03", 9);
  EXPECT_EQ(used.used("user-2", "2026-12-03"), 9);
  EXPECT_EQ(used.used("user-1", "2026-12-03"), 0);
  // A reload of a day that is over changes nothing; one of today replaces the counts.
  used.reset("2026-12-02", {{"user-1", 1000}});
  EXPECT_EQ(used.used("user-1", "2026-12-03"), 0);
  used.reset("2026-12-03", {{"user-1", 50}});
  EXPECT_EQ(used.used("user-1", "2026-12-03"), 50);
  EXPECT_EQ(used.used("user-2", "2026-12-03"), 0);
}

TEST_P(llm_gateway_test, daily_budget_per_role_stops_a_user_and_usage_is_queryable) {
  cfg_.llm.role_daily_tokens = "member=20,editor=0";
  caller member{"user-1", "", {"member"}, "req-1"};
  auto first = run_chat(ask("s-normal", "hi"), member);  // 11 + 7 = 18 tokens
  ASSERT_FALSE(first.failure);
  auto second = run_chat(ask("s-normal", "hi"), member);  // 18 < 20: still admitted
  ASSERT_FALSE(second.failure);
  auto third = run_chat(ask("s-normal", "hi"), member);
  ASSERT_TRUE(third.failure);
  EXPECT_EQ(third.failure->code(), core::errc::resource_exhausted);
  EXPECT_EQ(*gateway().tokens_used_today("user-1"), 36);
  // A role without a limit (editor=0) wins over a limited one.
  EXPECT_EQ(gateway().daily_budget({"member", "editor"}), 0);
  EXPECT_EQ(gateway().daily_budget({"member"}), 20);

  usage_filter by_user;
  by_user.group_by = "user";
  auto rows = gateway().usage(by_user);
  ASSERT_TRUE(rows.ok()) << rows.err().message();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].key, "user-1");
  EXPECT_EQ((*rows)[0].requests, 2);
  EXPECT_EQ((*rows)[0].prompt_tokens, 22);
  EXPECT_NEAR((*rows)[0].cost, (22 * 1.0 + 14 * 2.0) / 1e6, 1e-12);
  usage_filter bad;
  bad.group_by = "password";
  EXPECT_FALSE(gateway().usage(bad).ok());
  // The count lives in memory: a restart reads it from the usage table; another
  // process's usage arrives with the next reload.
  gateway_.reset();
  EXPECT_EQ(*gateway().tokens_used_today("user-1"), 36);
  ASSERT_TRUE(db().execute("INSERT INTO llm_usage (id, created_at, day, user_id, api_key_id, requested_model, model, "
                           "kind, prompt_tokens, completion_tokens, estimated, cost, latency_ms, ttft_ms, outcome, "
                           "error, request_id) VALUES ('elsewhere', '', ?, 'user-1', '', 's-normal', 's-normal', "
                           "'chat', 60, 40, 0, 0, 1, 1, 'ok', '', 'req-x')",
                           {core::utc_today()})
                  .ok());
  EXPECT_EQ(*gateway().tokens_used_today("user-1"), 36);
  ASSERT_TRUE(gateway().reload_budget_counts().ok());
  EXPECT_EQ(*gateway().tokens_used_today("user-1"), 136);
}

TEST_P(llm_gateway_test, a_users_own_budget_wins_over_roles_and_reaches_other_processes) {
  cfg_.llm.role_daily_tokens = "member=20";
  caller member{"user-1", "", {"member"}, "req-1"};
  EXPECT_EQ(gateway().daily_budget("user-1", {"member"}), 20);
  EXPECT_FALSE(gateway().user_budget("user-1")->has_value());
  // Lower than the role's: the first call (18 tokens) uses it up.
  ASSERT_TRUE(gateway().set_user_budget("user-1", 10, "admin").ok());
  EXPECT_EQ(gateway().daily_budget("user-1", {"member"}), 10);
  EXPECT_EQ(**gateway().user_budget("user-1"), 10);
  ASSERT_FALSE(run_chat(ask("s-normal", "hi"), member).failure);
  auto refused = run_chat(ask("s-normal", "hi"), member);
  ASSERT_TRUE(refused.failure);
  EXPECT_EQ(refused.failure->code(), core::errc::resource_exhausted);
  EXPECT_NE(refused.failure->message().find("10 tokens"), std::string::npos);
  // Others with the same role keep the role's budget.
  EXPECT_EQ(gateway().daily_budget("user-2", {"member"}), 20);
  // 0 is unlimited, also for a user whose role is limited.
  ASSERT_TRUE(gateway().set_user_budget("user-1", 0, "admin").ok());
  EXPECT_FALSE(run_chat(ask("s-normal", "hi"), member).failure);
  // Removed: the role's budget applies again.
  ASSERT_TRUE(gateway().set_user_budget("user-1", std::nullopt, "admin").ok());
  EXPECT_EQ(gateway().daily_budget("user-1", {"member"}), 20);
  EXPECT_EQ(gateway().set_user_budget("user-1", -5, "admin").err().code(), core::errc::invalid_argument);
  EXPECT_EQ(gateway().set_user_budget("", 5, "admin").err().code(), core::errc::invalid_argument);

  // Another process (a second gateway on the same store) sees a change after its reload;
  // a restarted one reads it at start.
  auto other = llm_gateway::create(cfg_, db(), {});
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(gateway().set_user_budget("user-3", 5, "admin").ok());
  EXPECT_EQ((*other)->daily_budget("user-3", {"member"}), 20);
  ASSERT_TRUE((*other)->reload_budget_counts().ok());
  EXPECT_EQ((*other)->daily_budget("user-3", {"member"}), 5);
  gateway_.reset();
  EXPECT_EQ(gateway().daily_budget("user-3", {}), 5);
}

TEST(llm_wire, image_parts_are_read_and_checked) {
  auto parse = [](std::string_view body) {
    bool stream = false;
    return parse_openai_chat_request(boost::json::parse(body), stream);
  };
  auto ok = parse(R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"Was zeigt das?"},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"low"}},
      {"type":"image_url","image_url":"https://example.eu/a.jpg"}]}]})");
  ASSERT_TRUE(ok.ok()) << ok.err().message();
  const auto& m = ok->messages.front();
  EXPECT_EQ(m.content, "Was zeigt das?");
  ASSERT_EQ(m.images.size(), 2u);
  EXPECT_EQ(m.images[0].detail, "low");
  EXPECT_EQ(m.images[1].url, "https://example.eu/a.jpg");
  EXPECT_TRUE(has_images(ok->messages));
  // Back out in OpenAI's form, in the order the client gave.
  const auto out = boost::json::serialize(openai_messages(ok->messages));
  EXPECT_NE(out.find(R"({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"low"}})"),
            std::string::npos);
  for (
      const char* bad :
      {R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://plain.eu/a.png"}}]}]})",
       R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/svg+xml;base64,PHN2Zz4="}}]}]})",
       R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,"}}]}]})",
       R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})",
       R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://a.eu/x.png","detail":"max"}}]}]})",
       R"({"messages":[{"role":"system","content":[{"type":"image_url","image_url":"https://a.eu/x.png"}]}]})",
       R"({"messages":[{"role":"user","content":[{"type":"input_audio"}]}]})"}) {
    EXPECT_EQ(parse(bad).err().code(), core::errc::invalid_argument) << bad;
  }
  std::string many = R"({"messages":[{"role":"user","content":[)";
  for (int i = 0; i < 21; ++i)
    many += std::string(i ? "," : "") + R"({"type":"image_url","image_url":"https://a.eu/x.png"})";
  many += "]}]}";
  EXPECT_EQ(parse(many).err().code(), core::errc::invalid_argument);
}

TEST(llm_wire, text_and_images_keep_their_order) {
  bool stream = false;
  auto parsed = parse_openai_chat_request(boost::json::parse(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"image_url","image_url":"https://example.eu/1.jpg"},
      {"type":"text","text":"Links das Original, "},
      {"type":"image_url","image_url":"https://example.eu/2.jpg"},
      {"type":"text","text":"rechts die Kopie. "},{"type":"text","text":"Was fehlt?"}]}]})"),
                                          stream);
  ASSERT_TRUE(parsed.ok()) << parsed.err().message();
  const auto& m = parsed->messages.front();
  EXPECT_EQ(m.content, "Links das Original, rechts die Kopie. Was fehlt?");
  ASSERT_EQ(m.images.size(), 2u);
  EXPECT_EQ(m.images[0].at, 0u);
  EXPECT_EQ(m.images[1].at, std::string("Links das Original, ").size());
  const auto parts = openai_messages(parsed->messages).at(0).at("content").as_array();
  ASSERT_EQ(parts.size(), 4u);
  EXPECT_EQ(parts[0].at("image_url").at("url").as_string(), "https://example.eu/1.jpg");
  EXPECT_EQ(parts[1].at("text").as_string(), "Links das Original, ");
  EXPECT_EQ(parts[2].at("image_url").at("url").as_string(), "https://example.eu/2.jpg");
  EXPECT_EQ(parts[3].at("text").as_string(), "rechts die Kopie. Was fehlt?");

  // An image placed by no one (at = npos) follows the text; offsets past the end clamp.
  std::vector<std::string> order;
  for_each_part(
      "abc", {{"u1", "", std::string::npos}, {"u2", "", 99}}, [&](std::string_view text) { order.emplace_back(text); },
      [&](const image_input& image) { order.push_back(image.url); });
  EXPECT_EQ(order, (std::vector<std::string>{"abc", "u1", "u2"}));
}

// Personal data in an image bound for an external model is painted over (OCR); a model
// inside the organisation gets the image as it came.
TEST_P(llm_gateway_test, personal_data_in_images_is_painted_over_for_external_models) {
  auto& local = add_model("local-vision", "echo");
  local.capabilities = {"chat", "vision"};
  local.external = false;
  const std::string letter = testing::letter_data_url();
  ASSERT_FALSE(letter.empty()) << "the letter could not be rendered";
  const std::string letter_data = letter.substr(letter.find(',') + 1);

  chat_request request = ask("s-vision", "Worum geht es in dem Brief?");
  request.messages.front().images.push_back({letter, ""});
  auto out = run_chat(request);
  ASSERT_FALSE(out.failure) << out.failure->message();
  const auto sent = provider_.bodies().back();
  EXPECT_EQ(sent.find(letter_data), std::string::npos) << "the unredacted letter left for an external model";
  EXPECT_NE(sent.find(R"("url":"data:image/png;base64,)"), std::string::npos);
  EXPECT_NE(sent.find("Worum geht es"), std::string::npos);

  request.model = "local-vision";
  auto kept = run_chat(request);
  ASSERT_FALSE(kept.failure) << kept.failure->message();
  EXPECT_NE(provider_.bodies().back().find(letter_data), std::string::npos);
}

// A burst of requests with images is refused beyond llm.image_check_queue, not queued
// behind seconds of OCR; a model inside the organisation still answers; the place is
// free again once a check ended.
TEST_P(llm_gateway_test, image_checks_beyond_the_queue_are_refused) {
  cfg_.llm.image_check_queue = 1;
  auto& local = add_model("local-vision", "echo");
  local.capabilities = {"chat", "vision"};
  local.external = false;
  chat_request request = ask("s-vision", "Worum geht es in dem Brief?");
  request.messages.front().images.push_back({testing::letter_data_url(), ""});
  ASSERT_FALSE(request.messages.front().images.front().url.empty()) << "the letter could not be rendered";
  chat_request local_request = request;
  local_request.model = "local-vision";

  // Started together: the first takes the one place before it suspends for its check,
  // the two after it come while it holds it.
  using start_outcome = std::optional<core::errc>;  // empty: the chat started
  auto* gw = &gateway();
  const auto outcomes = run_client(
      [](llm_gateway* g, std::vector<chat_request> requests) -> boost::asio::awaitable<std::vector<start_outcome>> {
        auto executor = co_await boost::asio::this_coro::executor;
        std::vector<start_outcome> out(requests.size());
        auto start = [](llm_gateway* gateway, chat_request r, start_outcome* outcome) -> boost::asio::awaitable<void> {
          const caller anyone;  // named: no owning temporaries in co_await (docs/coroutines.md)
          auto started = co_await gateway->chat(anyone, std::move(r));
          if (!started) *outcome = started.err().code();
        };
        auto pending = std::make_shared<std::size_t>(requests.size());
        boost::asio::steady_timer all_done(executor, std::chrono::steady_clock::time_point::max());
        for (std::size_t i = 0; i < requests.size(); ++i) {
          boost::asio::co_spawn(executor, start(g, std::move(requests[i]), &out[i]), [&all_done, pending](auto&&...) {
            if (--*pending == 0) all_done.cancel();
          });
        }
        boost::system::error_code ignored;
        co_await all_done.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
        co_return out;
      }(gw, {request, request, local_request}));
  ASSERT_EQ(outcomes.size(), 3U);
  EXPECT_FALSE(outcomes[0].has_value());
  ASSERT_TRUE(outcomes[1].has_value());
  EXPECT_EQ(*outcomes[1], core::errc::unavailable);
  EXPECT_FALSE(outcomes[2].has_value()) << "a model inside the organisation needs no check";

  auto after = run_chat(request);
  EXPECT_FALSE(after.failure) << after.failure->message();
}

// An image the provider would fetch itself cannot be checked: refused before any call
// when redaction applies, passed on for a model inside the organisation, whose external
// fallbacks are then skipped.
TEST_P(llm_gateway_test, remote_images_are_refused_for_external_models) {
  auto& local = add_model("local-vision", "echo");
  local.capabilities = {"chat", "vision"};
  local.external = false;
  local.fallbacks = {"s-vision"};
  auto& failing = add_model("local-storm-vision", "storm");
  failing.capabilities = {"chat", "vision"};
  failing.external = false;
  failing.fallbacks = {"s-vision"};
  chat_request request = ask("s-vision", "Was zeigt das Bild?");
  request.messages.front().images.push_back({"https://example.eu/rechnung.png", ""});
  const int calls = provider_.calls("echo");
  auto refused = run_chat(request);
  ASSERT_TRUE(refused.failure);
  EXPECT_EQ(refused.failure->code(), core::errc::invalid_argument);
  EXPECT_NE(refused.failure->message().find("data URL"), std::string::npos) << refused.failure->message();
  EXPECT_EQ(provider_.calls("echo"), calls);

  request.model = "local-vision";
  auto passed = run_chat(request);
  ASSERT_FALSE(passed.failure) << passed.failure->message();
  EXPECT_EQ(passed.model, "local-vision");
  EXPECT_NE(provider_.bodies().back().find("https://example.eu/rechnung.png"), std::string::npos);
  EXPECT_EQ(provider_.calls("echo"), calls + 1);

  // The local model fails: its external fallback does not get the unchecked image.
  request.model = "local-storm-vision";
  auto failed = run_chat(request);
  ASSERT_TRUE(failed.failure);
  EXPECT_NE(failed.failure->code(), core::errc::invalid_argument) << "the storm's error, not the image's";
  EXPECT_EQ(provider_.calls("echo"), calls + 1);
}

// The wire forms of images (redaction off: the two tests above cover it).
TEST_P(llm_gateway_test, images_reach_vision_models_only) {
  cfg_.llm.breaker_failures = 100;  // the storm shares the scripted endpoint with s-vision
  cfg_.llm.redact_pii = false;
  chat_request with_image = ask("s-vision", "Was zeigt das Bild?");
  with_image.messages.front().images.push_back({"data:image/png;base64,iVBORw0KGgo=", ""});
  auto seen = run_chat(with_image);
  ASSERT_FALSE(seen.failure) << seen.failure->message();
  EXPECT_NE(provider_.bodies().back().find(
                R"({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}})"),
            std::string::npos);
  // A model without the vision capability refuses at once; a fallback without it is skipped.
  with_image.model = "s-normal";
  auto refused = run_chat(with_image);
  ASSERT_TRUE(refused.failure);
  EXPECT_EQ(refused.failure->code(), core::errc::invalid_argument);
  EXPECT_NE(refused.failure->message().find("vision"), std::string::npos);
  const int plain_calls = provider_.calls("normal");
  with_image.model = "s-storm-vision";
  auto fell_back = run_chat(with_image);
  ASSERT_FALSE(fell_back.failure) << fell_back.failure->message();
  EXPECT_EQ(fell_back.model, "s-vision");
  EXPECT_EQ(provider_.calls("normal"), plain_calls);
  // Anthropic: a base64 image source with its media type, after the text.
  with_image.model = "claude-vision";
  with_image.messages.front().images = {{"data:image/jpg;base64,/9j/4AAQ", ""}, {"https://example.eu/b.png", ""}};
  ASSERT_FALSE(run_chat(with_image).failure);
  const auto sent = provider_.bodies().back();
  EXPECT_NE(sent.find(R"({"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQ"}})"),
            std::string::npos)
      << sent;
  EXPECT_NE(sent.find(R"({"type":"image","source":{"type":"url","url":"https://example.eu/b.png"}})"),
            std::string::npos);
  EXPECT_LT(sent.find("Was zeigt"), sent.find(R"("type":"image")"));
}

TEST_P(llm_gateway_test, failed_calls_are_recorded_as_failed) {
  cfg_.llm.max_retries = 0;
  run_chat(ask("s-bad_request", "hi"), caller{"user-2", "", {}, "r"});
  usage_filter f;
  f.user_id = "user-2";
  auto rows = gateway().usage(f);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].failed, 1);
}

TEST_P(llm_gateway_test, a_caller_that_goes_away_cancels_the_provider_call) {
  auto* gw = &gateway();
  const std::string got = run_client([](llm_gateway* g) -> boost::asio::awaitable<std::string> {
    caller who{"user-3", "", {}, "req-cancel"};
    chat_request request = ask("s-endless", "go on forever");  // named: g++ 12 coroutines
    auto started = co_await g->chat(who, std::move(request));
    if (!started) co_return "start failed: " + started.err().message();
    std::string text;
    for (int i = 0; i < 3; ++i) {
      auto e = co_await (*started)->next();
      if (!e || e->type != chat_event::kind::text) co_return "unexpected event";
      text += e->text;
    }
    started->reset();  // the caller leaves mid-answer
    co_return text;
  }(gw));
  EXPECT_EQ(got, "tick tick tick ");
  // The provider sees its client (the gateway) disconnect: the upstream call ended.
  EXPECT_TRUE(provider_.wait_for_abandoned_stream(std::chrono::seconds(5)));
  usage_filter f;
  f.user_id = "user-3";
  auto rows = gateway().usage(f);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].failed, 1);  // recorded, as cancelled
  EXPECT_GT((*rows)[0].completion_tokens, 0);
}

TEST_P(llm_gateway_test, anthropic_stream_and_tool_use_are_normalised) {
  auto out = run_chat(ask("claude", "hi"));
  ASSERT_FALSE(out.failure) << out.failure->message();
  EXPECT_EQ(out.text, "Bonjour le monde");
  EXPECT_EQ(out.finish_reason, "stop");
  EXPECT_EQ(out.usage.prompt_tokens, 21);
  EXPECT_EQ(out.usage.completion_tokens, 4);

  auto request = ask("claude-tools", "weather?");
  request.messages.insert(request.messages.begin(), chat_message{"system", "Be brief.", {}, {}, {}});
  request.tools.push_back({"get_weather", "", R"({"type":"object"})"});
  auto tools = run_chat(request);
  ASSERT_FALSE(tools.failure) << tools.failure->message();
  EXPECT_EQ(tools.text, "Let me check.");
  ASSERT_EQ(tools.calls.size(), 1u);
  EXPECT_EQ(tools.calls[0].id, "toolu_1");
  EXPECT_EQ(tools.calls[0].arguments, R"({"city": "Paris"})");
  EXPECT_EQ(tools.finish_reason, "tool_calls");
  const auto sent = provider_.bodies().back();
  EXPECT_NE(sent.find(R"("system":"Be brief.")"), std::string::npos) << sent;
  EXPECT_NE(sent.find(R"("input_schema")"), std::string::npos) << sent;
}

TEST_P(llm_gateway_test, extractive_model_answers_with_citations_offline) {
  chat_request r;
  r.model = "extractive";
  r.messages.push_back({"system",
                        "Answer from the sources.\n[1] Vertrag.pdf, Seite 2: Die Kündigungsfrist beträgt drei Monate.\n"
                        "[2] Hausordnung.pdf: Haustiere sind erlaubt.",
                        {},
                        {},
                        {}});
  r.messages.push_back({"user", "Wie lang ist die Kündigungsfrist?", {}, {}, {}});
  auto out = run_chat(r);
  ASSERT_FALSE(out.failure);
  EXPECT_NE(out.text.find("drei Monate [1]"), std::string::npos) << out.text;
  EXPECT_GT(out.events, 3);  // streamed word by word
  EXPECT_EQ(out.finish_reason, "stop");
  // The extractive model cannot call tools: asking it to is a client error.
  r.tools.push_back({"t", "", "{}"});
  EXPECT_EQ(run_chat(r).failure->code(), core::errc::invalid_argument);
}

TEST_P(llm_gateway_test, policy_errors_come_back_before_any_stream) {
  EXPECT_EQ(run_chat(ask("no-such-model", "hi")).failure->code(), core::errc::not_found);
  EXPECT_EQ(run_chat(ask("s-embed", "hi")).failure->code(), core::errc::invalid_argument);
  chat_request empty;
  empty.model = "s-normal";
  EXPECT_EQ(run_chat(empty).failure->code(), core::errc::invalid_argument);
}

TEST_P(llm_gateway_test, embeddings_builtin_and_remote_and_rerank) {
  auto* gw = &gateway();
  auto builtin = run_client([](llm_gateway* g) -> boost::asio::awaitable<core::result<embedding_result>> {
    const caller nobody;
    embedding_request request{"", {"Kündigungsfrist", "Mietvertrag"}, std::nullopt};  // named: g++ 12 coroutines
    auto result = co_await g->embed(nobody, std::move(request));
    co_return result;
  }(gw));
  ASSERT_TRUE(builtin.ok()) << builtin.err().message();
  EXPECT_EQ(builtin->model, "wattos-embed");
  ASSERT_EQ(builtin->vectors.size(), 2u);
  EXPECT_EQ(builtin->vectors[0].size(), 384u);

  auto remote = run_client([](llm_gateway* g) -> boost::asio::awaitable<core::result<embedding_result>> {
    const caller nobody;
    embedding_request request{"s-embed", {"abc", "ab"}, std::nullopt};
    auto result = co_await g->embed(nobody, std::move(request));
    co_return result;
  }(gw));
  ASSERT_TRUE(remote.ok()) << remote.err().message();
  EXPECT_EQ(remote->vectors[0][0], 3.0f);
  EXPECT_EQ(remote->vectors[1][0], 2.0f);
  EXPECT_EQ(remote->usage.prompt_tokens, 5);

  auto ranked = run_client([](llm_gateway* g) -> boost::asio::awaitable<core::result<rerank_result>> {
    const caller nobody;
    rerank_request request{"s-rerank", "cat", {"a dog", "a cat", "a bird"}, std::nullopt};
    auto result = co_await g->rerank(nobody, std::move(request));
    co_return result;
  }(gw));
  ASSERT_TRUE(ranked.ok()) << ranked.err().message();
  ASSERT_EQ(ranked->results.size(), 3u);
  EXPECT_EQ(ranked->results[0].index, 1);
}

TEST_P(llm_gateway_test, speech_and_transcription_through_the_openai_provider) {
  auto* gw = &gateway();
  auto spoken = run_client([](llm_gateway* g) -> boost::asio::awaitable<core::result<speech_result>> {
    const caller nobody;
    speech_request request{"s-tts", "Guten Tag", "alloy", "wav", std::nullopt};
    auto result = co_await g->speech(nobody, std::move(request));
    co_return result;
  }(gw));
  ASSERT_TRUE(spoken.ok()) << spoken.err().message();
  EXPECT_EQ(spoken->audio, "RIFF-fake-wave:Guten Tag");
  EXPECT_EQ(spoken->content_type, "audio/wav");

  auto heard = run_client([](llm_gateway* g) -> boost::asio::awaitable<core::result<transcription_result>> {
    const caller nobody;
    transcription_request request{"s-stt",
                                  std::string("RIFF\0\x01"
                                              "binary",
                                              12),
                                  "../../etc/passwd.wav", "audio/wav", "de"};
    auto result = co_await g->transcribe(nobody, std::move(request));
    co_return result;
  }(gw));
  ASSERT_TRUE(heard.ok()) << heard.err().message();
  EXPECT_EQ(heard->text, "hallo welt von whisper-1");
  EXPECT_EQ(provider_.calls("transcribe"), 1);

  // A chat model cannot speak.
  auto refused = run_client([](llm_gateway* g) -> boost::asio::awaitable<core::result<speech_result>> {
    const caller nobody;
    speech_request request{"s-normal", "x", "", "mp3", std::nullopt};
    auto result = co_await g->speech(nobody, std::move(request));
    co_return result;
  }(gw));
  EXPECT_EQ(refused.err().code(), core::errc::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(backends, llm_gateway_test, ::testing::Values("sqlite", "postgres"),
                         db::testing::backend_name);

}  // namespace
}  // namespace wattos::infra::llm
