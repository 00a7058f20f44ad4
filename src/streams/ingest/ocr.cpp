// OCR with tesseract (LSTM engine, languages from parse_limits), and the image parser.
#include <leptonica/allheaders.h>
#include <tesseract/baseapi.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "streams/ingest/parser_internal.hpp"

namespace wattos::streams::ingest::detail {

namespace {

// Debian's tesseract-ocr-deu/-eng put their models here.
constexpr const char* default_tessdata = "/usr/share/tesseract-ocr/5/tessdata";

bool valid_languages(std::string_view langs) {
  if (langs.empty() || langs.size() > 64) return false;
  return std::all_of(langs.begin(), langs.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '+'; });
}

// Loading the models takes about a second; a TessBaseAPI is not thread safe. So each
// thread keeps one engine and reuses it while the languages stay the same.
struct ocr_engine {
  std::unique_ptr<tesseract::TessBaseAPI> api;
  std::string languages;
  ~ocr_engine() {
    if (api) api->End();
  }
};

core::result<tesseract::TessBaseAPI*> engine_for(const std::string& languages) {
  thread_local ocr_engine engine;
  if (engine.api && engine.languages == languages) return engine.api.get();
  if (!valid_languages(languages)) return core::error::invalid_argument("invalid OCR languages: " + languages);
  if (engine.api) engine.api->End();
  engine.api = std::make_unique<tesseract::TessBaseAPI>();
  engine.languages.clear();
  const char* env = std::getenv("TESSDATA_PREFIX");
  const char* datapath = env != nullptr && *env != '\0' ? env : default_tessdata;
  // Its progress and warnings go to a debug file, not to the service's stderr.
  engine.api->SetVariable("debug_file", "/dev/null");
  if (engine.api->Init(datapath, languages.c_str(), tesseract::OEM_LSTM_ONLY) != 0) {
    engine.api.reset();
    return core::error::unavailable("OCR is not available: tesseract could not load the languages " + languages);
  }
  engine.api->SetVariable("debug_file", "/dev/null");
  engine.api->SetPageSegMode(tesseract::PSM_AUTO);
  engine.languages = languages;
  return engine.api.get();
}

void quiet_leptonica() {
  static std::once_flag once;
  std::call_once(once, [] { setMsgSeverity(L_SEVERITY_NONE); });
}

struct pix_deleter {
  void operator()(Pix* p) const { pixDestroy(&p); }
};

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
  WATTOS_ASSIGN_OR_RETURN(auto* api, engine_for(limits.ocr_languages));
  api->SetImage(pixels, width, height, bytes_per_pixel, bytes_per_line);
  api->SetSourceResolution(std::clamp(dpi, 50, 1200));
  return recognise(api);
}

core::result<parsed_document> parse_image(std::string_view bytes, const parse_limits& limits) {
  quiet_leptonica();
  parsed_document doc;
  doc.pages = 1;
  const auto* data = reinterpret_cast<const l_uint8*>(bytes.data());
  l_int32 format = 0, w = 0, h = 0, bps = 0, spp = 0, iscmap = 0;
  // The header first: a small file may declare a gigapixel image.
  if (pixReadHeaderMem(data, bytes.size(), &format, &w, &h, &bps, &spp, &iscmap) != 0 || w <= 0 || h <= 0)
    return core::error::invalid_argument("the image is corrupt or in a variant that cannot be read");
  if (static_cast<std::int64_t>(w) * h > max_ocr_pixels)
    return core::error::payload_too_large("the image has " + std::to_string(w) + "x" + std::to_string(h) +
                                          " pixels, too many for OCR");
  if (!limits.ocr) {
    doc.warnings.push_back("image: OCR is off, no text taken");
    return doc;
  }
  std::unique_ptr<Pix, pix_deleter> pix(pixReadMem(data, bytes.size()));
  if (!pix) return core::error::invalid_argument("the image is corrupt or truncated");
  WATTOS_ASSIGN_OR_RETURN(auto* api, engine_for(limits.ocr_languages));
  api->SetImage(pix.get());
  l_int32 xres = pixGetXRes(pix.get());
  api->SetSourceResolution(xres >= 50 && xres <= 1200 ? xres : 300);
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
