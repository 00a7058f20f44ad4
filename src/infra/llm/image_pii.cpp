#include "infra/llm/image_pii.hpp"

#include <leptonica/allheaders.h>
#include <tesseract/baseapi.h>
#include <tesseract/resultiterator.h>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "core/crypto.hpp"
#include "infra/llm/pii.hpp"
#include "infra/ocr/image_file.hpp"
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
  ocr::set_image(api, pix);
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

// The image encoded anew in its own kind where that keeps it small (JPEG stays JPEG),
// PNG otherwise. Leptonica would carry a JPEG comment or PNG text along: not here.
core::result<std::string> encode_as_data_url(Pix* pix, l_int32 source_format) {
  pixSetText(pix, nullptr);
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

// The formats whose metadata is cut away without touching the pixels (ocr::without_metadata).
// The others (GIF, with frames that OCR never read) go on as the decoded frame, as PNG.
bool keeps_its_bytes(l_int32 format) {
  return format == IFF_PNG || format == IFF_JFIF_JPEG || format == IFF_WEBP;
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

  constexpr std::string_view what = "the image to check for personal data";
  WATTOS_ASSIGN_OR_RETURN(const auto header, ocr::read_image_header(bytes, limits.max_pixels, what));
  // Upright: OCR reads a photo as a viewer shows it, and a redacted JPEG goes on upright.
  WATTOS_ASSIGN_OR_RETURN(pix_ptr pix, ocr::decode_image(bytes, what));
  const int width = pixGetWidth(pix.get());
  const int height = pixGetHeight(pix.get());
  // Too small to hold a readable word (icons, spacer pixels): not read (tesseract refuses them too).
  constexpr int min_side = 8;
  std::string text;
  std::vector<word_box> words;
  if (width >= min_side && height >= min_side) {
    WATTOS_ASSIGN_OR_RETURN(words, read_words(pix.get(), limits.languages, text));
  }
  const std::vector<pii_match> found = find_pii(text);
  // Only the pixels that OCR read may leave: no EXIF (GPS position, camera, owner), no
  // comments, no thumbnails, no further frames.
  if (found.empty() && keeps_its_bytes(header.format)) {
    if (auto clean = ocr::without_metadata(bytes)) {
      if (*clean == bytes) return image_pii_result{std::string(url), 0, false};
      // Not WebP: a VP8 bitstream that runs past its chunk is decoded from the bytes
      // after it (libwebp), so cut bytes could show other pixels than OCR read. A WebP
      // with metadata goes on encoded anew (PNG).
      if (header.format != IFF_WEBP)
        return image_pii_result{std::string(url.substr(0, marker + base64_marker.size())) + core::base64_encode(*clean),
                                0, true};
    }
  }

  // 32 bits per pixel, so that black is one value whatever the source's depth or palette.
  const pix_ptr painted(pixConvertTo32(pix.get()));
  if (!painted) return core::error::internal("the image could not be converted for redaction");
  constexpr int pad = 2;  // OCR boxes hug the glyphs; anti-aliased edges stay readable without it
  constexpr l_uint32 opaque_black = 0x000000ffU;  // leptonica's RGBA, alpha in the low byte
  image_pii_result out;
  out.metadata_removed = true;  // the new file holds pixels only
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
  WATTOS_ASSIGN_OR_RETURN(out.url, encode_as_data_url(painted.get(), header.format));
  return out;
}

}  // namespace wattos::infra::llm
