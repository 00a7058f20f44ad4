// The model's side of drafting: the messages sent, and the reading of the answer (a
// parser of untrusted text: fuzzed in tests/fuzz/fuzz_persona.cpp).
#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/utf8.hpp"
#include "persona/drafter.hpp"

namespace wattos::persona {

namespace json = boost::json;
namespace llm = infra::llm;

namespace {

constexpr std::size_t max_answer_bytes = std::size_t{64} * 1024;
constexpr std::size_t max_drafted_rules = 10;

// A string field of the model's answer, made valid UTF-8, on one line when asked, and
// cut to `max_bytes`; empty when absent or not a string.
std::string text_of(const json::object& o, std::string_view key, std::size_t max_bytes, bool one_line) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  std::string s = core::to_valid_utf8(v->get_string());
  if (one_line)
    std::replace_if(
        s.begin(), s.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  const auto first = s.find_first_not_of(" \n");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \n");
  return std::string(core::utf8_prefix(std::string_view(s).substr(first, last - first + 1), max_bytes));
}

// A 0-100 value of the model's answer (numbers, or numbers written as strings).
bool score_of(const json::object& o, std::string_view key, int& out) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return false;
  double d = 0;
  if (v->is_number()) {
    d = v->to_number<double>();
  } else if (v->is_string()) {
    const std::string_view text = v->get_string();
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec != std::errc() || end != text.data() + text.size()) return false;
  } else {
    return false;
  }
  if (!(d == d)) return false;  // NaN
  out = static_cast<int>(std::lround(std::clamp(d, 0.0, 100.0)));
  return true;
}

bool choice_of(const json::object& o, std::string_view key, std::initializer_list<std::string_view> allowed,
               std::string& out) {
  const std::string v = text_of(o, key, 20, true);
  for (auto a : allowed) {
    // "Sie" keeps its capital; the others are lower case.
    std::string lower(v);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string a_lower(a);
    std::transform(a_lower.begin(), a_lower.end(), a_lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == a_lower) {
      out = std::string(a);
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<llm::chat_message> draft_messages(std::string_view description, std::string_view language) {
  const bool de = language == "de";
  std::string system =
      "You design characters (personas) for an AI assistant used inside a company. Answer with exactly one JSON "
      "object and nothing else, with these fields: \"name\" (a first name, at most 60 characters), \"role\" (one "
      "short phrase, at most 200 characters), \"description\" (two or three sentences on what the persona does and "
      "how), \"traits\" (an object with the Big Five \"openness\", \"conscientiousness\", \"extraversion\", "
      "\"agreeableness\", \"neuroticism\", each an integer from 0 to 100), \"tone\" (one of warm, neutral, formal, "
      "playful), \"humour\" (0 to 100), \"verbosity\" (short, medium or long), ";
  system += de ? "\"address\" (du or Sie: how the persona addresses people), " : "";
  system +=
      "\"rules\" (a list of at most five short rules the persona follows) and \"greeting\" (the first sentence it "
      "says). ";
  system += de ? "Write name, role, description, rules and greeting in German."
               : "Write name, role, description, rules and greeting in English.";
  std::string user = de ? "Beschreibung der Persona: " : "Description of the persona: ";
  user += description;
  return {llm::chat_message{.role = "system", .content = std::move(system)},
          llm::chat_message{.role = "user", .content = std::move(user)}};
}

core::result<character> merge_model_draft(std::string_view answer, character base) {
  answer = answer.substr(0, max_answer_bytes);
  const auto open = answer.find('{');
  const auto close = answer.rfind('}');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return core::error::invalid_argument("the model's answer holds no JSON object");
  }
  boost::system::error_code ec;
  auto parsed = json::parse(answer.substr(open, close - open + 1), ec);
  if (ec || !parsed.is_object()) return core::error::invalid_argument("the model's answer is not valid JSON");
  const auto& o = parsed.get_object();
  int fields = 0;
  auto take_text = [&](std::string_view key, std::size_t max_bytes, bool one_line, std::string& into) {
    std::string v = text_of(o, key, max_bytes, one_line);
    if (v.empty()) return;
    into = std::move(v);
    ++fields;
  };
  take_text("name", 60, true, base.name);
  take_text("role", 200, true, base.role);
  take_text("description", 2000, false, base.description);
  take_text("greeting", 1000, false, base.greeting);
  if (const auto* t = o.if_contains("traits"); t != nullptr && t->is_object()) {
    const auto& to = t->get_object();
    fields += score_of(to, "openness", base.traits.openness);
    fields += score_of(to, "conscientiousness", base.traits.conscientiousness);
    fields += score_of(to, "extraversion", base.traits.extraversion);
    fields += score_of(to, "agreeableness", base.traits.agreeableness);
    fields += score_of(to, "neuroticism", base.traits.neuroticism);
  }
  fields += score_of(o, "humour", base.humour);
  fields += choice_of(o, "tone", {"warm", "neutral", "formal", "playful"}, base.tone);
  fields += choice_of(o, "verbosity", {"short", "medium", "long"}, base.verbosity);
  if (base.language == "de") fields += choice_of(o, "address", {"du", "Sie"}, base.address);
  if (const auto* r = o.if_contains("rules"); r != nullptr && r->is_array()) {
    std::vector<std::string> rules;
    for (const auto& item : r->get_array()) {
      if (rules.size() == max_drafted_rules) break;
      if (!item.is_string()) continue;
      json::object one{{"r", item}};
      if (std::string rule = text_of(one, "r", 500, true); !rule.empty()) rules.push_back(std::move(rule));
    }
    if (!rules.empty()) {
      base.rules = std::move(rules);
      ++fields;
    }
  }
  if (fields == 0) return core::error::invalid_argument("the model's answer has none of the persona's fields");
  WATTOS_RETURN_IF_ERROR(validate(base));
  return base;
}

}  // namespace wattos::persona
