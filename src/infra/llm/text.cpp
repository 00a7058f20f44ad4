#include "infra/llm/text.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <unordered_set>

namespace wattos::infra::llm {
namespace {

bool is_ascii_alnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Folding of U+00C0..U+00FF (index = code point - 0xC0); empty = not a letter (× and ÷).
constexpr std::array<std::string_view, 64> latin1_fold = {
    "a", "a", "a", "a", "ae", "a", "ae", "c", "e", "e", "e", "e", "i",  "i", "i",  "i",   // C0..CF
    "d", "n", "o", "o", "o",  "o", "oe", "",  "o", "u", "u", "u", "ue", "y", "th", "ss",  // D0..DF
    "a", "a", "a", "a", "ae", "a", "ae", "c", "e", "e", "e", "e", "i",  "i", "i",  "i",   // E0..EF
    "d", "n", "o", "o", "o",  "o", "oe", "",  "o", "u", "u", "u", "ue", "y", "th", "y",   // F0..FF
};

// Decodes one UTF-8 sequence at `i`; returns its length (0 when malformed).
std::size_t decode_utf8(std::string_view s, std::size_t i, char32_t& cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  return len;
}

// Non-ASCII code points that separate words: Latin-1 punctuation and symbols, general
// punctuation (dashes, typographic quotes, …), currency, arrows/math/technical symbols,
// CJK punctuation, the BOM and emoji. Everything else non-ASCII counts as a letter.
bool is_non_ascii_separator(char32_t cp) {
  return (cp >= 0x80 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 || (cp >= 0x2000 && cp <= 0x2BFF) ||
         (cp >= 0x3000 && cp <= 0x303F) || cp == 0xFEFF || (cp >= 0xFE30 && cp <= 0xFE4F) || cp >= 0x1F000;
}

// Function words, already folded. German and English are kept apart for looks_german.
constexpr std::string_view german_stop_list[] = {
    "aber",   "alle",   "allem",    "allen",   "aller",   "alles",   "als",      "also",   "am",       "an",
    "ander",  "andere", "anderen",  "auch",    "auf",     "aus",     "bei",      "beim",   "bin",      "bis",
    "bist",   "da",     "dabei",    "dadurch", "dafuer",  "damit",   "dann",     "darf",   "darueber", "darum",
    "das",    "dass",   "dein",     "deine",   "dem",     "den",     "denn",     "der",    "des",      "deshalb",
    "dessen", "die",    "dies",     "diese",   "diesem",  "diesen",  "dieser",   "dieses", "doch",     "dort",
    "du",     "durch",  "ein",      "eine",    "einem",   "einen",   "einer",    "eines",  "er",       "es",
    "etwa",   "etwas",  "euch",     "euer",    "fuer",    "gegen",   "hat",      "hatte",  "hatten",   "haben",
    "hier",   "ich",    "ihm",      "ihn",     "ihnen",   "ihr",     "ihre",     "ihrem",  "ihren",    "ihrer",
    "im",     "in",     "ins",      "ist",     "ja",      "jede",    "jedem",    "jeden",  "jeder",    "jedes",
    "jetzt",  "kann",   "kein",     "keine",   "keinen",  "koennen", "man",      "mein",   "meine",    "mich",
    "mir",    "mit",    "muss",     "nach",    "nein",    "nicht",   "nichts",   "noch",   "nun",      "nur",
    "ob",     "oder",   "ohne",     "schon",   "sehr",    "sein",    "seine",    "seinem", "seinen",   "seiner",
    "sich",   "sie",    "sind",     "so",      "soll",    "sollen",  "sondern",  "um",     "und",      "uns",
    "unser",  "unter",  "viel",     "vom",     "von",     "vor",     "waehrend", "war",    "waren",    "warum",
    "was",    "weil",   "welche",   "welchem", "welchen", "welcher", "welches",  "wenn",   "wer",      "werde",
    "werden", "wie",    "wieder",   "wir",     "wird",    "wo",      "wurde",    "wurden", "zu",       "zum",
    "zur",    "zwar",   "zwischen", "ueber",   "wann",    "wieso",   "weshalb",  "gibt",   "habe",     "hast",
};

constexpr std::string_view english_stop_list[] = {
    "a",     "about",    "above", "after",  "again",   "against", "all",     "also",    "am",    "an",     "and",
    "any",   "are",      "as",    "at",     "be",      "because", "been",    "before",  "being", "below",  "between",
    "both",  "but",      "by",    "can",    "could",   "did",     "do",      "does",    "doing", "down",   "during",
    "each",  "either",   "else",  "few",    "for",     "from",    "further", "had",     "has",   "have",   "having",
    "he",    "her",      "here",  "hers",   "herself", "him",     "himself", "his",     "how",   "i",      "if",
    "in",    "into",     "is",    "it",     "its",     "itself",  "just",    "may",     "me",    "might",  "more",
    "most",  "must",     "my",    "myself", "no",      "nor",     "not",     "now",     "of",    "off",    "on",
    "once",  "only",     "or",    "other",  "our",     "ours",    "out",     "over",    "own",   "same",   "shall",
    "she",   "should",   "so",    "some",   "such",    "than",    "that",    "the",     "their", "theirs", "them",
    "then",  "there",    "these", "they",   "this",    "those",   "through", "to",      "too",   "under",  "until",
    "up",    "upon",     "very",  "was",    "we",      "were",    "what",    "when",    "where", "which",  "while",
    "who",   "whom",     "whose", "why",    "will",    "with",    "within",  "without", "would", "you",    "your",
    "yours", "yourself", "s",     "t",      "don",     "doesn",   "isn",     "aren",
};

const std::unordered_set<std::string_view>& german_stop_words() {
  static const std::unordered_set<std::string_view> set(std::begin(german_stop_list), std::end(german_stop_list));
  return set;
}

const std::unordered_set<std::string_view>& english_stop_words() {
  static const std::unordered_set<std::string_view> set(std::begin(english_stop_list), std::end(english_stop_list));
  return set;
}

std::size_t utf8_length(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// Lower-cased abbreviations (without the final dot) after which a '.' does not end a sentence.
constexpr std::string_view abbreviations[] = {
    "z.b", "d.h",  "usw",  "bzw",  "nr",  "dr",   "e.g", "i.e", "etc", "vs",  "mr",  "mrs", "ms",  "ca", "u.a", "ggf",
    "vgl", "inkl", "evtl", "bspw", "abs", "prof", "str", "st",  "s.o", "s.u", "o.g", "u.u", "z.t", "jr", "sr",  "fig",
};

bool is_abbreviation(std::string_view word) {
  // Leading brackets or quotes belong to the surrounding text, not the word.
  while (!word.empty() && !is_ascii_alnum(static_cast<unsigned char>(word.front()))) word.remove_prefix(1);
  if (word.empty()) return false;
  std::string lower(word);
  for (auto& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (std::find(std::begin(abbreviations), std::end(abbreviations), lower) != std::end(abbreviations)) return true;
  // A single-letter initial ("J. Smith", "z. B.").
  if (utf8_length(lower) == 1) return true;
  // An ordinal or list number: "3.", "12. März".
  return lower.size() <= 3 && std::all_of(lower.begin(), lower.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_closing(char c) {
  return c == '"' || c == '\'' || c == ')' || c == ']';
}

}  // namespace

std::vector<std::string> word_tokens(std::string_view text) {
  std::vector<std::string> words;
  std::string current;
  auto flush = [&] {
    if (!current.empty()) words.push_back(std::move(current));
    current.clear();
  };
  std::size_t i = 0;
  while (i < text.size()) {
    char32_t cp = 0;
    const std::size_t len = decode_utf8(text, i, cp);
    if (len == 0) {  // malformed byte: a separator
      flush();
      ++i;
      continue;
    }
    if (len == 1) {
      const auto c = static_cast<unsigned char>(cp);
      if (is_ascii_alnum(c)) {
        current.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
      } else {
        flush();
      }
    } else if (cp >= 0xC0 && cp <= 0xFF) {
      const std::string_view folded = latin1_fold[cp - 0xC0];
      if (folded.empty()) {
        flush();
      } else {
        current.append(folded);
      }
    } else if (cp == 0x1E9E) {  // capital sharp s
      current.append("ss");
    } else if (is_non_ascii_separator(cp)) {
      flush();
    } else {
      current.append(text.substr(i, len));
    }
    i += len;
  }
  flush();
  return words;
}

bool is_stop_word(std::string_view folded_word) {
  return german_stop_words().count(folded_word) > 0 || english_stop_words().count(folded_word) > 0;
}

std::string light_stem(std::string_view folded_word) {
  // Longest first, so "wohnungen" loses "ungen" rather than just "n".
  static constexpr std::string_view suffixes[] = {"ungen", "ing", "ung", "ern", "ly", "ed",
                                                  "es",    "en",  "er",  "e",   "n",  "s"};
  constexpr std::size_t min_stem = 3;
  const std::size_t chars = utf8_length(folded_word);
  for (auto suffix : suffixes) {
    if (folded_word.size() > suffix.size() && folded_word.ends_with(suffix) && chars - suffix.size() >= min_stem) {
      return std::string(folded_word.substr(0, folded_word.size() - suffix.size()));
    }
  }
  return std::string(folded_word);
}

std::vector<sentence_span> split_sentences(std::string_view text) {
  std::vector<sentence_span> spans;
  auto emit = [&](std::size_t begin, std::size_t end) {
    while (begin < end && is_space(static_cast<unsigned char>(text[begin]))) ++begin;
    while (end > begin && is_space(static_cast<unsigned char>(text[end - 1]))) --end;
    if (begin < end) spans.push_back({begin, end});
  };
  std::size_t start = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n') {
      // A blank line (only white space between two line breaks) ends a paragraph.
      std::size_t j = i + 1;
      while (j < text.size() && text[j] != '\n' && is_space(static_cast<unsigned char>(text[j]))) ++j;
      if (j < text.size() && text[j] == '\n') {
        emit(start, i);
        while (j < text.size() && is_space(static_cast<unsigned char>(text[j]))) ++j;
        start = i = j;
        continue;
      }
      ++i;
      continue;
    }
    if (c != '.' && c != '!' && c != '?') {
      ++i;
      continue;
    }
    // The whole run of terminal punctuation and closing quotes belongs to the sentence.
    std::size_t end = i;
    while (end < text.size() && (text[end] == '.' || text[end] == '!' || text[end] == '?')) ++end;
    while (end < text.size() && is_closing(text[end])) ++end;
    // Typographic closing quotes (” “ ’ ») are multi-byte.
    while (end + 1 < text.size()) {
      const std::string_view rest = text.substr(end);
      if (rest.starts_with("\xE2\x80\x9D") || rest.starts_with("\xE2\x80\x9C") || rest.starts_with("\xE2\x80\x99")) {
        end += 3;
      } else if (rest.starts_with("\xC2\xBB")) {
        end += 2;
      } else {
        break;
      }
    }
    if (end < text.size() && !is_space(static_cast<unsigned char>(text[end]))) {
      i = end;
      continue;
    }
    if (c == '.' && end == i + 1) {
      // A single '.' after an abbreviation, an initial or an ordinal does not end the sentence.
      std::size_t w = i;
      while (w > start && !is_space(static_cast<unsigned char>(text[w - 1]))) --w;
      if (is_abbreviation(text.substr(w, i - w))) {
        i = end;
        continue;
      }
    }
    emit(start, end);
    start = i = end;
  }
  emit(start, text.size());
  return spans;
}

bool looks_german(std::string_view text) {
  // German umlauts and ß in either case (UTF-8 C3 84/96/9C/A4/B6/BC/9F).
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    if (static_cast<unsigned char>(text[i]) != 0xC3) continue;
    switch (static_cast<unsigned char>(text[i + 1])) {
      case 0x84:
      case 0x96:
      case 0x9C:
      case 0xA4:
      case 0xB6:
      case 0xBC:
      case 0x9F:
        return true;
      default:
        break;
    }
  }
  int german = 0;
  int english = 0;
  for (const auto& w : word_tokens(text)) {
    if (german_stop_words().count(w) > 0) ++german;
    if (english_stop_words().count(w) > 0) ++english;
  }
  return german > english;
}

}  // namespace wattos::infra::llm
