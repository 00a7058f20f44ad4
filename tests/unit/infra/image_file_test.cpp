// The lossless cut of an image file's metadata: what a JPEG, PNG or WebP says besides its
// pixels (EXIF with a GPS position, XMP, comments, text chunks, thumbnails, what follows
// the end of the image) goes, every pixel stays, and a photo keeps its orientation.
#include "infra/ocr/image_file.hpp"

#include <gtest/gtest.h>
#include <leptonica/allheaders.h>

#include <cstdint>
#include <string>

#include "test_images.hpp"

namespace wattos::infra::ocr {
namespace {

using llm::testing::encoded;
using llm::testing::exif_payload;
using llm::testing::jpeg_with_segment;

// A 64 x 48 colour picture with some structure (not one flat colour).
pix_ptr picture() {
  pix_ptr pix(pixCreate(64, 48, 32));
  for (int y = 0; y < 48; ++y) {
    for (int x = 0; x < 64; ++x) {
      const auto r = static_cast<l_uint32>(x * 4), g = static_cast<l_uint32>(y * 5), b = (x ^ y) & 0xffU;
      pixSetPixel(pix.get(), x, y, r << 24 | g << 16 | b << 8);
    }
  }
  return pix;
}

bool same_pixels(const std::string& a, const std::string& b) {
  auto pa = decode_image(a, "a");
  auto pb = decode_image(b, "b");
  if (!pa.ok() || !pb.ok()) return false;
  l_int32 same = 0;
  return pixEqual(pa->get(), pb->get(), &same) == 0 && same == 1;
}

std::string png_chunk(const std::string& type, const std::string& data) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((data.size() >> shift) & 0xffU);
  return out + type + data + std::string(4, '\0');  // the CRC is not read: these chunks go
}

std::string le32(std::uint32_t v) {
  return {static_cast<char>(v & 0xffU), static_cast<char>((v >> 8) & 0xffU), static_cast<char>((v >> 16) & 0xffU),
          static_cast<char>(v >> 24)};
}

std::string riff_chunk(const std::string& fourcc, const std::string& data) {
  return fourcc + le32(static_cast<std::uint32_t>(data.size())) + data + (data.size() % 2 == 1 ? "\0" : "");
}

TEST(image_file, a_jpeg_loses_exif_xmp_comments_thumbnails_and_trailing_data_but_no_pixel) {
  const std::string plain = encoded(picture().get(), IFF_JFIF_JPEG);
  ASSERT_TRUE(plain.starts_with("\xff\xd8\xff\xe0")) << "leptonica writes JFIF first";
  std::string jpeg = jpeg_with_segment(plain, 0xE1, exif_payload(1));
  jpeg =
      jpeg_with_segment(jpeg, 0xE1, std::string("http://ns.adobe.com/xap/1.0/\0", 29) + "<dc:creator>Max Mustermann");
  jpeg = jpeg_with_segment(jpeg, 0xED, std::string("Photoshop 3.0\0", 14) + "IPTC: Max Mustermann");
  jpeg = jpeg_with_segment(jpeg, 0xE2, std::string("MPF\0", 4) + "second picture");
  jpeg = jpeg_with_segment(jpeg, 0xFE, "taken at Musterweg 5");
  jpeg += "\xff\xd8 a second picture after the end";

  const auto clean = without_metadata(jpeg);
  ASSERT_TRUE(clean.has_value());
  EXPECT_EQ(*clean, plain);  // all that was added is gone, what was there stays byte for byte
  EXPECT_TRUE(same_pixels(jpeg, *clean));
}

TEST(image_file, a_jfif_thumbnail_goes_and_the_header_stays) {
  const std::string plain = encoded(picture().get(), IFF_JFIF_JPEG);
  // JFIF's header (its 12 bytes from plain) with a 1 x 1 thumbnail after it.
  const std::string app0 = plain.substr(6, 12) + "\x01\x01" + "RGB";
  const std::string with_thumbnail = jpeg_with_segment(plain.substr(0, 2) + plain.substr(2 + 18), 0xE0, app0);
  const auto clean = without_metadata(with_thumbnail);
  ASSERT_TRUE(clean.has_value());
  EXPECT_EQ(*clean, plain);
}

TEST(image_file, a_turned_photo_keeps_its_orientation_and_nothing_else) {
  const std::string plain = encoded(picture().get(), IFF_JFIF_JPEG);
  const std::string jpeg = jpeg_with_segment(plain, 0xE1, exif_payload(6));
  ASSERT_EQ(jpeg_exif_orientation(jpeg), 6);
  const auto clean = without_metadata(jpeg);
  ASSERT_TRUE(clean.has_value());
  EXPECT_EQ(jpeg_exif_orientation(*clean), 6);
  EXPECT_EQ(clean->find("52.5200"), std::string::npos);
  EXPECT_EQ(clean->size(), plain.size() + 36);  // the orientation's segment
  EXPECT_TRUE(same_pixels(jpeg, *clean));
  // Decoded upright, the 64 x 48 picture stands 48 x 64; without the orientation as stored.
  auto upright = decode_image(*clean, "jpeg");
  ASSERT_TRUE(upright.ok());
  EXPECT_EQ(pixGetWidth(upright->get()), 48);
  EXPECT_EQ(pixGetHeight(upright->get()), 64);
  auto stored = decode_image(plain, "jpeg");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(pixGetWidth(stored->get()), 64);
  EXPECT_EQ(without_metadata(*clean), clean);  // a fixed point
}

TEST(image_file, a_png_loses_text_exif_time_private_chunks_and_trailing_data) {
  const std::string plain = encoded(picture().get(), IFF_PNG);
  constexpr std::size_t after_ihdr = 8 + 25;
  ASSERT_EQ(plain.substr(12, 4), "IHDR");
  const std::string png = plain.substr(0, after_ihdr) + png_chunk("tEXt", std::string("Author\0Max Mustermann", 21)) +
                          png_chunk("iTXt", std::string("Comment\0\0\0\0\0Musterweg 5", 23)) +
                          png_chunk("eXIf", exif_payload(1).substr(6)) +
                          png_chunk("tIME", std::string("\x07\xea\x0c\x07\x10\x00\x00", 7)) +
                          png_chunk("prVt", "private") + plain.substr(after_ihdr) + "after the end";
  const auto clean = without_metadata(png);
  ASSERT_TRUE(clean.has_value());
  EXPECT_EQ(*clean, plain);
  EXPECT_TRUE(same_pixels(plain, *clean));
}

TEST(image_file, a_webp_loses_exif_and_xmp_and_their_flags) {
  const std::string plain = encoded(picture().get(), IFF_WEBP);
  ASSERT_TRUE(plain.starts_with("RIFF") && plain.substr(8, 4) == "WEBP");
  const std::string image = plain.substr(12);                                   // the VP8 or VP8L chunk
  const std::string vp8x_data("\x0c\x00\x00\x00\x3f\x00\x00\x2f\x00\x00", 10);  // EXIF|XMP, 64 x 48
  const std::string chunks = riff_chunk("VP8X", vp8x_data) + image + riff_chunk("EXIF", exif_payload(1).substr(6)) +
                             riff_chunk("XMP ", "<dc:creator>Max Mustermann");
  const std::string webp = "RIFF" + le32(static_cast<std::uint32_t>(4 + chunks.size())) + "WEBP" + chunks;
  ASSERT_TRUE(same_pixels(plain, webp)) << "the extended file decodes as the simple one";

  const auto clean = without_metadata(webp);
  ASSERT_TRUE(clean.has_value());
  EXPECT_EQ(clean->find("Mustermann"), std::string::npos);
  EXPECT_EQ(clean->find("52.5200"), std::string::npos);
  ASSERT_EQ(clean->substr(12, 4), "VP8X");
  EXPECT_EQ(static_cast<unsigned char>((*clean)[20]) & 0x0CU, 0U);  // neither EXIF nor XMP announced
  EXPECT_EQ(clean->substr(4, 4), le32(static_cast<std::uint32_t>(clean->size() - 8)));
  EXPECT_TRUE(same_pixels(plain, *clean));
}

TEST(image_file, broken_structures_and_other_formats_give_nothing) {
  const std::string jpeg = encoded(picture().get(), IFF_JFIF_JPEG);
  const std::string png = encoded(picture().get(), IFF_PNG);
  const std::string webp = encoded(picture().get(), IFF_WEBP);
  EXPECT_FALSE(without_metadata(jpeg.substr(0, jpeg.size() - 2)).has_value());  // no end of image
  EXPECT_FALSE(without_metadata(jpeg.substr(0, 40)).has_value());               // a segment cut off
  EXPECT_FALSE(without_metadata(png.substr(0, png.size() - 12)).has_value());   // no IEND
  EXPECT_FALSE(without_metadata(webp.substr(0, webp.size() - 3)).has_value());  // the RIFF size runs past the end
  const std::string animated_chunks = riff_chunk("VP8X", std::string("\x02\x00\x00\x00\x3f\x00\x00\x2f\x00\x00", 10)) +
                                      riff_chunk("ANIM", std::string(6, '\0')) + webp.substr(12);
  EXPECT_FALSE(
      without_metadata("RIFF" + le32(static_cast<std::uint32_t>(4 + animated_chunks.size())) + "WEBP" + animated_chunks)
          .has_value());
  EXPECT_FALSE(without_metadata(encoded(picture().get(), IFF_GIF)).has_value());
  EXPECT_FALSE(without_metadata("").has_value());
}

TEST(image_file, the_header_is_read_before_the_pixels) {
  const std::string png = encoded(picture().get(), IFF_PNG);
  auto header = read_image_header(png, std::int64_t{64} * 48, "the picture");
  ASSERT_TRUE(header.ok()) << header.err().message();
  EXPECT_EQ(header->format, IFF_PNG);
  EXPECT_EQ(header->width, 64);
  EXPECT_EQ(header->height, 48);
  auto big = read_image_header(png, std::int64_t{64} * 48 - 1, "the picture");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.err().code(), core::errc::payload_too_large);
  EXPECT_EQ(big.err().message(), "the picture has 64x48 pixels, more than 3071");
  auto junk = read_image_header("not an image", 1000, "the picture");
  ASSERT_FALSE(junk.ok());
  EXPECT_EQ(junk.err().code(), core::errc::invalid_argument);
  EXPECT_FALSE(decode_image(png.substr(0, 60), "the picture").ok());
}

}  // namespace
}  // namespace wattos::infra::ocr
