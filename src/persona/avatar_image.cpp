#include "persona/avatar_image.hpp"

#include <leptonica/allheaders.h>

#include <algorithm>
#include <memory>

#include "infra/ocr/image_file.hpp"
#include "infra/ocr/ocr_engine.hpp"

namespace wattos::persona {

namespace {

using infra::ocr::pix_ptr;

enum class image_kind { unknown, png, jpeg, gif, webp, svg };

image_kind sniff(std::string_view b) {
  if (b.size() >= 8 && b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) return image_kind::png;
  if (b.size() >= 3 && b.substr(0, 3) == "\xff\xd8\xff") return image_kind::jpeg;
  if (b.size() >= 6 && (b.substr(0, 6) == "GIF87a" || b.substr(0, 6) == "GIF89a")) return image_kind::gif;
  if (b.size() >= 12 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP") return image_kind::webp;
  // SVG: XML text, possibly after a byte-order mark and white space.
  std::string_view head = b.substr(0, 512);
  if (head.substr(0, 3) == "\xef\xbb\xbf") head.remove_prefix(3);
  while (!head.empty() && (head.front() == ' ' || head.front() == '\n' || head.front() == '\r' || head.front() == '\t'))
    head.remove_prefix(1);
  if (!head.empty() && head.front() == '<') return image_kind::svg;
  return image_kind::unknown;
}

bool format_matches(image_kind kind, l_int32 format) {
  switch (kind) {
    case image_kind::png:
      return format == IFF_PNG;
    case image_kind::jpeg:
      return format == IFF_JFIF_JPEG;
    case image_kind::gif:
      return format == IFF_GIF;
    case image_kind::webp:
      return format == IFF_WEBP;
    default:
      return false;
  }
}

}  // namespace

core::result<avatar_image> normalise_avatar(std::string_view bytes, const avatar_limits& limits) {
  if (bytes.empty()) return core::error::invalid_argument("the avatar image is empty");
  if (bytes.size() > limits.max_bytes) {
    return core::error::payload_too_large("the avatar image is larger than " + std::to_string(limits.max_bytes) +
                                          " bytes");
  }
  const auto kind = sniff(bytes);
  if (kind == image_kind::svg) {
    return core::error::unsupported_media(
        "SVG is not accepted as an uploaded avatar (it can carry scripts); "
        "upload a PNG, JPEG, WebP or GIF image");
  }
  if (kind == image_kind::unknown) {
    return core::error::unsupported_media("an avatar must be a PNG, JPEG, WebP or GIF image");
  }
  constexpr std::string_view what = "the avatar image";
  WATTOS_ASSIGN_OR_RETURN(const auto header, infra::ocr::read_image_header(bytes, limits.max_pixels, what));
  if (!format_matches(kind, header.format)) {
    return core::error::invalid_argument("the avatar image is corrupt or in a variant that cannot be read");
  }
  WATTOS_ASSIGN_OR_RETURN(pix_ptr pix, infra::ocr::decode_image(bytes, what));
  // Every variant (palette, grey, 1-bit, 16-bit) becomes 8-bit RGB(A).
  if (pixGetColormap(pix.get()) != nullptr) pix.reset(pixRemoveColormap(pix.get(), REMOVE_CMAP_BASED_ON_SRC));
  if (pix && pixGetDepth(pix.get()) != 32) pix.reset(pixConvertTo32(pix.get()));
  if (!pix) return core::error::invalid_argument("the avatar image could not be converted");

  // Whether the image has an alpha channel: kept through the crop and the scaling.
  const l_int32 samples = pixGetSpp(pix.get());
  const l_int32 width = pixGetWidth(pix.get());
  const l_int32 height = pixGetHeight(pix.get());
  const l_int32 side = std::min(width, height);
  if (side != width || side != height) {
    std::unique_ptr<Box, void (*)(Box*)> box(boxCreate((width - side) / 2, (height - side) / 2, side, side),
                                             [](Box* b) { boxDestroy(&b); });
    pix.reset(pixClipRectangle(pix.get(), box.get(), nullptr));
    if (!pix) return core::error::internal("the avatar image could not be cropped");
  }
  const int target = std::max(1, limits.size);
  if (side > target) {
    const auto scale = static_cast<l_float32>(target) / static_cast<l_float32>(side);
    // Area mapping averages the source pixels (no aliasing); with alpha, the alpha
    // channel is scaled along.
    pix.reset(samples == 4 ? pixScaleWithAlpha(pix.get(), scale, scale, nullptr, 1.0f)
                           : pixScaleAreaMap(pix.get(), scale, scale));
    if (!pix) return core::error::internal("the avatar image could not be scaled");
  }
  pixSetSpp(pix.get(), samples == 4 ? 4 : 3);
  // Leptonica carries a JPEG comment along as the image's text and would write it into
  // the PNG: the new file keeps nothing of the old one but pixels.
  pixSetText(pix.get(), nullptr);
  pixSetResolution(pix.get(), 0, 0);
  l_uint8* encoded = nullptr;
  std::size_t encoded_size = 0;
  if (pixWriteMemPng(&encoded, &encoded_size, pix.get(), 0.0f) != 0 || encoded == nullptr) {
    return core::error::internal("the avatar image could not be encoded");
  }
  avatar_image out;
  out.png.assign(reinterpret_cast<const char*>(encoded), encoded_size);
  lept_free(encoded);
  out.width = pixGetWidth(pix.get());
  out.height = pixGetHeight(pix.get());
  return out;
}

}  // namespace wattos::persona
