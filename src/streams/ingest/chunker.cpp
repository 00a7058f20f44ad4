#include "streams/ingest/chunker.hpp"

#include <algorithm>

#include "core/utf8.hpp"
#include "infra/llm/text.hpp"
#include "infra/llm/types.hpp"
#include "streams/ingest/parsers.hpp"

namespace wattos::streams::ingest {
namespace {

// A piece of a section that is never split further: a whole block, a sentence, or a
// run of words of an over-long sentence. Offsets are into the document text.
struct unit {
  std::size_t begin = 0;
  std::size_t end = 0;
  bool heading = false;
};

std::int64_t tokens_of(std::size_t bytes) {
  return static_cast<std::int64_t>((bytes + 3) / 4);
}

// Cuts [begin, end) of `text` into pieces of at most `max_bytes`, at white space where
// there is some, never inside a UTF-8 sequence.
void split_words(std::string_view text, std::size_t begin, std::size_t end, std::size_t max_bytes,
                 std::vector<unit>& out) {
  while (end - begin > max_bytes) {
    std::size_t cut = begin + max_bytes;
    std::size_t space = text.rfind(' ', cut);
    if (space != std::string_view::npos && space > begin + max_bytes / 2) {
      cut = space;
    } else {
      cut = begin + core::utf8_prefix(text.substr(begin), max_bytes).size();
      if (cut == begin) cut = begin + max_bytes;  // not UTF-8 at all: cut anywhere
    }
    out.push_back({begin, cut, false});
    begin = cut;
    while (begin < end && text[begin] == ' ') ++begin;
  }
  if (begin < end) out.push_back({begin, end, false});
}

// The units of one block at [begin, end): the block itself when it fits a chunk, else
// its sentences (and over-long sentences cut between words).
void block_units(std::string_view text, std::size_t begin, std::size_t end, bool heading, std::size_t max_bytes,
                 std::vector<unit>& out) {
  if (end - begin <= max_bytes) {
    out.push_back({begin, end, heading});
    return;
  }
  const std::string_view body = text.substr(begin, end - begin);
  const auto sentences = infra::llm::split_sentences(body);
  if (sentences.empty()) {
    split_words(text, begin, end, max_bytes, out);
    return;
  }
  for (const auto& s : sentences) {
    const std::size_t b = begin + s.begin;
    const std::size_t e = begin + s.end;
    if (e - b <= max_bytes) {
      out.push_back({b, e, false});
    } else {
      split_words(text, b, e, max_bytes, out);
    }
  }
}

std::string join_path(const std::vector<std::string>& stack) {
  std::string out;
  for (const auto& h : stack) {
    if (h.empty()) continue;
    if (!out.empty()) out += " > ";
    out += h;
  }
  return out;
}

class chunk_builder {
 public:
  chunk_builder(std::string_view text, const chunk_settings& settings, std::vector<rag::chunk_input>& out)
      : text_(text),
        target_(std::max<std::int64_t>(1, settings.target_tokens)),
        overlap_(std::clamp<std::int64_t>(settings.overlap_tokens, 0, target_ - 1)),
        out_(out) {}

  // Packs one section's units greedily into chunks, carrying the overlap.
  void emit_section(const std::vector<unit>& units, int page, const std::string& heading_path) {
    std::size_t first = 0;
    while (first < units.size()) {
      std::size_t last = first;  // inclusive
      while (last + 1 < units.size() && tokens_of(units[last + 1].end - units[first].begin) <= target_) {
        ++last;
      }
      rag::chunk_input c;
      c.char_start = static_cast<std::int64_t>(units[first].begin);
      c.char_end = static_cast<std::int64_t>(units[last].end);
      c.text = std::string(text_.substr(units[first].begin, units[last].end - units[first].begin));
      c.page = page;
      c.heading_path = heading_path;
      out_.push_back(std::move(c));
      if (last + 1 >= units.size()) break;
      // The next chunk starts with the last whole units of this one that fit the
      // overlap, but always after this chunk's first unit, so every chunk moves on.
      std::size_t next = last + 1;
      while (next - 1 > first && tokens_of(units[last].end - units[next - 1].begin) <= overlap_) --next;
      first = next;
    }
  }

  std::size_t max_unit_bytes() const { return static_cast<std::size_t>(target_) * 4; }

 private:
  std::string_view text_;
  std::int64_t target_;
  std::int64_t overlap_;
  std::vector<rag::chunk_input>& out_;
};

}  // namespace

std::vector<rag::chunk_input> chunk_document(const parsed_document& doc, const chunk_settings& settings) {
  std::vector<rag::chunk_input> out;
  const std::string text = document_text(doc);
  chunk_builder builder(text, settings, out);

  std::vector<std::string> headings;  // heading text per level (index level-1)
  std::vector<unit> section;
  bool section_has_body = false;
  int section_page = 0;
  std::string section_path;
  auto flush = [&] {
    if (!section.empty()) builder.emit_section(section, section_page, section_path);
    section.clear();
    section_has_body = false;
  };

  std::size_t offset = 0;
  for (std::size_t i = 0; i < doc.blocks.size(); ++i) {
    const block& b = doc.blocks[i];
    const std::size_t begin = offset;
    const std::size_t end = begin + b.text.size();
    offset = end + 2;  // the "\n\n" between blocks
    if (b.text.empty()) continue;
    const bool is_heading = b.kind == block_kind::heading;
    // A new section at a heading (unless the section so far holds only headings) and
    // at a page change.
    if ((is_heading && section_has_body) || (!section.empty() && b.page != section_page)) flush();
    if (is_heading) {
      const std::size_t level = static_cast<std::size_t>(std::clamp(b.level, 1, 6));
      headings.resize(level - 1);
      headings.push_back(b.text);
    }
    if (section.empty()) section_page = b.page;
    section_path = join_path(headings);
    block_units(text, begin, end, is_heading, builder.max_unit_bytes(), section);
    if (!is_heading) section_has_body = true;
  }
  flush();
  return out;
}

}  // namespace wattos::streams::ingest
