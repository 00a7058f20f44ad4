// What checking an image for personal data costs (decoding, OCR, matching, painting,
// encoding) next to the cheapest possible check, plain OCR of the same decoded image with the
// same engine: page 1 of a PDF rendered at --dpi, the two measured in turns, medians reported.
//
//   image_pii_bench [--repeat N] [--dpi D] FILE.pdf
//     -> pixels=.. regions=.. ocr_ms=.. redact_ms=.. ratio=..
#include <leptonica/allheaders.h>
#include <tesseract/baseapi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "infra/llm/image_pii.hpp"
#include "infra/ocr/ocr_engine.hpp"
#include "test_images.hpp"

namespace llm = wattos::infra::llm;
namespace ocr = wattos::infra::ocr;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  int repeat = 5;
  double dpi = 110;
  std::string file;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--dpi" && i + 1 < argc) {
      dpi = std::atof(argv[++i]);
    } else {
      file = arg;
    }
  }
  if (file.empty()) {
    std::fprintf(stderr, "usage: image_pii_bench [--repeat N] [--dpi D] FILE.pdf\n");
    return 2;
  }
  const std::string url = llm::testing::pdf_page_data_url(file, dpi);
  if (url.empty()) {
    std::fprintf(stderr, "image_pii_bench: %s could not be rendered\n", file.c_str());
    return 1;
  }
  auto bytes = wattos::core::base64_decode(url.substr(url.find(',') + 1));
  ocr::quiet_leptonica();
  const ocr::pix_ptr pix(pixReadMem(reinterpret_cast<const l_uint8*>(bytes->data()), bytes->size()));
  auto engine = ocr::engine_for("deu+eng");
  if (!pix || !engine.ok()) {
    std::fprintf(stderr, "image_pii_bench: no image or no OCR engine\n");
    return 1;
  }
  tesseract::TessBaseAPI* api = *engine;

  std::vector<double> ocr_ms;
  std::vector<double> redact_ms;
  int regions = 0;
  // One round of each first: the engine's lazy set-up is not what is measured.
  for (int round = -1; round < repeat; ++round) {
    auto start = std::chrono::steady_clock::now();
    api->SetImage(pix.get());
    api->SetSourceResolution(300);
    const std::unique_ptr<char[]> text(api->GetUTF8Text());
    api->Clear();
    const double plain = ms_since(start);

    start = std::chrono::steady_clock::now();
    auto checked = llm::redact_image_pii(url);
    const double redact = ms_since(start);
    if (!checked.ok()) {
      std::fprintf(stderr, "image_pii_bench: %s\n", checked.err().message().c_str());
      return 1;
    }
    regions = checked->regions;
    if (round >= 0) {
      ocr_ms.push_back(plain);
      redact_ms.push_back(redact);
    }
  }
  const double ocr_median = median(ocr_ms);
  const double redact_median = median(redact_ms);
  std::printf("pixels=%dx%d regions=%d ocr_ms=%.1f redact_ms=%.1f ratio=%.3f\n", pixGetWidth(pix.get()),
              pixGetHeight(pix.get()), regions, ocr_median, redact_median, redact_median / ocr_median);
  return 0;
}
