// Drafting personas with a generative model: the model's JSON read over the template
// draft (fences and prose skipped, values clamped, bad ones left at the template's),
// the template with a note when the model's answer is no persona or the provider
// fails, and the caller's own errors (an unknown model) passed on. Against the scripted
// provider through the real LLM gateway.
#include "persona/drafter.hpp"

#include <gtest/gtest.h>

#include "db_backends.hpp"
#include "scripted_provider.hpp"

namespace wattos::persona {
namespace {

namespace llm = infra::llm;

TEST(persona_drafter, reads_a_fenced_answer_over_the_template) {
  character base = draft_from_description("Eine Reiseberaterin.", "de");
  auto merged = merge_model_draft(
      "Here you go:\n```json\n{\"name\": \"Greta\\nMüller\", \"traits\": {\"openness\": 101.7, \"neuroticism\": "
      "\"12\"},"
      " \"tone\": \"PLAYFUL\", \"address\": \"sie\", \"verbosity\": 3, \"rules\": [\"Kurz.\", {\"x\": 1}]}\n```\nDone.",
      base);
  ASSERT_TRUE(merged.ok()) << merged.err().message();
  EXPECT_EQ(merged->name, "Greta Müller");  // one line
  EXPECT_EQ(merged->traits.openness, 100);
  EXPECT_EQ(merged->traits.neuroticism, 12);
  EXPECT_EQ(merged->traits.agreeableness, base.traits.agreeableness);  // absent: the template's
  EXPECT_EQ(merged->tone, "playful");
  EXPECT_EQ(merged->address, "Sie");
  EXPECT_EQ(merged->verbosity, base.verbosity);  // not a valid choice
  ASSERT_EQ(merged->rules.size(), 1u);
  EXPECT_EQ(merged->language, "de");  // never the model's to change
}

TEST(persona_drafter, refuses_answers_without_a_usable_object) {
  const character base = draft_from_description("A tutor.", "en");
  EXPECT_FALSE(merge_model_draft("I cannot help with that.", base).ok());
  EXPECT_FALSE(merge_model_draft("{not json}", base).ok());
  EXPECT_FALSE(merge_model_draft("[1, 2]", base).ok());
  EXPECT_FALSE(merge_model_draft("{\"colour\": \"red\"}", base).ok());  // none of the fields
  // A name over the limit is cut, not refused; invalid UTF-8 is repaired.
  auto long_name = merge_model_draft("{\"name\": \"" + std::string(300, 'a') + "\", \"role\": \"x\\u00e4\"}", base);
  ASSERT_TRUE(long_name.ok());
  EXPECT_EQ(long_name->name.size(), 60u);
}

TEST(persona_drafter, messages_name_the_fields_and_the_language) {
  const auto de = draft_messages("Eine Beraterin", "de");
  ASSERT_EQ(de.size(), 2u);
  EXPECT_NE(de[0].content.find("\"traits\""), std::string::npos);
  EXPECT_NE(de[0].content.find("in German"), std::string::npos);
  EXPECT_NE(de[0].content.find("du or Sie"), std::string::npos);
  EXPECT_NE(de[1].content.find("Eine Beraterin"), std::string::npos);
  const auto en = draft_messages("A tutor", "en");
  EXPECT_EQ(en[0].content.find("du or Sie"), std::string::npos);
  EXPECT_EQ(draft_messages("A tutor", "en")[0].content, en[0].content);  // deterministic
}

class drafter_gateway_test : public infra::db::testing::backend_test {
 protected:
  void SetUp() override {
    backend_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(infra::db::migrate(db(), "llm", llm::llm_gateway::migrations()).ok());
    cfg_.llm.max_retries = 0;
    cfg_.llm.first_token_timeout_ms = 2000;
    for (const char* scenario : {"persona", "normal", "bad_request"}) {
      core::model_settings m;
      m.id = std::string("s-") + scenario;
      m.display_name = m.id;
      m.provider = "openai";
      m.endpoint = provider_.base_url();
      m.upstream_model = scenario;
      m.region = "eu";
      m.capabilities = {"chat"};
      cfg_.models.push_back(m);
    }
    core::model_settings down = cfg_.models.front();
    down.id = "s-down";
    down.endpoint = "http://127.0.0.1:1/v1";  // nothing listens on port 1
    cfg_.models.push_back(down);
    auto created = llm::llm_gateway::create(cfg_, db(), {});
    ASSERT_TRUE(created.ok()) << created.err().message();
    gateway_ = std::move(created).value();
  }

  core::result<persona_draft> draft(std::string model, std::string description, std::string language = "") {
    return net::testing::run_client(draft_persona(gateway_.get(), llm::caller{.user_id = "u1"}, std::move(model),
                                                  std::move(description), std::move(language)));
  }

  core::config cfg_;
  llm::testing::scripted_provider provider_;
  std::unique_ptr<llm::llm_gateway> gateway_;
};

TEST_P(drafter_gateway_test, a_model_drafts_and_the_template_stands_in_when_it_cannot) {
  auto by_model = draft("s-persona", "Eine Reiseberaterin für Dienstreisen, genau und freundlich.");
  ASSERT_TRUE(by_model.ok()) << by_model.err().message();
  EXPECT_EQ(by_model->generator, "model");
  EXPECT_EQ(by_model->model, "s-persona");
  EXPECT_TRUE(by_model->note.empty());
  const character& c = by_model->persona;
  EXPECT_EQ(c.name, "Greta");
  EXPECT_EQ(c.role, "Reiseberaterin");
  EXPECT_EQ(c.traits.conscientiousness, 90);
  EXPECT_EQ(c.traits.extraversion, 100);
  EXPECT_EQ(c.traits.neuroticism, 0);
  EXPECT_EQ(c.tone, "formal");
  EXPECT_EQ(c.address, "du");
  EXPECT_EQ(c.verbosity, "medium");  // "verbose" is no choice: the template's value stays
  ASSERT_EQ(c.rules.size(), 1u);
  EXPECT_EQ(c.rules[0], "Nenne Preise mit Quelle.");
  EXPECT_EQ(c.language, "de");
  EXPECT_TRUE(validate(c).ok());
  // What went to the model: the description, and the instructions in the system message.
  const auto bodies = provider_.bodies();
  ASSERT_FALSE(bodies.empty());
  EXPECT_NE(bodies.back().find("Reiseberaterin f"), std::string::npos);
  EXPECT_NE(bodies.back().find("exactly one JSON object"), std::string::npos);

  // A model whose answer is prose: the template, with a note saying why.
  auto prose = draft("s-normal", "A patient tutor for new colleagues.");
  ASSERT_TRUE(prose.ok());
  EXPECT_EQ(prose->generator, "template");
  EXPECT_NE(prose->note.find("could not be used"), std::string::npos);
  EXPECT_EQ(prose->persona.traits.agreeableness, 85);  // "patient" in the template
  EXPECT_EQ(prose->persona.language, "en");

  // A provider that is down or refuses: the template too.
  auto down = draft("s-down", "A patient tutor.");
  ASSERT_TRUE(down.ok());
  EXPECT_EQ(down->generator, "template");
  EXPECT_NE(down->note.find("model call failed"), std::string::npos);

  // No model: the template, without a note; an unknown model is the caller's error.
  auto plain = draft("", "A patient tutor.");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->generator, "template");
  EXPECT_TRUE(plain->note.empty());
  EXPECT_EQ(draft("no-such-model", "A tutor.").err().code(), core::errc::not_found);
}

INSTANTIATE_TEST_SUITE_P(backends, drafter_gateway_test, ::testing::Values("sqlite"), infra::db::testing::backend_name);

}  // namespace
}  // namespace wattos::persona
