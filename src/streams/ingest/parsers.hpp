// File: streams/ingest/parsers.hpp
//
// Document parsers, chosen by content (libmagic, plus a look inside ZIP containers to
// tell DOCX, PPTX, XLSX and ODT apart), never by file name:
//   pdf   poppler: text per page, title, author, creation date; pages without a text
//         layer are rendered and OCRed (tesseract); encrypted PDFs fail clearly
//   docx, pptx, xlsx, odt   libzip + pugixml: headings, paragraphs, lists, tables,
//         slides (one page each), sheets (one page each, rows as table rows)
//   html  gumbo: title, headings and main text; script, style, nav, header, footer,
//         aside and forms are left out
//   md    headings (ATX and setext), paragraphs, list items, code blocks
//   txt, csv (rows as table rows, header row kept), json (path: value lines)
//   eml   RFC 5322 headers (subject as title, from, to, date), text or HTML body
//         (quoted-printable, base64, charsets), attachments parsed recursively
//   image PNG, JPEG, TIFF, ...: OCR
//
// Errors (all values, nothing thrown):
//   unsupported_media    a format we do not read (the message names what was found)
//   invalid_argument     corrupt or truncated content
//   failed_precondition  an encrypted (password-protected) document
//   payload_too_large    over a parse_limits bound (size, pages, zip bomb, text)
// A parser never aborts the process on bad input; fuzz targets in tests/fuzz.
//
// Thread safety: the functions may be called from many threads at once.
//
// Example:
//   WATTOS_ASSIGN_OR_RETURN(auto doc, ingest::parse_file("/data/uploads/x", limits));
//   for (const auto& b : doc.blocks) ...
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "streams/ingest/parsed_document.hpp"

namespace wattos::streams::ingest {

struct detected_format {
  std::string format;     // as parsed_document::format; empty when unsupported
  std::string mime_type;  // libmagic's answer
};

// Detects the format of a byte string (the whole file or at least its first 64 KiB;
// ZIP containers need the whole file to be told apart).
detected_format detect_format(std::string_view bytes);

// Reads the file (bounded by limits.max_file_bytes), detects and parses it.
core::result<parsed_document> parse_file(const std::filesystem::path& file, const parse_limits& limits);

// Parses the file only when it is plain text (valid UTF-8 without control bytes, at most
// `max_bytes`) that reads as txt, md, csv or json: the formats whose parsers are this
// project's own code and Boost.JSON, linear in their input, with no C library behind
// them. Anything else (HTML, e-mail, binary formats, a larger or unreadable file) is
// nullopt, for the caller to parse in a child process (isolated_parse.hpp).
std::optional<core::result<parsed_document>> parse_file_if_plain_text(const std::filesystem::path& file,
                                                                      const parse_limits& limits,
                                                                      std::uint64_t max_bytes);

// Parses bytes already in memory (attachments, fuzzing).
core::result<parsed_document> parse_bytes(std::string_view bytes, const parse_limits& limits);

// The document's text: the blocks' texts joined by "\n\n", as the chunker's character
// offsets count it.
std::string document_text(const parsed_document& doc);

}  // namespace wattos::streams::ingest
