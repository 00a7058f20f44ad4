// File: streams/rag/compounds.hpp
//
// German compound splitting for lexical retrieval: "Kündigungsfristen" is indexed and
// queried as itself and as its parts "Kündigung" and "Fristen", so a question about
// the "Frist der Kündigung" finds the compound and the other way round. Dictionary
// based, as Lucene's DictionaryCompoundWordTokenFilter: a split is taken when the
// last part (the head, which carries the inflection) and the part before it are
// words of the dictionary, allowing the linking elements of German compounds
// (Kündigung-s-frist, Tag-es-zeit, Sonne-n-schein, Kind-er-garten) and a dropped
// final -e (Miet(e)-vertrag); the part before may itself be split once more.
// Words are folded as the analyzer folds them (lower case, ä -> ae, ß -> ss).
//
// Splitting where it helps, not everywhere: words under 8 letters and parts under 4
// are left alone, the longest head wins, and a word the dictionary knows as a whole
// ("Verbraucher") is split only when the split is marked by a linking element or both
// parts have at least 5 letters: so "verb" + "raucher" does not happen.
//
// The dictionary is a word list, one word per line (Debian's wngerman:
// /usr/share/dict/ngerman, 356,000 forms; ~10 MB in memory, loaded on first use).
//
// Thread safety: immutable after construction.
//
// Example:
//   auto splitter = rag::compound_splitter::from_word_list("/usr/share/dict/ngerman");
//   splitter->split("kuendigungsfristen");  // {"kuendigung", "fristen"}
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace wattos::streams::rag {

class compound_splitter {
 public:
  static core::result<std::unique_ptr<compound_splitter>> from_word_list(const std::string& path);
  // From words given directly (tests); they are folded like the word list's.
  static std::unique_ptr<compound_splitter> from_words(const std::vector<std::string>& words);

  // The parts of a folded word, modifier(s) first, head last; empty when it is not split.
  std::vector<std::string> split(std::string_view folded_word) const;
  bool contains(std::string_view folded_word) const;
  std::size_t size() const noexcept { return words_.size(); }

 private:
  compound_splitter() = default;
  void add_word(std::string_view entry);  // folded; kept when it is one word
  void finish();
  // A modifier (the part before the head): the word, or a word plus a linking element
  // or minus its dropped -e; `marked` tells whether such a change was needed.
  bool modifier_word(std::string_view part, std::string& base, bool& marked) const;
  bool split_into(std::string_view word, int depth, std::vector<std::string>& parts) const;

  std::string text_;                     // the folded words, each followed by '\n'
  std::vector<std::string_view> words_;  // sorted views into text_
};

// The process-wide splitter the analyzer uses: by default Debian's German word list,
// when installed; `configure_compound_dictionary` (before the first analysis) chooses
// another file, or none with an empty path.
void configure_compound_dictionary(std::string path);
const compound_splitter* default_compound_splitter();

}  // namespace wattos::streams::rag
