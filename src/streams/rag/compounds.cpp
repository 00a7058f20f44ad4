#include "streams/rag/compounds.hpp"

#include <algorithm>
#include <fstream>
#include <mutex>

#include "core/log.hpp"
#include "infra/llm/text.hpp"

namespace wattos::streams::rag {
namespace {

constexpr std::size_t min_compound = 8;  // letters (bytes of the folded word)
constexpr std::size_t min_part = 4;
constexpr std::size_t unmarked_min_part = 5;  // for words the dictionary knows whole
constexpr std::size_t max_word = 64;          // longer "words" are not natural language

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

core::result<std::unique_ptr<compound_splitter>> compound_splitter::from_word_list(const std::string& path) {
  std::ifstream in(path);
  if (!in) return core::error::not_found("compound dictionary " + path + " cannot be read");
  std::unique_ptr<compound_splitter> out(new compound_splitter());
  std::string line;
  while (std::getline(in, line)) out->add_word(line);
  out->finish();
  return out;
}

std::unique_ptr<compound_splitter> compound_splitter::from_words(const std::vector<std::string>& words) {
  std::unique_ptr<compound_splitter> out(new compound_splitter());
  for (const auto& w : words) out->add_word(w);
  out->finish();
  return out;
}

void compound_splitter::add_word(std::string_view entry) {
  // Entries with a hyphen or an apostrophe are several words or abbreviations.
  const auto folded = infra::llm::word_tokens(entry);
  if (folded.size() != 1) return;
  const std::string& word = folded.front();
  if (word.size() < min_part - 1 || word.size() > max_word) return;
  text_.append(word);
  text_.push_back('\n');
}

void compound_splitter::finish() {
  // Views are taken once the text stops growing.
  std::size_t start = 0;
  while (start < text_.size()) {
    const std::size_t end = text_.find('\n', start);
    words_.emplace_back(text_.data() + start, end - start);
    start = end + 1;
  }
  std::sort(words_.begin(), words_.end());
  words_.erase(std::unique(words_.begin(), words_.end()), words_.end());
  words_.shrink_to_fit();
}

bool compound_splitter::contains(std::string_view folded_word) const {
  return std::binary_search(words_.begin(), words_.end(), folded_word);
}

bool compound_splitter::modifier_word(std::string_view part, std::string& base, bool& marked) const {
  if (contains(part)) {
    base = part;
    marked = false;
    return true;
  }
  marked = true;
  // Linking elements: Arbeit-s-, Tag-es-, Sonne-n-, Held-en-, Kind-er-, Hund-e-.
  for (std::string_view link : {"es", "s", "en", "n", "er", "e"}) {
    if (!ends_with(part, link)) continue;
    const auto stripped = part.substr(0, part.size() - link.size());
    if (stripped.size() >= min_part - 1 && contains(stripped)) {
      base = stripped;
      return true;
    }
  }
  // A dropped final -e: Schul(e)-, Miet(e)-, Sprach(e)-.
  std::string with_e(part);
  with_e.push_back('e');
  if (contains(with_e)) {
    base = std::move(with_e);
    return true;
  }
  return false;
}

bool compound_splitter::split_into(std::string_view word, int depth, std::vector<std::string>& parts) const {
  if (word.size() < min_compound || word.size() > max_word) return false;
  const bool known_whole = contains(word);
  // The longest head first: the head is the last part and the one that inflects.
  for (std::size_t head_size = word.size() - min_part; head_size >= min_part; --head_size) {
    const auto head = word.substr(word.size() - head_size);
    if (!contains(head)) continue;
    const auto modifier = word.substr(0, word.size() - head_size);
    std::string base;
    bool marked = false;
    if (modifier_word(modifier, base, marked)) {
      if (known_whole && !marked && (modifier.size() < unmarked_min_part || head.size() < unmarked_min_part)) continue;
      parts.push_back(std::move(base));
      parts.emplace_back(head);
      return true;
    }
    if (depth == 0) {
      std::vector<std::string> inner;
      if (split_into(modifier, depth + 1, inner)) {
        parts.insert(parts.end(), inner.begin(), inner.end());
        parts.emplace_back(head);
        return true;
      }
    }
  }
  return false;
}

std::vector<std::string> compound_splitter::split(std::string_view folded_word) const {
  std::vector<std::string> parts;  // split_into adds parts only when it splits
  split_into(folded_word, 0, parts);
  return parts;
}

namespace {
std::mutex dictionary_mutex;
std::string dictionary_path = "/usr/share/dict/ngerman";  // Debian's wngerman
}  // namespace

void configure_compound_dictionary(std::string path) {
  std::lock_guard lock(dictionary_mutex);
  dictionary_path = std::move(path);
}

const compound_splitter* default_compound_splitter() {
  static const std::unique_ptr<compound_splitter> splitter = []() -> std::unique_ptr<compound_splitter> {
    std::string path;
    {
      std::lock_guard lock(dictionary_mutex);
      path = dictionary_path;
    }
    if (path.empty()) return nullptr;
    auto loaded = compound_splitter::from_word_list(path);
    if (!loaded) {
      core::log_warn("German compounds are not split", {{"error", loaded.err().message()}});
      return nullptr;
    }
    return std::move(*loaded);
  }();
  return splitter.get();
}

}  // namespace wattos::streams::rag
