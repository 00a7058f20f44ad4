// OCR with tesseract (LSTM engine, languages from parse_limits), and the image parser.
#include <leptonica/allheaders.h>
#include <tesseract/baseapi.h>

#include <algorithm>
#include <memory>

#include "infra/ocr/image_file.hpp"
#include "infra/ocr/ocr_engine.hpp"
#include "streams/ingest/parser_internal.hpp"

namespace wattos::streams::ingest::detail {

namespace {

core::result<std::string> recognise(tesseract::TessBaseAPI* api) {
  std::unique_ptr<char[]> text(api->GetUTF8Text());
  api->Clear();
  if (!text) return core::error::invalid_argument("OCR failed on the image");
  return std::string(text.get());
}

}  // namespace

core::result<std::string> ocr_pixels(const unsigned char* pixels, int width, int height, int bytes_per_pixel,
                                     int bytes_per_line, int dpi, const parse_limits& limits) {
  if (width <= 0 || height <= 0 || static_cast<std::int64_t>(width) * height > max_ocr_pixels)
    return core::error::payload_too_large("the image is too large for OCR");
  WATTOS_ASSIGN_OR_RETURN(auto* api, infra::ocr::engine_for(limits.ocr_languages));
  api->SetImage(pixels, width, height, bytes_per_pixel, bytes_per_line);
  api->SetSourceResolution(std::clamp(dpi, 50, 1200));
  return recognise(api);
}

core::result<parsed_document> parse_image(std::string_view bytes, const parse_limits& limits) {
  parsed_document doc;
  doc.pages = 1;
  // The header first: a small file may declare a gigapixel image.
  WATTOS_RETURN_IF_ERROR(infra::ocr::read_image_header(bytes, max_ocr_pixels, "the image"));
  if (!limits.ocr) {
    doc.warnings.push_back("image: OCR is off, no text taken");
    return doc;
  }
  WATTOS_ASSIGN_OR_RETURN(const infra::ocr::pix_ptr pix, infra::ocr::decode_image(bytes, "the image"));
  WATTOS_ASSIGN_OR_RETURN(auto* api, infra::ocr::engine_for(limits.ocr_languages));
  infra::ocr::set_image(api, pix.get());
  WATTOS_ASSIGN_OR_RETURN(std::string text, recognise(api));
  block_sink sink(doc, limits);
  WATTOS_RETURN_IF_ERROR(text_to_blocks(text, sink, 1, {.short_lines_end_paragraphs = true}));
  if (doc.blocks.empty())
    doc.warnings.push_back("image: OCR found no text");
  else
    doc.ocr_pages = 1;
  return doc;
}

}  // namespace wattos::streams::ingest::detail
