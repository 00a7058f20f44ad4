// File: infra/ocr/ocr_engine.hpp
//
// Tesseract engines for the layers that read text in pictures: ingestion (scans and
// images) and the LLM gateway (personal data in images bound for an external model).
// Loading the models takes about a second and a TessBaseAPI is not thread safe, so each
// thread keeps one engine and reuses it while the languages stay the same. Also the
// leptonica helpers that these and the avatars (persona) share.
//
// Example:
//   WATTOS_ASSIGN_OR_RETURN(auto* api, ocr::engine_for("deu+eng"));
//   api->SetImage(pix);
#pragma once

#include <memory>
#include <string>

#include "core/error.hpp"

namespace tesseract {
class TessBaseAPI;
}
struct Pix;  // leptonica's image

namespace wattos::infra::ocr {

// This thread's engine for `languages` (tesseract's form: "deu+eng"), loaded on first use
// from TESSDATA_PREFIX or Debian's tessdata folder. invalid_argument for a malformed
// language list, unavailable when tesseract cannot load the languages.
core::result<tesseract::TessBaseAPI*> engine_for(const std::string& languages);

// Gives `api` the image, with the resolution its file declares when that is plausible
// (50-1200 dpi; tesseract sizes its text models by it), 300 dpi otherwise.
void set_image(tesseract::TessBaseAPI* api, Pix* pix);

// Leptonica prints its decoding complaints to stderr; the callers report errors as values.
void quiet_leptonica();

// Owns a leptonica image.
struct pix_deleter {
  void operator()(Pix* pix) const noexcept;
};
using pix_ptr = std::unique_ptr<Pix, pix_deleter>;

}  // namespace wattos::infra::ocr
