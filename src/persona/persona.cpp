#include "persona/persona.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>

#include "infra/llm/text.hpp"
#include "net/json_body.hpp"

namespace wattos::persona {

namespace json = boost::json;

namespace {

bool one_of(std::string_view v, std::initializer_list<std::string_view> allowed) {
  return std::find(allowed.begin(), allowed.end(), v) != allowed.end();
}

// low, middle or high third of a 0-100 trait.
int band(int value) {
  return value < 34 ? 0 : (value < 67 ? 1 : 2);
}

struct phrase {
  const char* de;
  const char* en;
};

// One sentence per trait and band: {low, middle, high}.
const phrase openness_text[3] = {
    {"Du bleibst bei bewährten, praktischen Lösungen.", "You stay with proven, practical solutions."},
    {"Du bist offen für neue Ideen, ohne dich zu verlieren.", "You are open to new ideas without losing focus."},
    {"Du bist neugierig, kreativ und bringst gern neue Blickwinkel ein.",
     "You are curious and creative and like to offer new angles."}};
const phrase conscientiousness_text[3] = {
    {"Du antwortest locker und pragmatisch.", "You answer in a relaxed, pragmatic way."},
    {"Du arbeitest sorgfältig und behältst den Überblick.", "You work carefully and keep the overview."},
    {"Du bist sehr gründlich, genau und strukturiert; du prüfst Aussagen, bevor du sie triffst.",
     "You are very thorough, precise and structured; you check statements before you make them."}};
const phrase extraversion_text[3] = {
    {"Du bist ruhig und zurückhaltend und kommst schnell zur Sache.",
     "You are calm and reserved and get to the point quickly."},
    {"Du bist freundlich und ausgeglichen im Gespräch.", "You are friendly and balanced in conversation."},
    {"Du bist gesprächig, energiegeladen und gehst aktiv auf dein Gegenüber zu.",
     "You are talkative and energetic and engage actively with the person."}};
const phrase agreeableness_text[3] = {
    {"Du bist direkt und sagst klar, wenn etwas nicht stimmt.",
     "You are direct and say clearly when something is wrong."},
    {"Du bist hilfsbereit und fair.", "You are helpful and fair."},
    {"Du bist warmherzig, geduldig und verständnisvoll.", "You are warm-hearted, patient and understanding."}};
const phrase neuroticism_text[3] = {
    {"Du bleibst auch bei schwierigen Fragen gelassen und sicher.",
     "You stay calm and confident even with difficult questions."},
    {"Du bleibst sachlich, auch wenn es schwierig wird.", "You stay factual even when things get difficult."},
    {"Du bist vorsichtig und weist auf Risiken und Unsicherheiten hin.",
     "You are cautious and point out risks and uncertainties."}};

std::string pick(const phrase& p, bool german) {
  return german ? p.de : p.en;
}

json::object traits_json(const big_five& t) {
  return json::object{{"openness", t.openness},
                      {"conscientiousness", t.conscientiousness},
                      {"extraversion", t.extraversion},
                      {"agreeableness", t.agreeableness},
                      {"neuroticism", t.neuroticism}};
}

int int_field(const json::object& o, std::string_view key, int fallback) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return fallback;
  if (v->is_int64()) return static_cast<int>(std::clamp<std::int64_t>(v->get_int64(), -1000000, 1000000));
  if (v->is_double()) return static_cast<int>(v->get_double());
  return fallback;
}

double double_field(const json::object& o, std::string_view key, double fallback) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_number()) return fallback;
  return v->to_number<double>();
}

std::string string_field(const json::object& o, std::string_view key, std::string fallback = {}) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return fallback;
  return std::string(v->get_string());
}

}  // namespace

core::status validate(const character& c) {
  auto bad = [](const std::string& what) { return core::error::invalid_argument(what); };
  if (c.name.empty() || c.name.size() > 60 || c.name.find_first_of("\n\r\t") != std::string::npos) {
    return bad("name must have 1 to 60 characters on one line");
  }
  if (c.role.size() > 200) return bad("role may have at most 200 bytes");
  if (c.description.size() > 2000) return bad("description may have at most 2000 bytes");
  for (int v : {c.traits.openness, c.traits.conscientiousness, c.traits.extraversion, c.traits.agreeableness,
                c.traits.neuroticism, c.humour}) {
    if (v < 0 || v > 100) return bad("traits and humour must be from 0 to 100");
  }
  if (!one_of(c.tone, {"warm", "neutral", "formal", "playful"}))
    return bad("tone must be warm, neutral, formal or playful");
  if (!one_of(c.verbosity, {"short", "medium", "long"})) return bad("verbosity must be short, medium or long");
  if (!one_of(c.language, {"de", "en"})) return bad("language must be de or en");
  if (!one_of(c.address, {"du", "Sie"})) return bad("address must be du or Sie");
  if (c.rules.size() > 30) return bad("at most 30 rules");
  for (const auto& r : c.rules) {
    if (r.empty() || r.size() > 500) return bad("each rule must have 1 to 500 bytes");
  }
  if (c.greeting.size() > 1000) return bad("greeting may have at most 1000 bytes");
  if (c.default_spaces.size() > 20) return bad("at most 20 default spaces");
  if (!one_of(c.voice.engine, {"espeak-ng", "piper", "openai"}))
    return bad("voice.engine must be espeak-ng, piper or openai");
  if (c.voice.voice.empty() || c.voice.voice.size() > 100) return bad("voice.voice must have 1 to 100 characters");
  if (!(c.voice.rate >= 0.5 && c.voice.rate <= 2.0) || !(c.voice.pitch >= 0.5 && c.voice.pitch <= 2.0)) {
    return bad("voice.rate and voice.pitch must be from 0.5 to 2.0");
  }
  return {};
}

std::string system_prompt(const character& c) {
  const bool de = c.language == "de";
  std::string out;
  if (de) {
    out = "Du bist " + c.name + (c.role.empty() ? "" : ", " + c.role) + ".";
  } else {
    out = "You are " + c.name + (c.role.empty() ? "" : ", " + c.role) + ".";
  }
  if (!c.description.empty()) out += " " + c.description;
  out += "\n\n";
  out += pick(openness_text[band(c.traits.openness)], de) + " ";
  out += pick(conscientiousness_text[band(c.traits.conscientiousness)], de) + " ";
  out += pick(extraversion_text[band(c.traits.extraversion)], de) + " ";
  out += pick(agreeableness_text[band(c.traits.agreeableness)], de) + " ";
  out += pick(neuroticism_text[band(c.traits.neuroticism)], de) + "\n";
  static const phrase tone_text[] = {
      {"Dein Ton ist herzlich und zugewandt.", "Your tone is warm and caring."},
      {"Dein Ton ist sachlich und neutral.", "Your tone is factual and neutral."},
      {"Dein Ton ist förmlich und professionell.", "Your tone is formal and professional."},
      {"Dein Ton ist locker und verspielt.", "Your tone is relaxed and playful."}};
  const int tone = c.tone == "warm" ? 0 : c.tone == "neutral" ? 1 : c.tone == "formal" ? 2 : 3;
  out += pick(tone_text[tone], de) + " ";
  static const phrase humour_text[3] = {
      {"Du verzichtest auf Witze.", "You do without jokes."},
      {"Ein wenig Humor ist erlaubt, wo er passt.", "A little humour is fine where it fits."},
      {"Du bringst gern Humor ein, ohne albern zu werden.", "You like to bring in humour without being silly."}};
  out += pick(humour_text[band(c.humour)], de) + " ";
  static const phrase verbosity_text[] = {
      {"Antworte kurz: wenige Sätze.", "Answer briefly: a few sentences."},
      {"Antworte in angemessener Länge.", "Answer at a reasonable length."},
      {"Antworte ausführlich und erkläre Zusammenhänge.", "Answer in detail and explain the context."}};
  const int verbosity = c.verbosity == "short" ? 0 : c.verbosity == "medium" ? 1 : 2;
  out += pick(verbosity_text[verbosity], de) + "\n";
  if (de) {
    out += c.address == "du" ? "Sprich dein Gegenüber mit „du“ an." : "Sprich dein Gegenüber mit „Sie“ an.";
    out += " Antworte auf Deutsch, es sei denn, man schreibt dir in einer anderen Sprache.";
  } else {
    out += "Answer in English unless you are written to in another language.";
  }
  if (!c.rules.empty()) {
    out += de ? "\n\nRegeln:" : "\n\nRules:";
    for (const auto& r : c.rules) out += "\n- " + r;
  }
  return out;
}

character draft_from_description(std::string_view description, std::string_view language) {
  character c;
  c.language =
      language == "en" ? "en" : (language == "de" ? "de" : (infra::llm::looks_german(description) ? "de" : "en"));
  c.description = std::string(description.substr(0, 2000));
  const auto words = infra::llm::word_tokens(description);
  auto has = [&](std::initializer_list<std::string_view> stems) {
    for (const auto& w : words) {
      for (auto s : stems) {
        if (w.rfind(s, 0) == 0) return true;
      }
    }
    return false;
  };
  // Keyword stems (folded: umlauts as ae/oe/ue) move traits and style.
  if (has({"geduld", "patient", "verstaendnis", "einfuehl", "empath", "freundlich", "friendly", "kind"}))
    c.traits.agreeableness = 85;
  if (has({"streng", "direkt", "kritisch", "strict", "direct", "critical"})) c.traits.agreeableness = 25;
  if (has({"genau", "gruendlich", "praezis", "sorgfaelt", "thorough", "precise", "careful", "detail"}))
    c.traits.conscientiousness = 85;
  if (has({"kreativ", "neugier", "innovativ", "creative", "curious", "inventive"})) c.traits.openness = 85;
  if (has({"gespraechig", "lebhaft", "energ", "talkative", "lively", "outgoing"})) c.traits.extraversion = 80;
  if (has({"ruhig", "zurueckhaltend", "calm", "quiet", "reserved"})) c.traits.extraversion = 25;
  if (has({"vorsichtig", "cautious", "risk", "risiko"})) c.traits.neuroticism = 70;
  if (has({"humor", "witzig", "lustig", "funny", "witty", "humour"})) c.humour = 75;
  if (has({"knapp", "kurz", "brief", "concise", "short"})) c.verbosity = "short";
  if (has({"ausfuehrlich", "detailliert", "erklaer", "detailed", "explain", "thorough"})) c.verbosity = "long";
  if (has({"foermlich", "formell", "professionell", "formal", "professional"})) c.tone = "formal";
  if (has({"locker", "verspielt", "playful", "casual"})) c.tone = "playful";
  if (has({"du", "duzen", "informell", "informal"})) c.address = "du";
  // The role is the description's first sentence, the rest stays the description; the
  // name is a neutral placeholder for the user to replace.
  const auto end = description.find_first_of(".!?\n");
  std::string role(description.substr(0, end));
  while (!role.empty() && role.back() == ' ') role.pop_back();
  if (role.size() > 200) role.resize(200);
  c.role = role;
  std::string_view rest = end == std::string_view::npos ? std::string_view() : description.substr(end + 1);
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\n')) rest.remove_prefix(1);
  c.description = std::string(rest.substr(0, 2000));
  c.name = c.language == "de" ? "Neue Persona" : "New persona";
  c.greeting = c.language == "de"
                   ? (c.address == "du" ? "Hallo! Wie kann ich dir helfen?" : "Guten Tag! Wie kann ich Ihnen helfen?")
                   : "Hello! How can I help you?";
  c.voice.voice = c.language;
  return c;
}

std::string avatar_svg(const character& c) {
  std::uint32_t h = 2166136261u;
  for (char ch : c.name) h = (h ^ static_cast<unsigned char>(ch)) * 16777619u;
  const int hue = static_cast<int>(h % 360);
  std::string initials;
  bool next = true;
  for (std::size_t i = 0; i < c.name.size() && initials.size() < 2; ++i) {
    const unsigned char ch = static_cast<unsigned char>(c.name[i]);
    if (ch == ' ' || ch == '-') {
      next = true;
    } else if (next && std::isalnum(ch)) {
      initials += static_cast<char>(std::toupper(ch));
      next = false;
    }
  }
  if (initials.empty()) initials = "?";
  char svg[512];
  std::snprintf(svg, sizeof svg,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 128 128\" role=\"img\" aria-label=\"%s\">"
                "<circle cx=\"64\" cy=\"64\" r=\"64\" fill=\"hsl(%d,55%%,42%%)\"/>"
                "<text x=\"64\" y=\"80\" font-family=\"sans-serif\" font-size=\"48\" text-anchor=\"middle\" "
                "fill=\"#fff\">%s</text></svg>",
                initials.c_str(), hue, initials.c_str());
  return svg;
}

std::string to_json(const character& c) {
  json::array rules;
  for (const auto& r : c.rules) rules.emplace_back(r);
  json::array spaces;
  for (const auto& s : c.default_spaces) spaces.emplace_back(s);
  json::object o{
      {"id", c.id},
      {"owner_id", c.owner_id},
      {"name", c.name},
      {"role", c.role},
      {"description", c.description},
      {"traits", traits_json(c.traits)},
      {"tone", c.tone},
      {"humour", c.humour},
      {"verbosity", c.verbosity},
      {"language", c.language},
      {"address", c.address},
      {"rules", std::move(rules)},
      {"greeting", c.greeting},
      {"default_model", c.default_model},
      {"default_spaces", std::move(spaces)},
      {"voice",
       json::object{
           {"engine", c.voice.engine}, {"voice", c.voice.voice}, {"rate", c.voice.rate}, {"pitch", c.voice.pitch}}},
      {"avatar", json::object{{"uploaded", !c.avatar_etag.empty()}, {"etag", c.avatar_etag}}},
      {"builtin", c.builtin},
      {"created_at", c.created_at},
      {"updated_at", c.updated_at}};
  return json::serialize(o);
}

core::result<character> from_json(std::string_view json_text) {
  boost::system::error_code ec;
  auto parsed = json::parse(json_text, ec);
  if (ec || !parsed.is_object()) return core::error::invalid_argument("a persona must be a JSON object");
  const auto& o = parsed.get_object();
  character c;
  c.id = string_field(o, "id");
  c.owner_id = string_field(o, "owner_id");
  c.name = string_field(o, "name");
  c.role = string_field(o, "role");
  c.description = string_field(o, "description");
  if (const auto* t = o.if_contains("traits"); t != nullptr && t->is_object()) {
    const auto& to = t->get_object();
    c.traits.openness = int_field(to, "openness", 50);
    c.traits.conscientiousness = int_field(to, "conscientiousness", 50);
    c.traits.extraversion = int_field(to, "extraversion", 50);
    c.traits.agreeableness = int_field(to, "agreeableness", 50);
    c.traits.neuroticism = int_field(to, "neuroticism", 50);
  }
  c.tone = string_field(o, "tone", c.tone);
  c.humour = int_field(o, "humour", c.humour);
  c.verbosity = string_field(o, "verbosity", c.verbosity);
  c.language = string_field(o, "language", c.language);
  c.address = string_field(o, "address", c.address);
  WATTOS_ASSIGN_OR_RETURN(c.rules, net::json_string_list(o, "rules"));
  c.greeting = string_field(o, "greeting");
  c.default_model = string_field(o, "default_model");
  WATTOS_ASSIGN_OR_RETURN(c.default_spaces, net::json_string_list(o, "default_spaces"));
  if (const auto* v = o.if_contains("voice"); v != nullptr && v->is_object()) {
    const auto& vo = v->get_object();
    c.voice.engine = string_field(vo, "engine", c.voice.engine);
    c.voice.voice = string_field(vo, "voice", c.voice.voice);
    c.voice.rate = double_field(vo, "rate", c.voice.rate);
    c.voice.pitch = double_field(vo, "pitch", c.voice.pitch);
  }
  if (const auto* a = o.if_contains("avatar"); a != nullptr && a->is_object()) {
    c.avatar_etag = string_field(a->get_object(), "etag");
  }
  if (const auto* b = o.if_contains("builtin"); b != nullptr && b->is_bool()) c.builtin = b->get_bool();
  c.created_at = string_field(o, "created_at");
  c.updated_at = string_field(o, "updated_at");
  return c;
}

const character& kaya() {
  static const character k = [] {
    character c;
    c.id = "kaya";
    c.name = "KAYA";
    c.role = "die KI-Assistentin von WattOS";
    c.description =
        "Du hilfst den Menschen im Unternehmen, Antworten in ihren eigenen Dokumenten zu finden, und "
        "nennst deine Quellen.";
    c.traits = {60, 80, 55, 75, 30};
    c.tone = "warm";
    c.humour = 25;
    c.verbosity = "medium";
    c.language = "de";
    c.address = "Sie";
    c.rules = {"Erfinde keine Fakten; sage offen, wenn du etwas nicht weißt.",
               "Zitiere Quellen als [n], wenn dir Quellen vorliegen."};
    c.greeting = "Guten Tag, ich bin KAYA. Wobei kann ich Ihnen helfen?";
    c.builtin = true;
    return c;
  }();
  return k;
}

}  // namespace wattos::persona
