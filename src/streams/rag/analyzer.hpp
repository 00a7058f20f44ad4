// File: streams/rag/analyzer.hpp
//
// Text analysis for lexical retrieval in German and English: words folded for
// matching (lower case, ä/ö/ü/ß -> ae/oe/ue/ss, accents stripped: so "Größe" and
// "Groesse" meet), stop words of both languages dropped, then Snowball stemming
// (libstemmer) in the text's language. Documents are stemmed in their own language
// (detected per text unless the caller fixes it); queries get the stems of both
// languages, so an English question still finds a German passage's shared words.
//
// Thread safety: an analyzer is immutable after construction and may be shared;
// libstemmer state lives in thread-local stemmers.
//
// Example:
//   rag::analyzer a;
//   auto terms = a.document_terms("Die Kündigungsfristen betragen drei Monate.");  // kuendigungsfrist, betrag, monat
//   auto query = a.query_terms("notice periods");
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wattos::streams::rag {

enum class language { auto_detect, german, english };

class analyzer {
 public:
  // Stems of a document's text, in its language (detected when auto_detect).
  std::vector<std::string> document_terms(std::string_view text, language lang = language::auto_detect) const;
  // Stems of a query: each word stemmed in both languages (duplicates removed per word).
  std::vector<std::string> query_terms(std::string_view text) const;
  // Folded words, unstemmed, stop words kept (for snippets and highlighting).
  std::vector<std::string> words(std::string_view text) const;
};

// Stems one folded word; exposed for tests.
std::string stem(std::string_view folded_word, language lang);

}  // namespace wattos::streams::rag
