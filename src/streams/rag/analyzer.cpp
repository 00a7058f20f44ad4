#include "streams/rag/analyzer.hpp"

#include <libstemmer.h>

#include <memory>

#include "infra/llm/text.hpp"
#include "streams/rag/compounds.hpp"

namespace wattos::streams::rag {
namespace {

// One libstemmer instance per thread and language: sb_stemmer is not thread-safe.
struct stemmer_deleter {
  void operator()(sb_stemmer* s) const { sb_stemmer_delete(s); }
};

sb_stemmer* stemmer_for(language lang) {
  thread_local std::unique_ptr<sb_stemmer, stemmer_deleter> german(sb_stemmer_new("german", "UTF_8"));
  thread_local std::unique_ptr<sb_stemmer, stemmer_deleter> english(sb_stemmer_new("english", "UTF_8"));
  return lang == language::german ? german.get() : english.get();
}

// The words arrive folded ("maeuse"); Snowball's German stemmer wants the umlauts to
// fold plural and singular together ("Mäuse" -> "maus"), so give them back, as the
// german2 variant does (ae, oe, ue -> ä, ö, ü; not "ue" after "q").
std::string with_umlauts(std::string_view word) {
  std::string out;
  out.reserve(word.size() + 4);
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (i + 1 < word.size() && word[i + 1] == 'e' && i > 0) {
      const char c = word[i];
      if (c == 'a') {
        out += "\xc3\xa4";
        ++i;
        continue;
      }
      if (c == 'o') {
        out += "\xc3\xb6";
        ++i;
        continue;
      }
      if (c == 'u' && word[i - 1] != 'q') {
        out += "\xc3\xbc";
        ++i;
        continue;
      }
    }
    out += word[i];
  }
  return out;
}

}  // namespace

std::string stem(std::string_view folded_word, language lang) {
  // Numbers and very short words stay as they are.
  if (folded_word.size() < 3) return std::string(folded_word);
  sb_stemmer* s = stemmer_for(lang == language::auto_detect ? language::english : lang);
  if (s == nullptr) return std::string(folded_word);
  const std::string input = lang == language::german ? with_umlauts(folded_word) : std::string(folded_word);
  const sb_symbol* out =
      sb_stemmer_stem(s, reinterpret_cast<const sb_symbol*>(input.data()), static_cast<int>(input.size()));
  if (out == nullptr) return std::string(folded_word);
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(sb_stemmer_length(s)));
}

const compound_splitter* analyzer::compounds() const {
  return default_compounds_ ? default_compound_splitter() : compounds_;
}

std::vector<std::string> analyzer::document_terms(std::string_view text, language lang) const {
  if (lang == language::auto_detect) {
    lang = infra::llm::looks_german(text) ? language::german : language::english;
  }
  const compound_splitter* splitter = lang == language::german ? compounds() : nullptr;
  std::vector<std::string> out;
  for (auto& word : infra::llm::word_tokens(text)) {
    if (infra::llm::is_stop_word(word)) continue;
    out.push_back(stem(word, lang));
    if (splitter == nullptr) continue;
    for (const auto& part : splitter->split(word)) out.push_back(stem(part, language::german));
  }
  return out;
}

std::vector<std::string> analyzer::query_terms(std::string_view text) const {
  const compound_splitter* splitter = compounds();
  std::vector<std::string> out;
  for (auto& word : infra::llm::word_tokens(text)) {
    if (infra::llm::is_stop_word(word)) continue;
    std::string en = stem(word, language::english);
    std::string de = stem(word, language::german);
    if (de != en) out.push_back(std::move(de));
    out.push_back(std::move(en));
    if (splitter == nullptr) continue;
    for (const auto& part : splitter->split(word)) out.push_back(stem(part, language::german));
  }
  return out;
}

std::vector<std::string> analyzer::words(std::string_view text) const {
  return infra::llm::word_tokens(text);
}

}  // namespace wattos::streams::rag
