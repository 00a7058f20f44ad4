// PDF: poppler-cpp for text and metadata, page_renderer + tesseract for pages without
// a text layer.
#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-global.h>
#include <poppler/cpp/poppler-image.h>
#include <poppler/cpp/poppler-page-renderer.h>
#include <poppler/cpp/poppler-page.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <memory>
#include <mutex>

#include "streams/ingest/parser_internal.hpp"

namespace wattos::streams::ingest::detail {

namespace {

// poppler reports every oddity of a damaged file on stderr; the parser's result says
// what matters.
void quiet_poppler() {
  static std::once_flag once;
  std::call_once(once, [] { poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr); });
}

std::string utf8(const poppler::ustring& text) {
  poppler::byte_array bytes = text.to_utf8();
  return std::string(bytes.begin(), bytes.end());
}

// Fewer letters than this on a page: treat it as a scan.
constexpr std::size_t min_text_layer_chars = 16;

std::size_t visible_chars(std::string_view text) {
  std::size_t n = 0;
  for (char c : text)
    if (static_cast<unsigned char>(c) > ' ' && (static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

// A file cut short loses its trailer; poppler would rebuild the cross-reference table
// and quietly return part of the document. "%%EOF" near the end shows it is complete.
bool has_eof_marker(std::string_view bytes) {
  std::size_t tail = std::min<std::size_t>(bytes.size(), 2048);
  return bytes.substr(bytes.size() - tail).find("%%EOF") != std::string_view::npos;
}

std::string iso_date(std::time_t t) {
  if (t <= 0) return {};
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return {};
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

core::result<std::string> ocr_page(const poppler::page& page, const parse_limits& limits) {
  poppler::rectf box = page.page_rect(poppler::media_box);
  double dpi = std::clamp(limits.ocr_dpi, 50, 600);
  // A huge page at full resolution would need gigabytes: lower the resolution instead.
  double w_in = std::max(box.width(), 1.0) / 72.0, h_in = std::max(box.height(), 1.0) / 72.0;
  double pixels = w_in * h_in * dpi * dpi;
  if (pixels > static_cast<double>(max_ocr_pixels))
    dpi = std::sqrt(static_cast<double>(max_ocr_pixels) / (w_in * h_in));
  if (dpi < 20) return core::error::payload_too_large("the page is too large to render for OCR");
  poppler::page_renderer renderer;
  renderer.set_render_hint(poppler::page_renderer::antialiasing, true);
  renderer.set_render_hint(poppler::page_renderer::text_antialiasing, true);
  renderer.set_image_format(poppler::image::format_gray8);
  poppler::image img = renderer.render_page(&page, dpi, dpi);
  if (!img.is_valid() || img.width() <= 0 || img.height() <= 0)
    return core::error::invalid_argument("the page could not be rendered");
  return ocr_pixels(reinterpret_cast<const unsigned char*>(img.const_data()), img.width(), img.height(), 1,
                    img.bytes_per_row(), static_cast<int>(dpi), limits);
}

}  // namespace

core::result<parsed_document> parse_pdf(std::string_view bytes, const parse_limits& limits) {
  quiet_poppler();
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    return core::error::payload_too_large("the PDF is too large");
  if (!has_eof_marker(bytes)) return core::error::invalid_argument("the PDF is truncated (no %%EOF at its end)");
  std::unique_ptr<poppler::document> pdf(
      poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  if (!pdf) return core::error::invalid_argument("the PDF is corrupt: poppler could not open it");
  if (pdf->is_locked())
    return core::error::failed_precondition("the PDF is encrypted and needs a password; upload it unprotected");
  int pages = pdf->pages();
  if (pages <= 0) return core::error::invalid_argument("the PDF has no pages");
  if (pages > limits.max_pages)
    return core::error::payload_too_large("the PDF has " + std::to_string(pages) + " pages, more than " +
                                          std::to_string(limits.max_pages));

  parsed_document doc;
  doc.pages = pages;
  doc.title = collapse_whitespace(utf8(pdf->get_title()));
  auto meta = [&](const char* key, const char* name) {
    std::string value = collapse_whitespace(utf8(pdf->info_key(key)));
    if (!value.empty()) doc.metadata[name] = value;
  };
  meta("Author", "author");
  meta("Subject", "subject");
  meta("Keywords", "keywords");
  meta("Creator", "creator");
  meta("Producer", "producer");
  doc.date = iso_date(pdf->get_creation_date_t());

  block_sink sink(doc, limits);
  int ocr_budget = std::max(0, limits.max_ocr_pages);
  for (int i = 0; i < pages; ++i) {
    std::unique_ptr<poppler::page> page(pdf->create_page(i));
    if (!page) {
      doc.warnings.push_back("page " + std::to_string(i + 1) + ": could not be read");
      continue;
    }
    // Reading order, as pdftotext gives it (physical layout would keep columns side by side).
    std::string text = utf8(page->text(poppler::rectf(), poppler::page::non_raw_non_physical_layout));
    if (visible_chars(text) < min_text_layer_chars && !limits.ocr) {
      doc.warnings.push_back("page " + std::to_string(i + 1) + ": no text layer, OCR is off");
    } else if (visible_chars(text) < min_text_layer_chars) {
      if (ocr_budget == 0) {
        doc.warnings.push_back("page " + std::to_string(i + 1) + ": no text layer, OCR page limit reached");
      } else {
        --ocr_budget;
        auto ocr = ocr_page(*page, limits);
        if (!ocr.ok()) {
          // The text layer of the other pages is still worth having.
          doc.warnings.push_back("page " + std::to_string(i + 1) + ": OCR failed: " + ocr.err().message());
        } else if (visible_chars(*ocr) == 0) {
          doc.warnings.push_back("page " + std::to_string(i + 1) + ": OCR found no text");
        } else {
          ++doc.ocr_pages;
          text = std::move(*ocr);
        }
      }
    }
    WATTOS_RETURN_IF_ERROR(text_to_blocks(text, sink, i + 1, {.short_lines_end_paragraphs = true}));
  }
  return doc;
}

}  // namespace wattos::streams::ingest::detail
