// The character layer: prompt generation (deterministic, German and English, traits,
// tone, humour, verbosity, form of address, rules), validation, drafts from a
// description, avatars, JSON round trips, and the store (KAYA built in and protected,
// only the creator or an admin changes a persona) on SQLite and PostgreSQL.
#include "persona/persona.hpp"

#include <gtest/gtest.h>

#include "persona_store_fixture.hpp"

namespace wattos::persona {
namespace {

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST(persona_prompt, is_deterministic_and_follows_traits_language_and_address) {
  character c;
  c.name = "Lotte";
  c.role = "Steuerberaterin";
  c.traits.agreeableness = 90;
  c.traits.extraversion = 10;
  c.humour = 80;
  c.verbosity = "short";
  c.address = "du";
  c.rules = {"Keine Rechtsberatung."};
  const auto prompt = system_prompt(c);
  EXPECT_EQ(prompt, system_prompt(c));
  EXPECT_TRUE(contains(prompt, "Du bist Lotte, Steuerberaterin."));
  EXPECT_TRUE(contains(prompt, "warmherzig, geduldig"));
  EXPECT_TRUE(contains(prompt, "ruhig und zurückhaltend"));
  EXPECT_TRUE(contains(prompt, "Humor"));
  EXPECT_TRUE(contains(prompt, "Antworte kurz"));
  EXPECT_TRUE(contains(prompt, "mit „du“ an"));
  EXPECT_TRUE(contains(prompt, "- Keine Rechtsberatung."));
  c.address = "Sie";
  EXPECT_TRUE(contains(system_prompt(c), "mit „Sie“ an"));
  c.language = "en";
  const auto english = system_prompt(c);
  EXPECT_TRUE(contains(english, "You are Lotte, Steuerberaterin."));
  EXPECT_TRUE(contains(english, "warm-hearted, patient"));
  EXPECT_TRUE(contains(english, "Answer briefly"));
  EXPECT_FALSE(contains(english, "„du“"));
}

TEST(persona_prompt, kaya_is_the_builtin_default) {
  const auto& k = kaya();
  EXPECT_EQ(k.id, "kaya");
  EXPECT_TRUE(k.builtin);
  EXPECT_TRUE(validate(k).ok());
  EXPECT_TRUE(contains(system_prompt(k), "Du bist KAYA"));
  EXPECT_TRUE(contains(system_prompt(k), "[n]"));
}

TEST(persona_validation, names_the_bad_field) {
  character c;
  c.name = "Ok";
  EXPECT_TRUE(validate(c).ok());
  struct bad_case {
    std::function<void(character&)> change;
    const char* names;
  };
  const bad_case cases[] = {
      {[](character& x) { x.name = ""; }, "name"},
      {[](character& x) { x.traits.openness = 101; }, "traits"},
      {[](character& x) { x.humour = -1; }, "humour"},
      {[](character& x) { x.tone = "grumpy"; }, "tone"},
      {[](character& x) { x.verbosity = "endless"; }, "verbosity"},
      {[](character& x) { x.language = "fr"; }, "language"},
      {[](character& x) { x.address = "Ihr"; }, "address"},
      {[](character& x) { x.rules = {""}; }, "rule"},
      {[](character& x) { x.voice.rate = 3; }, "voice.rate"},
      {[](character& x) { x.voice.engine = "sam"; }, "voice.engine"},
  };
  for (const auto& bc : cases) {
    character x = c;
    bc.change(x);
    auto st = validate(x);
    ASSERT_FALSE(st.ok()) << bc.names;
    EXPECT_TRUE(contains(st.err().message(), bc.names)) << st.err().message();
  }
}

TEST(persona_draft, reads_traits_and_style_from_a_description) {
  auto d = draft_from_description("Eine geduldige, humorvolle Steuerberaterin, die knapp antwortet und duzt.", "");
  EXPECT_EQ(d.language, "de");
  EXPECT_EQ(d.role, "Eine geduldige, humorvolle Steuerberaterin, die knapp antwortet und duzt");
  EXPECT_GE(d.traits.agreeableness, 80);
  EXPECT_GE(d.humour, 70);
  EXPECT_EQ(d.verbosity, "short");
  EXPECT_EQ(d.address, "du");
  EXPECT_TRUE(validate(d).ok());
  auto e = draft_from_description("A precise, formal compliance officer. Explains regulations in detail.", "en");
  EXPECT_EQ(e.language, "en");
  EXPECT_EQ(e.tone, "formal");
  EXPECT_GE(e.traits.conscientiousness, 80);
  EXPECT_EQ(e.verbosity, "long");
  EXPECT_EQ(e.description, "Explains regulations in detail.");
}

TEST(persona_avatar, initials_on_a_stable_colour) {
  character c;
  c.name = "Anna Berg";
  const auto svg = avatar_svg(c);
  EXPECT_TRUE(contains(svg, ">AB</text>"));
  EXPECT_EQ(svg, avatar_svg(c));
  c.name = "<script>";
  EXPECT_FALSE(contains(avatar_svg(c), "<script>"));  // only letters and digits become initials
}

TEST(persona_json, round_trips) {
  character c = kaya();
  c.default_spaces = {"s1"};
  auto back = from_json(to_json(c));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(to_json(*back), to_json(c));
  EXPECT_FALSE(from_json("[1,2]").ok());
  EXPECT_FALSE(from_json(R"({"rules": "not a list"})").ok());
}

using testing::persona_store_test;

TEST_P(persona_store_test, crud_with_kaya_protected_and_owners_only) {
  auto list = store_->list();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->front().id, "kaya");
  character c;
  c.name = "Lotte";
  auto created = store_->create("user-a", c);
  ASSERT_TRUE(created.ok()) << created.err().message();
  EXPECT_EQ(store_->create("user-a", c).err().code(), core::errc::already_exists);
  c.name = "KAYA";
  EXPECT_EQ(store_->create("user-a", c).err().code(), core::errc::already_exists);
  EXPECT_EQ(store_->get("Lotte")->id, created->id);

  character changed = *created;
  changed.role = "Beraterin";
  EXPECT_EQ(store_->update("user-b", false, created->id, changed).err().code(), core::errc::permission_denied);
  auto updated = store_->update("user-b", true, created->id, changed);  // an admin may
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->role, "Beraterin");
  EXPECT_EQ(updated->owner_id, "user-a");
  EXPECT_EQ(store_->update("user-a", true, "kaya", changed).err().code(), core::errc::permission_denied);
  EXPECT_EQ(store_->remove("user-a", true, "kaya").err().code(), core::errc::permission_denied);
  EXPECT_EQ(store_->remove("user-b", false, created->id).err().code(), core::errc::permission_denied);
  ASSERT_TRUE(store_->remove("user-a", false, created->id).ok());
  EXPECT_EQ(store_->get(created->id).err().code(), core::errc::not_found);
  character invalid;
  invalid.name = "X";
  invalid.language = "fr";
  EXPECT_EQ(store_->create("user-a", invalid).err().code(), core::errc::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(backends, persona_store_test, ::testing::Values("sqlite", "postgres"),
                         infra::db::testing::backend_name);

}  // namespace
}  // namespace wattos::persona
