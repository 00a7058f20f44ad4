// File: infra/llm/image_pii.hpp
//
// Personal data in images bound for an external model. The image's text is read with
// OCR (tesseract, German and English), the finder that redacts text (find_pii) runs over
// it, and every word that is part of a match (an e-mail address, a phone number, an IBAN,
// ...) is painted over in black before the image leaves. Only pixels that OCR read
// leave: a PNG or JPEG without such text keeps its bytes but loses its metadata
// (EXIF with the GPS position, XMP, comments, text chunks, thumbnails, animation
// frames; ocr::without_metadata), a GIF and a WebP with metadata go out in PNG. A photo is
// read upright by its EXIF orientation. Slow (OCR: about 0.3 s for a letter page at
// 110 dpi), so the gateway runs it on a thread of its own, once per request.
//
// Example:
//   WATTOS_ASSIGN_OR_RETURN(auto checked, llm::redact_image_pii(image.url));
//   image.url = checked.url;  // checked.regions words were painted over
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace wattos::infra::llm {

struct image_pii_limits {
  std::int64_t max_pixels = 16'000'000;  // OCR time grows with the area; 4000 x 4000
  std::string languages = "deu+eng";
};

struct image_pii_result {
  std::string url;                // the data URL to send: the original, or the painted image (PNG, or JPEG for a JPEG)
  int regions = 0;                // words painted over
  bool metadata_removed = false;  // EXIF, comments, text chunks, thumbnails or frames were cut away
};

// `url` is a base64 data URL of a PNG, JPEG, WebP or GIF image (what the API accepts).
// invalid_argument for an https URL (the provider would fetch what the gateway never
// saw) and for data that does not decode; payload_too_large above max_pixels;
// unavailable when OCR cannot run (the image is then not sent: fail closed).
core::result<image_pii_result> redact_image_pii(std::string_view url, const image_pii_limits& limits = {});

}  // namespace wattos::infra::llm
