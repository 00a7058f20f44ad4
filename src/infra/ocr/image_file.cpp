#include "infra/ocr/image_file.hpp"

#include <leptonica/allheaders.h>

#include <array>

namespace wattos::infra::ocr {

namespace {

std::uint32_t byte_at(std::string_view b, std::size_t i) {
  return static_cast<unsigned char>(b[i]);
}
std::uint32_t be16(std::string_view b, std::size_t i) {
  return byte_at(b, i) << 8 | byte_at(b, i + 1);
}
std::uint32_t be32(std::string_view b, std::size_t i) {
  return be16(b, i) << 16 | be16(b, i + 2);
}
std::uint32_t le32(std::string_view b, std::size_t i) {
  return byte_at(b, i) | byte_at(b, i + 1) << 8 | byte_at(b, i + 2) << 16 | byte_at(b, i + 3) << 24;
}
void put_le32(std::string& out, std::uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) out += static_cast<char>((v >> shift) & 0xffU);
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
  auto u16 = [&](std::size_t i) { return little ? byte_at(t, i) | byte_at(t, i + 1) << 8 : be16(t, i); };
  auto u32 = [&](std::size_t i) { return little ? u16(i) | u16(i + 2) << 16 : be32(t, i); };
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

// An APP1 segment whose EXIF holds one entry: the orientation.
std::string orientation_segment(int orientation) {
  std::string tiff("MM\x00\x2a\x00\x00\x00\x08", 8);           // big-endian, IFD0 at offset 8
  tiff += std::string("\x00\x01", 2);                          // one entry
  tiff += std::string("\x01\x12\x00\x03\x00\x00\x00\x01", 8);  // orientation, SHORT, one value
  tiff += std::string(1, '\0') + static_cast<char>(orientation) + std::string(2, '\0');
  tiff += std::string(4, '\0');  // no next IFD
  const std::string payload = std::string("Exif\0\0", 6) + tiff;
  const std::size_t length = payload.size() + 2;
  return std::string("\xff\xe1", 2) + static_cast<char>(length >> 8) + static_cast<char>(length & 0xffU) + payload;
}

bool is_restart_marker(std::uint32_t marker) {
  return marker >= 0xD0 && marker <= 0xD7;
}

std::optional<std::string> jpeg_without_metadata(std::string_view b) {
  if (b.size() < 4 || byte_at(b, 0) != 0xFF || byte_at(b, 1) != 0xD8) return std::nullopt;
  const int orientation = jpeg_exif_orientation(b);
  std::string out(b.substr(0, 2));
  bool orientation_written = orientation == 1;
  std::size_t pos = 2;
  for (;;) {
    if (pos + 2 > b.size() || byte_at(b, pos) != 0xFF) return std::nullopt;
    const std::uint32_t marker = byte_at(b, pos + 1);
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xD9) return out.append("\xff\xd9", 2);  // the end: what follows is not drawn
    if (marker == 0x00 || marker == 0xD8) return std::nullopt;
    if (marker == 0x01 || is_restart_marker(marker)) {  // markers without a length
      out.append(b.substr(pos, 2));
      pos += 2;
      continue;
    }
    if (pos + 4 > b.size()) return std::nullopt;
    const std::size_t length = be16(b, pos + 2);
    if (length < 2 || b.size() - pos - 2 < length) return std::nullopt;
    const std::string_view segment = b.substr(pos, 2 + length);
    const std::string_view payload = segment.substr(4);
    pos += segment.size();
    if (!orientation_written && marker != 0xE0) {  // after the JFIF header, before the rest
      out += orientation_segment(orientation);
      orientation_written = true;
    }
    if (marker == 0xE0) {
      // JFIF's header may end in a thumbnail: kept without it (14 bytes and a 0x0 size).
      if (payload.size() < 14 || !payload.starts_with(std::string_view("JFIF\0", 5))) continue;
      out.append("\xff\xe0\x00\x10", 4).append(payload.substr(0, 12)).append(2, '\0');
      continue;
    }
    if (marker == 0xE2 && !payload.starts_with(std::string_view("ICC_PROFILE\0", 12))) continue;
    if (marker == 0xEE && !payload.starts_with("Adobe")) continue;
    if ((marker > 0xE0 && marker <= 0xEF && marker != 0xE2 && marker != 0xEE) || marker == 0xFE) continue;  // APPn, COM
    out.append(segment);
    if (marker != 0xDA) continue;
    // A scan's entropy-coded data runs to the next marker; 0xFF in the data is followed by
    // 0x00 (stuffing), a restart marker, or another 0xFF (fill).
    const std::size_t data_begin = pos;
    while (pos + 1 < b.size() && !(byte_at(b, pos) == 0xFF && byte_at(b, pos + 1) != 0x00 &&
                                   byte_at(b, pos + 1) != 0xFF && !is_restart_marker(byte_at(b, pos + 1)))) {
      ++pos;
    }
    if (pos + 1 >= b.size()) return std::nullopt;  // no end of image
    out.append(b.substr(data_begin, pos - data_begin));
  }
}

// PNG chunks that draw the image or say how to show its colours; everything else
// (tEXt, zTXt, iTXt, eXIf, tIME, private chunks, the frames of an animation) goes.
bool png_chunk_draws(std::string_view type) {
  static constexpr std::array<std::string_view, 13> kept = {"IHDR", "PLTE", "IDAT", "IEND", "tRNS", "gAMA", "cHRM",
                                                            "sRGB", "iCCP", "sBIT", "bKGD", "pHYs", "cICP"};
  for (const auto k : kept) {
    if (type == k) return true;
  }
  return false;
}

std::optional<std::string> png_without_metadata(std::string_view b) {
  constexpr std::string_view signature("\x89PNG\r\n\x1a\n", 8);
  if (!b.starts_with(signature)) return std::nullopt;
  std::string out(signature);
  std::size_t pos = signature.size();
  while (b.size() - pos >= 12) {
    const std::size_t length = be32(b, pos);
    if (length > b.size() - pos - 12) return std::nullopt;
    const std::string_view type = b.substr(pos + 4, 4);
    const std::string_view chunk = b.substr(pos, 12 + length);
    pos += chunk.size();
    if (!png_chunk_draws(type)) continue;
    out.append(chunk);
    if (type == "IEND") return out;
  }
  return std::nullopt;  // no IEND
}

std::optional<std::string> webp_without_metadata(std::string_view b) {
  if (b.size() < 12 || !b.starts_with("RIFF") || b.substr(8, 4) != "WEBP") return std::nullopt;
  const std::size_t riff_size = le32(b, 4);
  if (riff_size < 4 || riff_size > b.size() - 8) return std::nullopt;
  const std::size_t end = 8 + riff_size;
  std::string chunks;
  std::size_t pos = 12;
  while (pos < end) {
    if (end - pos < 8) return std::nullopt;
    const std::string_view fourcc = b.substr(pos, 4);
    const std::size_t size = le32(b, pos + 4);
    const std::size_t padded = size + (size & 1U);
    if (padded > end - pos - 8) return std::nullopt;
    const std::string_view chunk = b.substr(pos, 8 + padded);
    pos += chunk.size();
    if (fourcc == "ANIM" || fourcc == "ANMF") return std::nullopt;  // frames are not one image
    if (fourcc == "VP8X") {
      if (size < 10) return std::nullopt;
      std::string header(chunk);
      header[8] = static_cast<char>(byte_at(header, 8) & ~0x0CU);  // the EXIF and XMP flags
      chunks += header;
    } else if (fourcc == "VP8 " || fourcc == "VP8L" || fourcc == "ALPH" || fourcc == "ICCP") {
      chunks.append(chunk);
    }
  }
  std::string out("RIFF");
  put_le32(out, static_cast<std::uint32_t>(4 + chunks.size()));
  return out.append("WEBP").append(chunks);
}

}  // namespace

core::result<image_header> read_image_header(std::string_view bytes, std::int64_t max_pixels, std::string_view what) {
  quiet_leptonica();
  l_int32 format = 0, width = 0, height = 0, bits = 0, samples = 0, colormap = 0;
  if (pixReadHeaderMem(reinterpret_cast<const l_uint8*>(bytes.data()), bytes.size(), &format, &width, &height, &bits,
                       &samples, &colormap) != 0 ||
      width <= 0 || height <= 0) {
    return core::error::invalid_argument(std::string(what) + " is corrupt or in a variant that cannot be read");
  }
  if (static_cast<std::int64_t>(width) * height > max_pixels) {
    return core::error::payload_too_large(std::string(what) + " has " + std::to_string(width) + "x" +
                                          std::to_string(height) + " pixels, more than " + std::to_string(max_pixels));
  }
  return image_header{format, width, height};
}

core::result<pix_ptr> decode_image(std::string_view bytes, std::string_view what) {
  quiet_leptonica();
  pix_ptr pix(pixReadMem(reinterpret_cast<const l_uint8*>(bytes.data()), bytes.size()));
  if (!pix) return core::error::invalid_argument(std::string(what) + " is corrupt or truncated");
  // A photo is read as a viewer shows it: by OCR, in an avatar, in what goes on redacted
  // (anything but a JPEG with an orientation stays as it is).
  pix = apply_orientation(std::move(pix), jpeg_exif_orientation(bytes));
  if (!pix) return core::error::internal(std::string(what) + " could not be turned upright");
  return pix;
}

int jpeg_exif_orientation(std::string_view b) {
  if (b.size() < 4 || byte_at(b, 0) != 0xFF || byte_at(b, 1) != 0xD8) return 1;
  std::size_t pos = 2;
  while (pos + 4 <= b.size()) {
    if (byte_at(b, pos) != 0xFF) return 1;
    const std::uint32_t marker = byte_at(b, pos + 1);
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // markers without a length
      pos += 2;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return 1;  // the scan starts: no metadata follows
    const std::size_t length = be16(b, pos + 2);
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

// As exiftool names them: 2 mirror horizontal, 3 rotate 180, 4 mirror vertical,
// 5 mirror horizontal and rotate 270 CW, 6 rotate 90 CW, 7 mirror horizontal and rotate
// 90 CW, 8 rotate 270 CW.
pix_ptr apply_orientation(pix_ptr pix, int orientation) {
  if (orientation <= 1 || orientation > 8 || !pix) return pix;
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

std::optional<std::string> without_metadata(std::string_view bytes) {
  if (bytes.starts_with("\xff\xd8")) return jpeg_without_metadata(bytes);
  if (bytes.starts_with("\x89PNG")) return png_without_metadata(bytes);
  if (bytes.starts_with("RIFF")) return webp_without_metadata(bytes);
  return std::nullopt;
}

}  // namespace wattos::infra::ocr
