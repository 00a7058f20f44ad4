// File: infra/llm/extractive.hpp
//
// The built-in offline `extractive` model's answer: no generation, only selection.
// The context holds numbered sources, each starting on its own line with a citation
// marker `[n]` (n = 1..999), for example
//   [1] Mietvertrag.pdf, Seite 3: Die Kündigungsfrist beträgt drei Monate. ...
//   [2] ...
// Text before the first marker (instructions) is ignored. Each sentence of each source
// is scored against the question (folded, stemmed words without stop words; BM25-like
// weighting with the sources as the collection, plus a bonus for covering several
// question terms); the best sentences above a minimum score are ordered by source and
// position and each ends with its marker: "Die Kündigungsfrist beträgt drei Monate [1]."
// When nothing matches, the answer says so plainly, in the question's language.
//
// Example:
//   auto a = llm::extractive_answer_for("Wie lang ist die Kündigungsfrist?", context, {});
//   if (!a.answered) show(a.text);  // "Der bereitgestellte Kontext enthält keine Antwort ..."
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wattos::infra::llm {

struct extractive_options {
  int max_sentences = 4;           // at most this many sentences in the answer
  double min_term_coverage = 0.2;  // a sentence must cover this share of the question's terms
};

struct extractive_answer {
  std::string text;        // the answer, with [n] markers (or the "no answer" sentence)
  bool answered = false;   // false: the context held no answer (or there was no context)
  std::vector<int> cited;  // citation numbers used, ascending, unique
};

extractive_answer extractive_answer_for(std::string_view question, std::string_view context,
                                        const extractive_options& options);

}  // namespace wattos::infra::llm
