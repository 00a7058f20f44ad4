#include "infra/ocr/ocr_engine.hpp"

#include <leptonica/allheaders.h>
#include <omp.h>
#include <tesseract/baseapi.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string_view>

namespace wattos::infra::ocr {

namespace {

// Debian's tesseract-ocr-deu/-eng put their models here.
constexpr const char* default_tessdata = "/usr/share/tesseract-ocr/5/tessdata";

bool valid_languages(std::string_view langs) {
  if (langs.empty() || langs.size() > 64) return false;
  return std::all_of(langs.begin(), langs.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '+'; });
}

struct thread_engine {
  std::unique_ptr<tesseract::TessBaseAPI> api;
  std::string languages;
  thread_engine() = default;
  thread_engine(const thread_engine&) = delete;
  thread_engine& operator=(const thread_engine&) = delete;
  ~thread_engine() {
    if (api) api->End();
  }
};

}  // namespace

core::result<tesseract::TessBaseAPI*> engine_for(const std::string& languages) {
  thread_local thread_engine engine;
  if (engine.api && engine.languages == languages) return engine.api.get();
  if (!valid_languages(languages)) return core::error::invalid_argument("invalid OCR languages: " + languages);
  if (engine.api) engine.api->End();
  // Debian's tesseract runs its LSTM layers in OpenMP teams of up to 10 threads. On two
  // cores that team costs far more than it gives: one page of a letter took 1.7 s, serial
  // 0.29 s (bench/image_pii_bench). Inactive parallel regions make every team one thread,
  // as OMP_THREAD_LIMIT=1 would, without asking the operator to set it.
  omp_set_max_active_levels(0);
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

void set_image(tesseract::TessBaseAPI* api, Pix* pix) {
  api->SetImage(pix);
  const l_int32 xres = pixGetXRes(pix);
  api->SetSourceResolution(xres >= 50 && xres <= 1200 ? xres : 300);
}

void pix_deleter::operator()(Pix* pix) const noexcept {
  pixDestroy(&pix);
}

void quiet_leptonica() {
  static std::once_flag once;
  std::call_once(once, [] { setMsgSeverity(L_SEVERITY_NONE); });
}

}  // namespace wattos::infra::ocr
