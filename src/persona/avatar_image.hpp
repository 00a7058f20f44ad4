// File: persona/avatar_image.hpp
//
// Uploaded avatar images. An upload is untrusted: it is sniffed by its magic bytes (the
// declared content type is not believed), its header is read before any pixel is
// decoded (a small file may declare a gigapixel image), and it is then decoded with
// leptonica (libpng, libjpeg, libwebp, giflib underneath), turned upright by its EXIF
// orientation, cropped to the centre square, scaled down to `size` pixels and encoded
// anew as PNG. Nothing of the original file survives but its pixels: EXIF (camera,
// GPS position), comments and colour profiles are gone, which also keeps what a
// browser later parses small and well-formed. SVG is refused: it can carry scripts.
//
// Example:
//   WATTOS_ASSIGN_OR_RETURN(auto image, persona::normalise_avatar(body, {}));
//   store.set_avatar(user, admin, id, image);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace wattos::persona {

struct avatar_limits {
  std::uint64_t max_bytes = 5ull << 20;  // the uploaded file
  std::int64_t max_pixels = 40'000'000;  // declared width x height (decoded at 4 bytes a pixel)
  int size = 256;                        // edge of the stored square; smaller images are not enlarged
};

struct avatar_image {
  std::string png;  // the encoded image
  int width = 0;
  int height = 0;
};

// Errors: invalid_argument (empty, corrupt, truncated), unsupported_media (not PNG,
// JPEG, WebP or GIF; SVG), payload_too_large (bytes or pixels over the limits).
core::result<avatar_image> normalise_avatar(std::string_view bytes, const avatar_limits& limits);

}  // namespace wattos::persona
