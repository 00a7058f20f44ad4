#include "infra/llm/image_pii.hpp"

#include <leptonica/allheaders.h>
#include <tesseract/baseapi.h>
#include <tesseract/resultiterator.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "core/crypto.hpp"
#include "infra/llm/pii.hpp"
#include "infra/ocr/ocr_engine.hpp"

namespace wattos::infra::llm {

namespace {

using ocr::pix_ptr;

// A recognised word: where it stands in the joined text, and its box in the image.
struct word_box {
  std::size_t begin;
  std::size_t end;
  int left, top, right, bottom;
};

// The image's words in reading order, joined by spaces and line breaks into `text`.
core::result<std::vector<word_box>> read_words(Pix* pix, const std::string& languages, std::string& text) {
  WATTOS_ASSIGN_OR_RETURN(auto* api, ocr::engine_for(languages));
  api->SetImage(pix);
  const l_int32 xres = pixGetXRes(pix);
  api->SetSourceResolution(xres >= 50 && xres <= 1200 ? xres : 300);
  if (api->Recognize(nullptr) != 0) {
    api->Clear();
    return core::error::invalid_argument("OCR failed on the image");
  }
  std::vector<word_box> words;
  const std::unique_ptr<tesseract::ResultIterator> it(api->GetIterator());
  if (it && !it->Empty(tesseract::RIL_WORD)) {
    do {
      const std::unique_ptr<char[]> word(it->GetUTF8Text(tesseract::RIL_WORD));
      int left = 0, top = 0, right = 0, bottom = 0;
      if (!word || !it->BoundingBox(tesseract::RIL_WORD, &left, &top, &right, &bottom)) continue;
      const std::size_t begin = text.size();
      text += word.get();
      words.push_back({begin, text.size(), left, top, right, bottom});
      text += it->IsAtFinalElement(tesseract::RIL_TEXTLINE, tesseract::RIL_WORD) ? '\n' : ' ';
    } while (it->Next(tesseract::RIL_WORD));
  }
  api->Clear();
  return words;
}

// The image re-encoded in its own kind where that keeps it small (JPEG stays JPEG),
// PNG otherwise.
core::result<std::string> encode_as_data_url(Pix* pix, l_int32 source_format) {
  l_uint8* data = nullptr;
  std::size_t size = 0;
  const bool jpeg = source_format == IFF_JFIF_JPEG;
  const l_int32 failed = jpeg ? pixWriteMemJpeg(&data, &size, pix, 90, 0) : pixWriteMemPng(&data, &size, pix, 0.0F);
  if (failed != 0 || data == nullptr) {
    if (data != nullptr) lept_free(data);
    return core::error::internal("the redacted image could not be encoded");
  }
  std::string bytes(reinterpret_cast<const char*>(data), size);
  lept_free(data);
  return std::string(jpeg ? "data:image/jpeg;base64," : "data:image/png;base64,") + core::base64_encode(bytes);
}

// Whether the file may show more than the one frame leptonica decodes (and OCR reads):
// GIF, an animated PNG (its acTL chunk comes before the first IDAT), and any format
// other than the three single-frame ones. Animated WebP does not decode: refused anyway.
bool may_hold_unread_frames(std::string_view bytes, l_int32 format) {
  if (format == IFF_PNG) {
    const std::size_t first_data = bytes.find("IDAT");
    return bytes.substr(0, first_data).find("acTL") != std::string_view::npos;
  }
  return format != IFF_JFIF_JPEG && format != IFF_WEBP;
}

}  // namespace

core::result<image_pii_result> redact_image_pii(std::string_view url, const image_pii_limits& limits) {
  constexpr std::string_view data_prefix = "data:image/";
  constexpr std::string_view base64_marker = ";base64,";
  if (!url.starts_with(data_prefix)) {
    return core::error::invalid_argument(
        "an image given by URL cannot be checked for personal data before it goes to an external model; send it as "
        "a base64 data URL");
  }
  const std::size_t marker = url.find(base64_marker);
  if (marker == std::string_view::npos) return core::error::invalid_argument("the image is not a base64 data URL");
  WATTOS_ASSIGN_OR_RETURN(const std::string bytes, core::base64_decode(url.substr(marker + base64_marker.size())));

  ocr::quiet_leptonica();
  const auto* data = reinterpret_cast<const l_uint8*>(bytes.data());
  l_int32 format = 0, width = 0, height = 0, bits = 0, samples = 0, colormap = 0;
  // The header first: a small file may declare a gigapixel image.
  if (pixReadHeaderMem(data, bytes.size(), &format, &width, &height, &bits, &samples, &colormap) != 0 || width <= 0 ||
      height <= 0) {
    return core::error::invalid_argument("the image is corrupt or in a variant that cannot be read");
  }
  if (static_cast<std::int64_t>(width) * height > limits.max_pixels) {
    return core::error::payload_too_large("the image has " + std::to_string(width) + "x" + std::to_string(height) +
                                          " pixels, too many to check for personal data (at most " +
                                          std::to_string(limits.max_pixels) + ")");
  }
  const pix_ptr pix(pixReadMem(data, bytes.size()));
  if (!pix) return core::error::invalid_argument("the image is corrupt or truncated");
  // Too small to hold a readable word (icons, spacer pixels): not read (tesseract refuses them too).
  constexpr int min_side = 8;
  std::string text;
  std::vector<word_box> words;
  if (width >= min_side && height >= min_side) {
    WATTOS_ASSIGN_OR_RETURN(words, read_words(pix.get(), limits.languages, text));
  }
  const std::vector<pii_match> found = find_pii(text);
  // Only what OCR read may leave: a file that may hold more goes on as its first frame.
  if (found.empty() && !may_hold_unread_frames(bytes, format)) return image_pii_result{std::string(url), 0};

  // 32 bits per pixel, so that black is one value whatever the source's depth or palette.
  const pix_ptr painted(pixConvertTo32(pix.get()));
  if (!painted) return core::error::internal("the image could not be converted for redaction");
  constexpr int pad = 2;  // OCR boxes hug the glyphs; anti-aliased edges stay readable without it
  constexpr l_uint32 opaque_black = 0x000000ffU;  // leptonica's RGBA, alpha in the low byte
  image_pii_result out;
  auto match = found.begin();
  for (const auto& w : words) {
    while (match != found.end() && match->end <= w.begin) ++match;
    if (match == found.end()) break;
    if (match->begin >= w.end) continue;  // the word ends before the next match starts
    const int left = std::max(0, w.left - pad);
    const int top = std::max(0, w.top - pad);
    const int right = std::min(width, w.right + pad);
    const int bottom = std::min(height, w.bottom + pad);
    Box* box = boxCreate(left, top, right - left, bottom - top);
    if (box == nullptr) return core::error::internal("the image could not be redacted");
    const l_int32 failed = pixSetInRectArbitrary(painted.get(), box, opaque_black);
    boxDestroy(&box);
    if (failed != 0) return core::error::internal("the image could not be redacted");
    ++out.regions;
  }
  WATTOS_ASSIGN_OR_RETURN(out.url, encode_as_data_url(painted.get(), format));
  return out;
}

}  // namespace wattos::infra::llm
