// Images for the tests (and bench/image_pii_bench) of PII in images: a real German letter
// (shared/data) rendered by poppler, whose header holds an e-mail address, and a blank
// page. Both as the base64 data URLs that the API takes.
#pragma once

#include <leptonica/allheaders.h>
#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-image.h>
#include <poppler/cpp/poppler-page-renderer.h>
#include <poppler/cpp/poppler-page.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/crypto.hpp"

namespace wattos::infra::llm::testing {

// `pix` encoded as leptonica's `format`.
inline std::string encoded(Pix* pix, int format) {
  l_uint8* data = nullptr;
  std::size_t size = 0;
  if (pixWriteMem(&data, &size, pix, format) != 0) return {};
  std::string bytes(reinterpret_cast<const char*>(data), size);
  lept_free(data);
  return bytes;
}

// `pix` encoded as leptonica's `format` (IFF_PNG, IFF_GIF, ...) in a data URL of `mime`.
inline std::string data_url(Pix* pix, int format = IFF_PNG, const char* mime = "image/png") {
  const std::string bytes = encoded(pix, format);
  return bytes.empty() ? std::string() : std::string("data:") + mime + ";base64," + core::base64_encode(bytes);
}

// The first page of a PDF rendered at `dpi`, "" when it cannot be rendered.
inline std::string pdf_page_data_url(const std::filesystem::path& path, double dpi) {
  const std::unique_ptr<poppler::document> pdf(poppler::document::load_from_file(path.string()));
  if (!pdf) return {};
  const std::unique_ptr<poppler::page> page(pdf->create_page(0));
  if (!page) return {};
  poppler::page_renderer renderer;
  const poppler::image img = renderer.render_page(page.get(), dpi, dpi);
  if (!img.is_valid() || img.format() != poppler::image::format_argb32) return {};
  Pix* pix = pixCreate(img.width(), img.height(), 32);
  for (int y = 0; y < img.height(); ++y) {
    const char* row = img.const_data() + static_cast<std::ptrdiff_t>(y) * img.bytes_per_row();
    l_uint32* out = pixGetData(pix) + static_cast<std::ptrdiff_t>(y) * pixGetWpl(pix);
    for (int x = 0; x < img.width(); ++x) {
      std::uint32_t argb = 0;
      std::memcpy(&argb, row + static_cast<std::ptrdiff_t>(x) * 4, 4);
      out[x] = (argb << 8) | 0xffU;  // poppler's 0xAARRGGBB to leptonica's 0xRRGGBBAA
    }
  }
  std::string url = data_url(pix);
  pixDestroy(&pix);
  return url;
}

#ifdef WATTOS_SHARED_DATA
// The first page of shared/data/docs/de/docspell_letter-de.pdf ("E-Mail:
// max.muster@gmail.com" in its header).
inline std::string letter_data_url(double dpi = 110) {
  return pdf_page_data_url(std::filesystem::path(WATTOS_SHARED_DATA) / "docs/de/docspell_letter-de.pdf", dpi);
}
#endif

// A white image (64 x 48 PNG unless told): a real image without any text.
inline std::string blank_data_url(int width = 64, int height = 48, int format = IFF_PNG,
                                  const char* mime = "image/png") {
  Pix* pix = pixCreate(width, height, 8);
  pixSetAll(pix);
  std::string url = data_url(pix, format, mime);
  pixDestroy(&pix);
  return url;
}

// `jpeg` with a segment (`marker`: 0xE1 for APP1, 0xFE for a comment, ...) put in after
// the first `after` bytes (2: right after SOI).
inline std::string jpeg_with_segment(std::string jpeg, unsigned marker, const std::string& payload,
                                     std::size_t after = 2) {
  const std::size_t length = payload.size() + 2;
  std::string segment{'\xff', static_cast<char>(marker), static_cast<char>(length >> 8),
                      static_cast<char>(length & 0xffU)};
  jpeg.insert(after, segment + payload);
  return jpeg;
}

// An EXIF payload (for an APP1 segment) with the orientation and a GPS-like ASCII entry.
inline std::string exif_payload(int orientation, const std::string& gps_text = "GPS 52.5200 N 13.4050 E") {
  std::string tiff("MM\x00\x2a\x00\x00\x00\x08", 8);
  tiff += std::string("\x00\x02", 2);  // two entries
  tiff +=
      std::string("\x01\x12\x00\x03\x00\x00\x00\x01", 8) + '\0' + static_cast<char>(orientation) + std::string(2, '\0');
  // ImageDescription (ASCII), its text after the IFD: 8 + 2 + 2 * 12 + 4 = 38.
  const std::size_t count = gps_text.size() + 1;
  tiff += std::string("\x01\x0e\x00\x02", 4) + std::string(2, '\0') + static_cast<char>(count >> 8) +
          static_cast<char>(count & 0xffU) + std::string("\x00\x00\x00\x26", 4);
  tiff += std::string(4, '\0');  // no next IFD
  tiff += gps_text + '\0';
  return std::string("Exif\0\0", 6) + tiff;
}

// The bytes of a data URL.
inline std::string data_url_bytes(std::string_view url) {
  auto bytes = core::base64_decode(url.substr(url.find(',') + 1));
  return bytes.ok() ? *bytes : std::string();
}

#ifdef WATTOS_SHARED_DATA
// The letter as a JPEG stored turned 90 degrees to the left, with no orientation: the
// pixels a phone stores before it adds EXIF orientation 6 ("turn right to show").
// "" when it cannot be made.
inline std::string sideways_letter_jpeg() {
  const std::string letter = data_url_bytes(letter_data_url());
  if (letter.empty()) return {};
  Pix* page = pixReadMem(reinterpret_cast<const l_uint8*>(letter.data()), letter.size());
  if (page == nullptr) return {};
  Pix* sideways = pixRotateOrth(page, 3);
  pixDestroy(&page);
  std::string jpeg = sideways != nullptr ? encoded(sideways, IFF_JFIF_JPEG) : std::string();
  pixDestroy(&sideways);
  return jpeg;
}
#endif

}  // namespace wattos::infra::llm::testing
