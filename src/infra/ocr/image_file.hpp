// File: infra/ocr/image_file.hpp
//
// Image files from outside (avatar uploads, documents, images in chat requests). The
// header is read before any pixel is decoded (a small file may declare a gigapixel
// image); a photo is turned upright by its EXIF orientation; and what a file carries
// besides its pixels (EXIF with the camera and the GPS position, XMP, comments, text
// chunks, thumbnails, data after the end of the image) can be cut away without
// decoding, so that the pixels stay exactly as they were.
//
// Example:
//   WATTOS_ASSIGN_OR_RETURN(auto header, ocr::read_image_header(bytes, 16'000'000, "the image"));
//   WATTOS_ASSIGN_OR_RETURN(auto pix, ocr::decode_image(bytes, "the image"));
//   if (auto clean = ocr::without_metadata(bytes)) send(*clean);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "infra/ocr/ocr_engine.hpp"

namespace wattos::infra::ocr {

struct image_header {
  int format = 0;  // leptonica's IFF_PNG, IFF_JFIF_JPEG, IFF_WEBP, IFF_GIF, ...
  int width = 0;
  int height = 0;
};

// `what` names the image in the messages ("the avatar image"). invalid_argument when the
// header does not read; payload_too_large when it declares more than max_pixels.
core::result<image_header> read_image_header(std::string_view bytes, std::int64_t max_pixels, std::string_view what);

// The pixels, once read_image_header accepted the file, upright: a JPEG is turned by its
// EXIF orientation. invalid_argument when they do not decode.
core::result<pix_ptr> decode_image(std::string_view bytes, std::string_view what);

// The EXIF orientation (1-8) of a JPEG, 1 when it has none or the data is not one.
int jpeg_exif_orientation(std::string_view jpeg);

// `pix` turned upright by an EXIF orientation (1 leaves it as it is); null when
// leptonica fails.
pix_ptr apply_orientation(pix_ptr pix, int orientation);

// The file with only what draws its image: for a JPEG the JFIF header (without its
// thumbnail), the ICC profile, the Adobe colour transform, the tables and the scans up
// to the end of the image, and, when the photo is not upright, a minimal EXIF segment
// that holds the orientation and nothing else; for a PNG the chunks of the image (an
// animated PNG keeps its default image) up to IEND; for a WebP the image, its alpha and
// ICC profile. The bytes that stay are copied unchanged. nullopt for other formats, an
// animated WebP and a structure that does not hold together (the caller then encodes
// the decoded pixels anew).
std::optional<std::string> without_metadata(std::string_view bytes);

}  // namespace wattos::infra::ocr
