// The persona layer's parsers of untrusted input: an uploaded avatar image (sniffing,
// leptonica's decoders behind a header check, the EXIF orientation reader) and a
// model's drafted persona (JSON somewhere in free text). The first byte picks which.
// Either may fail; neither may crash, and what they accept must hold their promises.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/utf8.hpp"
#include "infra/ocr/image_file.hpp"
#include "persona/avatar_image.hpp"
#include "persona/drafter.hpp"

namespace persona = wattos::persona;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    const int orientation = wattos::infra::ocr::jpeg_exif_orientation(input);
    if (orientation < 1 || orientation > 8) std::abort();
    // Small limits keep one input fast; a declared size over them is refused unread.
    static const persona::avatar_limits limits{.max_bytes = 1u << 20, .max_pixels = 4'000'000, .size = 64};
    auto image = persona::normalise_avatar(input, limits);
    if (image.ok() && (image->width < 1 || image->width > 64 || image->height != image->width ||
                       image->png.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) != 0)) {
      std::abort();
    }
    return 0;
  }
  static const persona::character base = persona::draft_from_description("Eine Beraterin.", "de");
  auto merged = persona::merge_model_draft(input, base);
  if (!merged.ok()) return 0;
  if (!persona::validate(*merged).ok()) std::abort();
  for (const auto* text : {&merged->name, &merged->role, &merged->description, &merged->greeting}) {
    if (!wattos::core::is_valid_utf8(*text)) std::abort();
  }
  return 0;
}
