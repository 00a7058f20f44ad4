// File: streams/ingest/parsed_document.hpp
//
// What a parser makes of a file: its format (detected from the content, never the file
// name), title and metadata, and its text as a list of structural blocks (headings with
// their level, paragraphs, list items, table rows, slide and sheet titles), each with
// the page (PDF page, slide, sheet: 1-based) it came from. The chunker
// (streams/ingest/chunker.hpp) turns the blocks into chunks with heading paths and
// character offsets for citations.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace wattos::streams::ingest {

enum class block_kind {
  heading,  // `level` 1..6; starts a section of the heading path
  paragraph,
  list_item,
  table_row,  // cells joined by " | "
  code,
};

struct block {
  block_kind kind = block_kind::paragraph;
  int level = 0;     // heading level (1 = top); 0 for other kinds
  std::string text;  // UTF-8, whitespace collapsed (code keeps its line breaks)
  int page = 0;      // 1-based page, slide or sheet; 0: the format has none
};

struct parsed_document {
  std::string format;                           // pdf, docx, pptx, xlsx, odt, html, md, txt, csv, json, eml, image
  std::string mime_type;                        // as detected, e.g. application/pdf
  std::string title;                            // metadata title, else the first heading, else empty
  std::string date;                             // YYYY-MM-DD when the document says (PDF creation date, e-mail Date)
  std::map<std::string, std::string> metadata;  // author, subject, from, to, ... as found
  std::vector<block> blocks;
  int pages = 0;                      // pages, slides or sheets; 0 where the format has none
  int ocr_pages = 0;                  // pages (or images) whose text came from OCR
  std::vector<std::string> warnings;  // parts skipped, e.g. "page 7: OCR found no text"
};

// Limits every parser keeps. A file over a limit fails with payload_too_large.
struct parse_limits {
  std::uint64_t max_file_bytes = 256ull << 20;
  std::uint64_t max_unpacked_bytes = 512ull << 20;  // ZIP containers: all entries unpacked
  double max_compression_ratio = 200;               // ZIP: one entry's unpacked / packed size
  std::uint64_t max_text_bytes = 64ull << 20;       // extracted text
  int max_pages = 5000;
  bool ocr = true;
  std::string ocr_languages = "deu+eng";
  int ocr_dpi = 200;
  int max_ocr_pages = 100;
  int max_nesting = 3;  // e-mail attachments inside attachments
  std::size_t max_blocks = 2'000'000;
};

}  // namespace wattos::streams::ingest
