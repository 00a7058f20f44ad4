// File: streams/rag/analyzer.hpp
//
// Text analysis for lexical retrieval in German and English: words folded for
// matching (lower case, ä/ö/ü/ß -> ae/oe/ue/ss, accents stripped: so "Größe" and
// "Groesse" meet), stop words of both languages dropped, then Snowball stemming
// (libstemmer) in the text's language. Documents are stemmed in their own language
// (detected per text unless the caller fixes it); queries get the stems of both
// languages, so an English question still finds a German passage's shared words.
// German compounds add their parts (streams/rag/compounds.hpp): in German documents,
// and in queries (whose language is not known) when a word splits.
//
// Thread safety: an analyzer is immutable after construction and may be shared;
// libstemmer state lives in thread-local stemmers.
//
// Example:
//   rag::analyzer a;
//   auto terms = a.document_terms("Die Kündigungsfristen betragen drei Monate.");
//   // kundigungsfrist, kundigung, frist, betrag, monat
//   auto query = a.query_terms("notice periods");
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wattos::streams::rag {

enum class language { auto_detect, german, english };

class compound_splitter;

class analyzer {
 public:
  // With the process-wide German compound splitter (loaded when first needed).
  analyzer() = default;
  // With this splitter, or none (nullptr): compounds are then kept whole.
  explicit analyzer(const compound_splitter* compounds) : compounds_(compounds), default_compounds_(false) {}

  // Stems of a document's text, in its language (detected when auto_detect).
  std::vector<std::string> document_terms(std::string_view text, language lang = language::auto_detect) const;
  // Stems of a query: each word stemmed in both languages (duplicates removed per word).
  std::vector<std::string> query_terms(std::string_view text) const;
  // Folded words, unstemmed, stop words kept (for snippets and highlighting).
  std::vector<std::string> words(std::string_view text) const;

 private:
  const compound_splitter* compounds() const;

  const compound_splitter* compounds_ = nullptr;
  bool default_compounds_ = true;
};

// Stems one folded word; exposed for tests.
std::string stem(std::string_view folded_word, language lang);

}  // namespace wattos::streams::rag
