#include "infra/llm/extractive.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "infra/llm/text.hpp"

namespace wattos::infra::llm {
namespace {

constexpr std::string_view no_answer_de = "Der bereitgestellte Kontext enthält keine Antwort auf diese Frage.";
constexpr std::string_view no_answer_en = "The provided context does not contain an answer to this question.";
constexpr std::string_view no_sources_de =
    "Mir liegen keine Quellen vor, aus denen ich diese Frage beantworten könnte.";
constexpr std::string_view no_sources_en = "I have no sources from which to answer this question.";

// BM25 parameters (the usual defaults).
constexpr double bm25_k1 = 1.2;
constexpr double bm25_b = 0.75;
// Sentences far below the best one only pad the answer.
constexpr double relative_cutoff = 0.3;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

struct source {
  int number = 0;
  std::string_view text;  // after the marker, up to the next marker line
};

// Parses "[n]" (n = 1..999) at the start of a line after optional blanks; returns the
// offset after the marker, or npos.
std::size_t parse_marker(std::string_view context, std::size_t line_start, int& number) {
  std::size_t i = line_start;
  while (i < context.size() && (context[i] == ' ' || context[i] == '\t')) ++i;
  if (i >= context.size() || context[i] != '[') return std::string_view::npos;
  ++i;
  int value = 0;
  std::size_t digits = 0;
  while (i < context.size() && is_digit(context[i]) && digits < 4) {
    value = value * 10 + (context[i] - '0');
    ++i;
    ++digits;
  }
  if (digits == 0 || digits > 3 || value < 1 || i >= context.size() || context[i] != ']') {
    return std::string_view::npos;
  }
  number = value;
  return i + 1;
}

std::vector<source> parse_sources(std::string_view context) {
  std::vector<source> sources;
  std::size_t line_start = 0;
  while (line_start < context.size()) {
    int number = 0;
    const std::size_t after = parse_marker(context, line_start, number);
    if (after != std::string_view::npos) {
      if (!sources.empty()) {
        auto& prev = sources.back();
        prev.text = std::string_view(prev.text.data(),
                                     static_cast<std::size_t>(context.data() + line_start - prev.text.data()));
      }
      sources.push_back({number, context.substr(after)});
    }
    const std::size_t nl = context.find('\n', line_start);
    if (nl == std::string_view::npos) break;
    line_start = nl + 1;
  }
  return sources;
}

// Drops a leading "Mietvertrag.pdf, Seite 3:" / "Handbook, page 12:" location prefix: it
// names the source, it is not part of what the source says.
std::string_view strip_location_prefix(std::string_view s) {
  const std::size_t colon = s.find(':');
  if (colon > 160) return s;  // also no colon at all (npos)
  std::size_t k = colon;
  while (k > 0 && is_space(s[k - 1])) --k;
  const std::size_t digits_end = k;
  while (k > 0 && is_digit(s[k - 1])) --k;
  if (k == digits_end) return s;
  while (k > 0 && is_space(s[k - 1])) --k;
  const std::string_view before = s.substr(0, k);
  static constexpr std::string_view words[] = {"Seite", "seite", "S.", "Page", "page", "p."};
  if (std::none_of(std::begin(words), std::end(words), [&](std::string_view w) { return before.ends_with(w); })) {
    return s;
  }
  // A prefix that already holds a sentence end is content, not a location.
  for (std::string_view end : {". ", "! ", "? ", "\n\n"}) {
    if (before.find(end) != std::string_view::npos) return s;
  }
  std::string_view rest = s.substr(colon + 1);
  while (!rest.empty() && is_space(rest.front())) rest.remove_prefix(1);
  return rest.empty() ? s : rest;
}

// Sentence text on one line: PDF extraction leaves line breaks and runs of blanks.
std::string collapse_space(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool in_space = false;
  for (char c : s) {
    if (is_space(c)) {
      in_space = true;
      continue;
    }
    if (in_space && !out.empty()) out.push_back(' ');
    in_space = false;
    out.push_back(c);
  }
  return out;
}

// "Die Frist beträgt drei Monate." -> "Die Frist beträgt drei Monate [1]."
std::string with_marker(const std::string& sentence, int number) {
  const std::string marker = "[" + std::to_string(number) + "]";
  std::size_t end = sentence.size();
  while (end > 0 && (sentence[end - 1] == '"' || sentence[end - 1] == '\'' || sentence[end - 1] == ')')) --end;
  std::size_t punct = end;
  while (punct > 0 && (sentence[punct - 1] == '.' || sentence[punct - 1] == '!' || sentence[punct - 1] == '?')) --punct;
  if (punct < end && punct > 0) {
    std::string body = sentence.substr(0, punct);
    while (!body.empty() && is_space(body.back())) body.pop_back();
    return body + " " + marker + sentence.substr(punct);
  }
  std::string body = sentence;
  while (!body.empty() && (body.back() == ',' || body.back() == ';' || body.back() == ':' || is_space(body.back()))) {
    body.pop_back();
  }
  return body + " " + marker + ".";
}

std::vector<std::string> content_stems(std::string_view text) {
  std::vector<std::string> stems;
  for (const auto& w : word_tokens(text)) {
    if (!is_stop_word(w)) stems.push_back(light_stem(w));
  }
  return stems;
}

struct candidate {
  std::size_t source_index = 0;
  std::size_t position = 0;  // sentence index within the source
  int number = 0;
  std::string text;
  std::vector<std::string> stems;
  double score = 0.0;
};

extractive_answer no_answer(std::string_view text) {
  extractive_answer a;
  a.text = std::string(text);
  return a;
}

}  // namespace

extractive_answer extractive_answer_for(std::string_view question, std::string_view context,
                                        const extractive_options& options) {
  const bool german = looks_german(question);
  const auto sources = parse_sources(context);
  if (sources.empty()) return no_answer(german ? no_sources_de : no_sources_en);

  std::vector<std::string> terms = content_stems(question);
  std::sort(terms.begin(), terms.end());
  terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
  if (terms.empty() || options.max_sentences <= 0) return no_answer(german ? no_answer_de : no_answer_en);

  // Sentences, and per term the number of sources that contain it (BM25's collection).
  std::vector<candidate> candidates;
  std::map<std::string, int> source_freq;
  for (std::size_t s = 0; s < sources.size(); ++s) {
    const std::string_view text = strip_location_prefix(sources[s].text);
    std::set<std::string> seen;
    std::size_t position = 0;
    for (const auto& span : split_sentences(text)) {
      candidate c;
      c.source_index = s;
      c.position = position++;
      c.number = sources[s].number;
      c.text = collapse_space(text.substr(span.begin, span.end - span.begin));
      c.stems = content_stems(c.text);
      if (c.stems.empty()) continue;
      seen.insert(c.stems.begin(), c.stems.end());
      candidates.push_back(std::move(c));
    }
    for (const auto& t : terms) {
      if (seen.count(t) > 0) ++source_freq[t];
    }
  }
  if (candidates.empty()) return no_answer(german ? no_answer_de : no_answer_en);

  double avg_len = 0.0;
  for (const auto& c : candidates) avg_len += static_cast<double>(c.stems.size());
  avg_len /= static_cast<double>(candidates.size());
  const auto n_sources = static_cast<double>(sources.size());

  double best = 0.0;
  for (auto& c : candidates) {
    double score = 0.0;
    int covered = 0;
    for (const auto& t : terms) {
      const auto tf = static_cast<double>(std::count(c.stems.begin(), c.stems.end(), t));
      if (tf == 0) continue;
      ++covered;
      const double df = source_freq[t];
      // BM25's idf with +1 inside the log: never negative, even for a term in every source.
      const double idf = std::log(1.0 + (n_sources - df + 0.5) / (df + 0.5));
      const double norm = 1.0 - bm25_b + bm25_b * static_cast<double>(c.stems.size()) / avg_len;
      score += idf * tf * (bm25_k1 + 1.0) / (tf + bm25_k1 * norm);
    }
    const double coverage = static_cast<double>(covered) / static_cast<double>(terms.size());
    if (covered == 0 || coverage < options.min_term_coverage) continue;
    // Covering several question terms beats repeating one.
    c.score = score * (1.0 + coverage);
    best = std::max(best, c.score);
  }
  if (best <= 0.0) return no_answer(german ? no_answer_de : no_answer_en);

  std::vector<const candidate*> picked;
  for (const auto& c : candidates) {
    if (c.score > 0.0 && c.score >= best * relative_cutoff) picked.push_back(&c);
  }
  std::stable_sort(picked.begin(), picked.end(),
                   [](const candidate* a, const candidate* b) { return a->score > b->score; });
  // The same sentence quoted by two sources is said once.
  std::vector<const candidate*> chosen;
  for (const auto* c : picked) {
    if (static_cast<int>(chosen.size()) >= options.max_sentences) break;
    if (std::any_of(chosen.begin(), chosen.end(), [&](const candidate* o) { return o->text == c->text; })) continue;
    chosen.push_back(c);
  }
  std::sort(chosen.begin(), chosen.end(), [](const candidate* a, const candidate* b) {
    return a->source_index != b->source_index ? a->source_index < b->source_index : a->position < b->position;
  });

  extractive_answer answer;
  answer.answered = true;
  for (const auto* c : chosen) {
    if (!answer.text.empty()) answer.text.push_back(' ');
    answer.text += with_marker(c->text, c->number);
    answer.cited.push_back(c->number);
  }
  std::sort(answer.cited.begin(), answer.cited.end());
  answer.cited.erase(std::unique(answer.cited.begin(), answer.cited.end()), answer.cited.end());
  return answer;
}

}  // namespace wattos::infra::llm
