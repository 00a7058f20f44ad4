// parse_bytes on arbitrary bytes: every format behind detection (PDF, the ZIP-based
// Office formats, HTML, Markdown, text, CSV, JSON, e-mail), OCR off and small limits so
// one input stays fast. A parse may fail; it must not crash, hang or emit bad UTF-8.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/utf8.hpp"
#include "streams/ingest/parsers.hpp"

namespace ingest = wattos::streams::ingest;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const ingest::parse_limits limits = [] {
    ingest::parse_limits l;
    l.ocr = false;
    l.max_file_bytes = 1u << 20;
    l.max_unpacked_bytes = 8u << 20;
    l.max_text_bytes = 1u << 20;
    l.max_pages = 50;
    l.max_blocks = 20'000;
    l.max_nesting = 2;
    return l;
  }();
  auto doc = ingest::parse_bytes(std::string_view(reinterpret_cast<const char*>(data), size), limits);
  if (!doc.ok()) return 0;
  for (const auto& b : doc->blocks)
    if (!wattos::core::is_valid_utf8(b.text) || b.text.empty()) std::abort();
  if (!wattos::core::is_valid_utf8(doc->title)) std::abort();
  if (ingest::document_text(*doc).size() > limits.max_text_bytes) std::abort();
  return 0;
}
