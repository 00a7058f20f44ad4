// File: streams/ingest/parser_internal.hpp
//
// Private helpers shared by the format parsers (streams/ingest/*.cpp): the block sink
// that keeps the text limits, text normalisation (whitespace, charsets, hyphenated line
// breaks) and the entry points of the individual parsers. Not for use outside ingest/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "streams/ingest/parsed_document.hpp"

namespace wattos::streams::ingest::detail {

// Appends blocks to a document while keeping max_text_bytes and max_blocks. Every text
// passes through here, so every block's text is valid, whitespace-collapsed UTF-8.
class block_sink {
 public:
  block_sink(parsed_document& doc, const parse_limits& limits) : doc_(doc), limits_(limits) {}

  // Collapses whitespace and skips the block when nothing is left.
  core::status add(block_kind kind, std::string_view text, int page, int level = 0);
  // Code keeps its line breaks (only trailing blank lines go).
  core::status add_code(std::string_view text, int page);

  parsed_document& doc() { return doc_; }
  const parse_limits& limits() const { return limits_; }

 private:
  core::status push(block b);

  parsed_document& doc_;
  const parse_limits& limits_;
  std::uint64_t text_bytes_ = 0;
};

// Whitespace runs (including U+00A0 and U+200B) become one space; ends are trimmed;
// invalid UTF-8 becomes U+FFFD.
std::string collapse_whitespace(std::string_view text);

// Text of unknown charset: kept as is when valid UTF-8, else read as Windows-1252 (a
// superset of Latin-1 for the printable range, the usual charset of old German files).
std::string to_utf8_text(std::string_view bytes);

// Bytes in a named charset (MIME or HTML label; case-insensitive) to UTF-8. Unknown
// charsets are treated like to_utf8_text.
std::string charset_to_utf8(std::string_view bytes, std::string_view charset);

// Appends UTF-8 of one code point (invalid ones become U+FFFD).
void append_utf8(std::string& out, std::uint32_t code_point);

// How plain text is split into paragraphs.
struct text_split {
  // Besides blank lines, a short line (well under the longest line around it) ends a
  // paragraph: the last line of a paragraph in a PDF rarely fills the column.
  bool short_lines_end_paragraphs = false;
};

// Splits text into paragraph blocks (at blank lines and as text_split says), joining the
// lines of a paragraph with spaces and hyphenated line breaks ("Ver-\nfassung") into one
// word.
core::status text_to_blocks(std::string_view text, block_sink& sink, int page, text_split split = {});

// ASCII lower case copy.
std::string lower_ascii(std::string_view text);
bool starts_with_ci(std::string_view text, std::string_view prefix);

// The parsers. `depth` counts e-mail attachments inside attachments.
core::result<parsed_document> parse_at_depth(std::string_view bytes, const parse_limits& limits, int depth);
core::result<parsed_document> parse_pdf(std::string_view bytes, const parse_limits& limits);
core::result<parsed_document> parse_office(std::string_view bytes, const std::string& format,
                                           const parse_limits& limits);
core::result<parsed_document> parse_html(std::string_view bytes, const parse_limits& limits);
core::result<parsed_document> parse_markdown(std::string_view bytes, const parse_limits& limits);
core::result<parsed_document> parse_text(std::string_view bytes, const parse_limits& limits);
core::result<parsed_document> parse_csv(std::string_view bytes, const parse_limits& limits);
core::result<parsed_document> parse_json(std::string_view bytes, const parse_limits& limits);
core::result<parsed_document> parse_email(std::string_view bytes, const parse_limits& limits, int depth);
core::result<parsed_document> parse_image(std::string_view bytes, const parse_limits& limits);

// HTML already in UTF-8 into `sink` (the e-mail parser uses it for HTML bodies). Sets
// *title from <title> when title is not null.
core::status html_to_blocks(std::string_view html, block_sink& sink, int page, std::string* title);

// Detection helpers (detect.cpp).
// The format inside a ZIP container: docx, pptx, xlsx, odt, or empty when none of ours;
// invalid_argument when the container cannot be opened.
core::result<std::string> zip_container_format(std::string_view bytes);
// Valid UTF-8 with no control bytes but tab, line feed, form feed and carriage return.
bool is_plain_text(std::string_view text);
bool looks_like_email(std::string_view text);
bool looks_like_markdown(std::string_view text);
bool looks_like_csv(std::string_view text);
bool looks_like_json(std::string_view text);

// OCR (ocr.cpp). Gray or colour pixels, row by row; returns the recognised UTF-8 text.
// Fails with unavailable when tesseract or its languages cannot be loaded.
core::result<std::string> ocr_pixels(const unsigned char* pixels, int width, int height, int bytes_per_pixel,
                                     int bytes_per_line, int dpi, const parse_limits& limits);
// Largest image OCR accepts, in pixels (decompression bombs, huge PDF pages).
inline constexpr std::int64_t max_ocr_pixels = 60'000'000;

}  // namespace wattos::streams::ingest::detail
