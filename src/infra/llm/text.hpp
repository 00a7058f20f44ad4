// File: infra/llm/text.hpp
//
// Small, dependency-free text analysis shared by the offline `extractive` model and
// the built-in embedder: word tokens folded for matching (lower case, umlauts and ß
// folded: "Größe" -> "groesse"), German and English stop words, a light suffix
// stemmer, and sentence splitting with byte offsets. It is deliberately simple and
// deterministic; RAG's BM25 analysis (Snowball) lives elsewhere.
//
// Example:
//   for (auto& w : llm::word_tokens("Die Häuser sind groß")) if (!llm::is_stop_word(w)) use(llm::light_stem(w));
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace wattos::infra::llm {

// Words of `text` (runs of letters and digits, UTF-8 aware for Latin letters), lower
// case, with ä/ö/ü/ß (either case) folded to ae/oe/ue/ss and common accents (é, à, ...)
// stripped. Other non-ASCII letters are kept as they are (lower-cased where ASCII).
std::vector<std::string> word_tokens(std::string_view text);

// True for a folded German or English stop word ("der", "und", "the", "of", ...).
bool is_stop_word(std::string_view folded_word);

// Strips common German and English inflection suffixes from a folded word, keeping
// at least 3 characters ("houses" -> "hous", "haeusern" -> "haeus").
std::string light_stem(std::string_view folded_word);

struct sentence_span {
  std::size_t begin = 0;  // byte offsets into the text
  std::size_t end = 0;
};

// Sentences of `text`: split after . ! ? (followed by space and not after a common
// abbreviation or a single-letter initial or a digit-dot like "3.") and at blank lines.
// Spans are trimmed of surrounding white space; empty sentences are dropped.
std::vector<sentence_span> split_sentences(std::string_view text);

// True when `text` looks German (more German than English stop words, or umlauts).
bool looks_german(std::string_view text);

}  // namespace wattos::infra::llm
