#include "persona/avatar_image.hpp"

#include <leptonica/allheaders.h>

#include <algorithm>
#include <memory>

#include "infra/ocr/ocr_engine.hpp"

namespace wattos::persona {

namespace {

using infra::ocr::pix_ptr;
using infra::ocr::quiet_leptonica;

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

// The orientation tag (0x0112) of IFD0 in a TIFF structure; 0 when absent or malformed.
int tiff_orientation(std::string_view t) {
  if (t.size() < 8) return 0;
  bool little = false;
  if (t[0] == 'I' && t[1] == 'I') {
    little = true;
  } else if (!(t[0] == 'M' && t[1] == 'M')) {
    return 0;
  }
  auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(t[i])); };
  auto u16 = [&](std::size_t i) { return little ? byte(i) | byte(i + 1) << 8 : byte(i) << 8 | byte(i + 1); };
  auto u32 = [&](std::size_t i) { return little ? u16(i) | u16(i + 2) << 16 : u16(i) << 16 | u16(i + 2); };
  if (u16(2) != 42) return 0;
  const std::size_t ifd = u32(4);
  if (ifd > t.size() || t.size() - ifd < 2) return 0;
  const std::size_t count = u16(ifd);
  for (std::size_t k = 0; k < count; ++k) {
    const std::size_t entry = ifd + 2 + k * 12;
    if (entry + 12 > t.size()) return 0;
    if (u16(entry) != 0x0112) continue;
    if (u16(entry + 2) != 3) return 0;  // SHORT
    const auto value = static_cast<int>(u16(entry + 8));
    return value >= 1 && value <= 8 ? value : 0;
  }
  return 0;
}

// Turns a decoded image upright by its EXIF orientation (as exiftool names them:
// 2 mirror horizontal, 3 rotate 180, 4 mirror vertical, 5 mirror horizontal and rotate
// 270 CW, 6 rotate 90 CW, 7 mirror horizontal and rotate 90 CW, 8 rotate 270 CW).
pix_ptr apply_orientation(pix_ptr pix, int orientation) {
  if (orientation <= 1 || orientation > 8) return pix;
  if (orientation == 2 || orientation == 5 || orientation == 7) pix.reset(pixFlipLR(nullptr, pix.get()));
  if (!pix) return pix;
  switch (orientation) {
    case 3:
      return pix_ptr(pixRotateOrth(pix.get(), 2));
    case 4:
      return pix_ptr(pixFlipTB(nullptr, pix.get()));
    case 5:
    case 8:
      return pix_ptr(pixRotateOrth(pix.get(), 3));
    case 6:
    case 7:
      return pix_ptr(pixRotateOrth(pix.get(), 1));
    default:
      return pix;
  }
}

}  // namespace

int jpeg_exif_orientation(std::string_view b) {
  auto at = [&](std::size_t i) { return static_cast<unsigned char>(b[i]); };
  if (b.size() < 4 || at(0) != 0xFF || at(1) != 0xD8) return 1;
  std::size_t pos = 2;
  while (pos + 4 <= b.size()) {
    if (at(pos) != 0xFF) return 1;
    const unsigned marker = at(pos + 1);
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // markers without a length
      pos += 2;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return 1;  // the scan starts: no metadata follows
    const std::size_t length = static_cast<std::size_t>(at(pos + 2)) << 8 | at(pos + 3);
    if (length < 2 || b.size() - pos - 2 < length) return 1;
    if (marker == 0xE1) {
      const auto segment = b.substr(pos + 4, length - 2);
      if (segment.size() >= 6 && segment.substr(0, 6) == std::string_view("Exif\0\0", 6)) {
        if (const int o = tiff_orientation(segment.substr(6)); o != 0) return o;
      }
    }
    pos += 2 + length;
  }
  return 1;
}

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
  quiet_leptonica();
  const auto* data = reinterpret_cast<const l_uint8*>(bytes.data());
  l_int32 format = 0, w = 0, h = 0, bps = 0, spp = 0, iscmap = 0;
  if (pixReadHeaderMem(data, bytes.size(), &format, &w, &h, &bps, &spp, &iscmap) != 0 || w <= 0 || h <= 0 ||
      !format_matches(kind, format)) {
    return core::error::invalid_argument("the avatar image is corrupt or in a variant that cannot be read");
  }
  if (static_cast<std::int64_t>(w) * h > limits.max_pixels) {
    return core::error::payload_too_large("the avatar image has " + std::to_string(w) + "x" + std::to_string(h) +
                                          " pixels, more than " + std::to_string(limits.max_pixels));
  }
  pix_ptr pix(pixReadMem(data, bytes.size()));
  if (!pix) return core::error::invalid_argument("the avatar image is corrupt or truncated");
  // Every variant (palette, grey, 1-bit, 16-bit) becomes 8-bit RGB(A).
  if (pixGetColormap(pix.get()) != nullptr) pix.reset(pixRemoveColormap(pix.get(), REMOVE_CMAP_BASED_ON_SRC));
  if (pix && pixGetDepth(pix.get()) != 32) pix.reset(pixConvertTo32(pix.get()));
  if (!pix) return core::error::invalid_argument("the avatar image could not be converted");
  if (kind == image_kind::jpeg) pix = apply_orientation(std::move(pix), jpeg_exif_orientation(bytes));
  if (!pix) return core::error::internal("the avatar image could not be turned upright");

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
