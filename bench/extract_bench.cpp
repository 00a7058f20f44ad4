// Text extraction speed of the document parsers: parses each file N times (OCR off) and
// reports pages per second. `--dump` prints the blocks instead (to look at a parse).
//
//   extract_bench [--repeat N] FILE...   ->  files=.. pages=.. seconds=.. pages_per_s=..
//   extract_bench --dump [--ocr] FILE
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "streams/ingest/parsers.hpp"

namespace ingest = wattos::streams::ingest;

namespace {

const char* kind_name(ingest::block_kind k) {
  switch (k) {
    case ingest::block_kind::heading:
      return "heading";
    case ingest::block_kind::paragraph:
      return "para";
    case ingest::block_kind::list_item:
      return "item";
    case ingest::block_kind::table_row:
      return "row";
    case ingest::block_kind::code:
      return "code";
  }
  return "?";
}

}  // namespace

int main(int argc, char** argv) {
  int repeat = 3;
  bool dump = false;
  ingest::parse_limits limits;
  limits.ocr = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--repeat" && i + 1 < argc)
      repeat = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--dump")
      dump = true;
    else if (arg == "--ocr")
      limits.ocr = true;
    else
      files.push_back(arg);
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: extract_bench [--repeat N] FILE... | --dump [--ocr] FILE\n");
    return 2;
  }
  if (dump) {
    for (const auto& f : files) {
      auto doc = ingest::parse_file(f, limits);
      if (!doc.ok()) {
        std::printf("%s: error %s: %s\n", f.c_str(), std::string(wattos::core::errc_name(doc.err().code())).c_str(),
                    doc.err().message().c_str());
        continue;
      }
      std::printf("%s: format=%s mime=%s title=[%s] date=%s pages=%d ocr_pages=%d blocks=%zu\n", f.c_str(),
                  doc->format.c_str(), doc->mime_type.c_str(), doc->title.c_str(), doc->date.c_str(), doc->pages,
                  doc->ocr_pages, doc->blocks.size());
      for (const auto& [k, v] : doc->metadata) std::printf("  meta %s=%s\n", k.c_str(), v.c_str());
      for (const auto& w : doc->warnings) std::printf("  warning %s\n", w.c_str());
      for (const auto& b : doc->blocks)
        std::printf("  [p%d %s%d] %s\n", b.page, kind_name(b.kind), b.level, b.text.c_str());
    }
    return 0;
  }
  long pages = 0;
  auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < repeat; ++r) {
    for (const auto& f : files) {
      auto doc = ingest::parse_file(f, limits);
      if (!doc.ok()) {
        std::fprintf(stderr, "%s: %s\n", f.c_str(), doc.err().message().c_str());
        return 1;
      }
      pages += doc->pages;
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("files=%zu repeat=%d pages=%ld seconds=%.3f pages_per_s=%.1f\n", files.size(), repeat, pages, seconds,
              static_cast<double>(pages) / seconds);
  return 0;
}
