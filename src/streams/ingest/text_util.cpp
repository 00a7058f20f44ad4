#include <algorithm>
#include <array>
#include <vector>

#include "core/utf8.hpp"
#include "streams/ingest/parser_internal.hpp"

namespace wattos::streams::ingest::detail {

namespace {

// Windows-1252 0x80..0x9F; the undefined five map to U+FFFD.
constexpr std::array<std::uint16_t, 32> cp1252_high = {0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                                       0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
                                                       0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                                       0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};

std::string single_byte_to_utf8(std::string_view bytes, bool windows_1252, bool latin9) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 8);
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    std::uint32_t cp = c;
    if (c >= 0x80 && c < 0xA0 && windows_1252) cp = cp1252_high[c - 0x80];
    if (latin9) {
      switch (c) {
        case 0xA4:
          cp = 0x20AC;
          break;
        case 0xA6:
          cp = 0x0160;
          break;
        case 0xA8:
          cp = 0x0161;
          break;
        case 0xB4:
          cp = 0x017D;
          break;
        case 0xB8:
          cp = 0x017E;
          break;
        case 0xBC:
          cp = 0x0152;
          break;
        case 0xBD:
          cp = 0x0153;
          break;
        case 0xBE:
          cp = 0x0178;
          break;
        default:
          break;
      }
    }
    append_utf8(out, cp);
  }
  return out;
}

// Length of a UTF-8 whitespace character at the start of text (ASCII space and
// controls, NBSP, the U+2000 spaces, zero-width space, BOM), or 0.
std::size_t space_length(std::string_view text) {
  auto c = static_cast<unsigned char>(text[0]);
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') return 1;
  if (c < 0x20) return 1;  // other controls count as space: they carry no text
  if (c == 0xC2 && text.size() >= 2 && static_cast<unsigned char>(text[1]) == 0xA0) return 2;
  if (c == 0xE2 && text.size() >= 3) {
    auto b1 = static_cast<unsigned char>(text[1]);
    auto b2 = static_cast<unsigned char>(text[2]);
    if (b1 == 0x80 && (b2 <= 0x8B || b2 == 0xA8 || b2 == 0xA9 || b2 == 0xAF)) return 3;
    if (b1 == 0x81 && b2 == 0x9F) return 3;
  }
  if (c == 0xEF && text.size() >= 3 && static_cast<unsigned char>(text[1]) == 0xBB &&
      static_cast<unsigned char>(text[2]) == 0xBF)
    return 3;
  return 0;
}

bool is_ascii_lower_or_umlaut(std::string_view word) {
  if (word.empty()) return false;
  auto c = static_cast<unsigned char>(word[0]);
  if (c >= 'a' && c <= 'z') return true;
  // ä ö ü ß (C3 A4, C3 B6, C3 BC, C3 9F) start lower-case German continuations.
  if (c == 0xC3 && word.size() >= 2) {
    auto d = static_cast<unsigned char>(word[1]);
    return d == 0xA4 || d == 0xB6 || d == 0xBC || d == 0x9F;
  }
  return false;
}

bool is_letter_byte(char ch) {
  auto c = static_cast<unsigned char>(ch);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\f'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\f'))
    s.remove_suffix(1);
  return s;
}

// Number of code points, for comparing line lengths.
std::size_t display_length(std::string_view s) {
  std::size_t n = 0;
  for (char ch : s)
    if ((static_cast<unsigned char>(ch) & 0xC0) != 0x80) ++n;
  return n;
}

}  // namespace

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  return lower_ascii(text.substr(0, prefix.size())) == lower_ascii(prefix);
}

std::string to_utf8_text(std::string_view bytes) {
  // A UTF-8 byte order mark says nothing the text does not.
  if (bytes.size() >= 3 && bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
  if (core::is_valid_utf8(bytes)) return std::string(bytes);
  return single_byte_to_utf8(bytes, true, false);
}

std::string charset_to_utf8(std::string_view bytes, std::string_view charset) {
  std::string cs = lower_ascii(trim(charset));
  if (cs.size() >= 2 && cs.front() == '"' && cs.back() == '"') cs = cs.substr(1, cs.size() - 2);
  if (cs == "utf-8" || cs == "utf8" || cs == "us-ascii" || cs == "ascii") return core::to_valid_utf8(bytes);
  // Mail user agents label Windows-1252 text as ISO-8859-1 so often that the HTML
  // standard maps the one to the other; doing the same costs nothing for real Latin-1.
  if (cs == "iso-8859-1" || cs == "latin1" || cs == "latin-1" || cs == "iso_8859-1" || cs == "windows-1252" ||
      cs == "cp1252" || cs == "x-cp1252")
    return single_byte_to_utf8(bytes, true, false);
  if (cs == "iso-8859-15" || cs == "latin9" || cs == "latin-9") return single_byte_to_utf8(bytes, false, true);
  return to_utf8_text(bytes);
}

std::string collapse_whitespace(std::string_view text) {
  std::string valid;
  if (!core::is_valid_utf8(text)) {
    valid = core::to_valid_utf8(text);
    text = valid;
  }
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t n = space_length(text.substr(i));
    if (n > 0) {
      pending_space = !out.empty();
      i += n;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(text[i]);
    ++i;
  }
  return out;
}

core::status block_sink::push(block b) {
  if (doc_.blocks.size() >= limits_.max_blocks)
    return core::error::payload_too_large("the document has more than " + std::to_string(limits_.max_blocks) +
                                          " blocks");
  text_bytes_ += b.text.size() + 2;  // + the "\n\n" that joins blocks in document_text
  if (text_bytes_ > limits_.max_text_bytes)
    return core::error::payload_too_large("the extracted text is over " + std::to_string(limits_.max_text_bytes) +
                                          " bytes");
  doc_.blocks.push_back(std::move(b));
  return {};
}

core::status block_sink::add(block_kind kind, std::string_view text, int page, int level) {
  std::string clean = collapse_whitespace(text);
  if (clean.empty()) return {};
  block b;
  b.kind = kind;
  b.level = kind == block_kind::heading ? std::clamp(level, 1, 6) : 0;
  b.text = std::move(clean);
  b.page = page;
  if (kind == block_kind::heading && doc_.title.empty() && b.level == 1) doc_.title = b.text;
  return push(std::move(b));
}

core::status block_sink::add_code(std::string_view text, int page) {
  std::string clean = core::to_valid_utf8(text);
  std::erase(clean, '\r');
  while (!clean.empty() && (clean.back() == '\n' || clean.back() == ' ' || clean.back() == '\t')) clean.pop_back();
  // Leading blank lines go too ("<pre>\n    <code>\n..." indents its first line).
  std::size_t start = 0;
  for (std::size_t i = 0; i < clean.size(); ++i) {
    if (clean[i] == '\n')
      start = i + 1;
    else if (clean[i] != ' ' && clean[i] != '\t')
      break;
  }
  clean.erase(0, start);
  if (clean.empty()) return {};
  block b;
  b.kind = block_kind::code;
  b.text = std::move(clean);
  b.page = page;
  return push(std::move(b));
}

core::status text_to_blocks(std::string_view text, block_sink& sink, int page, text_split split) {
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    // A form feed separates pages in pdftotext-like output: a paragraph break too.
    std::string_view line = text.substr(pos, end - pos);
    std::size_t ff;
    while ((ff = line.find('\f')) != std::string_view::npos) {
      lines.push_back(trim(line.substr(0, ff)));
      lines.push_back({});
      line = line.substr(ff + 1);
    }
    lines.push_back(trim(line));
    pos = end + 1;
  }

  std::size_t longest = 0;
  if (split.short_lines_end_paragraphs)
    for (auto line : lines) longest = std::max(longest, display_length(line));
  auto is_short = [&](std::string_view line) {
    return split.short_lines_end_paragraphs && longest >= 40 && display_length(line) * 10 < longest * 6;
  };

  std::string paragraph;
  auto flush = [&]() -> core::status {
    core::status s = sink.add(block_kind::paragraph, paragraph, page);
    paragraph.clear();
    return s;
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.empty()) {
      WATTOS_RETURN_IF_ERROR(flush());
      continue;
    }
    // A short line after one that ended a sentence or a label is a heading-like line of
    // its own ("Präambel" after "... veröffentlicht:").
    if (!paragraph.empty() && is_short(line) && (paragraph.back() == ':' || paragraph.back() == '.'))
      WATTOS_RETURN_IF_ERROR(flush());
    if (paragraph.empty()) {
      paragraph.assign(line);
    } else if (paragraph.size() >= 2 && paragraph.back() == '-' && is_letter_byte(paragraph[paragraph.size() - 2]) &&
               is_ascii_lower_or_umlaut(line)) {
      paragraph.pop_back();  // "Ver-" + "fassung"
      paragraph.append(line);
    } else {
      paragraph.push_back(' ');
      paragraph.append(line);
    }
    if (paragraph.size() > (1u << 20)) WATTOS_RETURN_IF_ERROR(flush());  // a "paragraph" of a MiB is no paragraph
    if (is_short(line)) WATTOS_RETURN_IF_ERROR(flush());
  }
  return flush();
}

}  // namespace wattos::streams::ingest::detail
