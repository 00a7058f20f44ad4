// Image files bound for an external model: the lossless cut of their metadata and the
// EXIF orientation reader. Neither may crash, and what the cut gives must hold its
// promises: no bigger than the file plus the orientation segment, a fixed point of
// itself, the same orientation, and, where both decode, the same pixels.
#include <leptonica/allheaders.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "infra/ocr/image_file.hpp"

namespace ocr = wattos::infra::ocr;

namespace {

bool decodes_alike(std::string_view a, std::string_view b) {
  // A small bound keeps one input fast; a declared size over it is not decoded.
  constexpr std::int64_t max_pixels = 1'000'000;
  if (!ocr::read_image_header(a, max_pixels, "a").ok() || !ocr::read_image_header(b, max_pixels, "b").ok()) return true;
  auto pa = ocr::decode_image(a, "a");
  auto pb = ocr::decode_image(b, "b");
  if (!pa.ok() || !pb.ok()) return true;
  l_int32 same = 0;
  return pixEqual(pa->get(), pb->get(), &same) == 0 && same == 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const int orientation = ocr::jpeg_exif_orientation(input);
  if (orientation < 1 || orientation > 8) std::abort();
  const auto clean = ocr::without_metadata(input);
  if (!clean) return 0;
  constexpr std::size_t orientation_segment = 36;
  if (clean->size() > input.size() + orientation_segment) std::abort();
  const auto again = ocr::without_metadata(*clean);
  if (!again || *again != *clean) std::abort();
  if (ocr::jpeg_exif_orientation(*clean) != orientation) std::abort();
  // Not for WebP: libwebp decodes a VP8 bitstream that runs past its chunk from the
  // bytes after it, so a malformed file's pixels change with what the cut removed (the
  // image check sends a WebP with metadata encoded anew; well-formed WebPs keep their
  // pixels: image_file_test).
  if (!input.starts_with("RIFF") && !decodes_alike(input, *clean)) std::abort();
  return 0;
}
