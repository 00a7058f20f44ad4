// Uploaded avatars: decoding, the upright turn by EXIF orientation, the centre crop, the
// scaling (never up), metadata that must not survive (PNG text, JPEG comments, EXIF),
// refusals (SVG, unknown bytes, corrupt files, pixel bombs, oversized files), and the
// store (set, replace, remove; owners and admins only; KAYA read-only) on both backends.
#include <gtest/gtest.h>
#include <leptonica/allheaders.h>

#include <memory>

#include "infra/ocr/image_file.hpp"
#include "persona/avatar_image.hpp"
#include "persona/persona.hpp"
#include "persona_store_fixture.hpp"

namespace wattos::persona {
namespace {

using infra::ocr::jpeg_exif_orientation;

// A suite of its own name on the shared fixture, so that the two files' cases stay apart.
class avatar_store_test : public testing::persona_store_test {};

struct pix_deleter {
  void operator()(Pix* p) const { pixDestroy(&p); }
};
using pix_ptr = std::unique_ptr<Pix, pix_deleter>;

constexpr l_uint32 red = 0xff000000;  // leptonica RGBA: r, g, b, a from the high byte
constexpr l_uint32 blue = 0x0000ff00;

// An RGB image whose left half is red and right half blue.
pix_ptr halves(int w, int h) {
  pix_ptr pix(pixCreate(w, h, 32));
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) pixSetPixel(pix.get(), x, y, x < w / 2 ? red : blue);
  }
  return pix;
}

std::string encode(Pix* pix, int format) {
  l_uint8* data = nullptr;
  size_t size = 0;
  EXPECT_EQ(pixWriteMem(&data, &size, pix, format), 0);
  std::string out(reinterpret_cast<char*>(data), size);
  lept_free(data);
  return out;
}

pix_ptr decode(const std::string& bytes) {
  return pix_ptr(pixReadMem(reinterpret_cast<const l_uint8*>(bytes.data()), bytes.size()));
}

// Red or blue (JPEG blurs the colours a little).
char colour_at(Pix* pix, int x, int y) {
  l_int32 r = 0, g = 0, b = 0;
  pixGetRGBPixel(pix, x, y, &r, &g, &b);
  if (r > 180 && b < 80) return 'r';
  if (b > 180 && r < 80) return 'b';
  return '?';
}

// An APP1 Exif segment (big- or little-endian TIFF) with one orientation entry, put
// right after the JPEG's SOI marker, plus a comment segment.
std::string with_exif(std::string jpeg, int orientation, bool little_endian, const std::string& comment) {
  std::string tiff =
      little_endian ? std::string("II\x2a\x00\x08\x00\x00\x00", 8) : std::string("MM\x00\x2a\x00\x00\x00\x08", 8);
  auto u16 = [&](unsigned v) {
    return little_endian ? std::string{static_cast<char>(v & 0xff), static_cast<char>(v >> 8)}
                         : std::string{static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
  };
  tiff += u16(1);  // one entry
  tiff +=
      u16(0x0112) + u16(3) + (little_endian ? std::string("\x01\x00\x00\x00", 4) : std::string("\x00\x00\x00\x01", 4));
  tiff += u16(static_cast<unsigned>(orientation)) + std::string(2, '\0');
  tiff += std::string(4, '\0');  // no next IFD
  std::string app1 = std::string("Exif\0\0", 6) + tiff;
  const std::size_t len = app1.size() + 2;
  std::string segment = std::string("\xff\xe1", 2) + static_cast<char>(len >> 8) + static_cast<char>(len & 0xff) + app1;
  const std::size_t clen = comment.size() + 2;
  segment += std::string("\xff\xfe", 2) + static_cast<char>(clen >> 8) + static_cast<char>(clen & 0xff) + comment;
  jpeg.insert(2, segment);
  return jpeg;
}

TEST(avatar_image, png_is_cropped_to_the_centre_square_and_scaled_down) {
  auto pix = halves(600, 400);
  pixSetText(pix.get(), "secret-comment-in-png");
  const std::string png = encode(pix.get(), IFF_PNG);
  ASSERT_NE(png.find("secret-comment-in-png"), std::string::npos);  // the input carries it
  auto out = normalise_avatar(png, {});
  ASSERT_TRUE(out.ok()) << out.err().message();
  EXPECT_EQ(out->width, 256);
  EXPECT_EQ(out->height, 256);
  EXPECT_EQ(out->png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(out->png.find("secret-comment-in-png"), std::string::npos);
  auto back = decode(out->png);
  ASSERT_TRUE(back);
  EXPECT_EQ(colour_at(back.get(), 10, 128), 'r');
  EXPECT_EQ(colour_at(back.get(), 245, 128), 'b');
}

TEST(avatar_image, small_images_are_not_enlarged_and_alpha_survives) {
  pix_ptr rgba(pixCreate(80, 40, 32));
  pixSetSpp(rgba.get(), 4);
  for (int y = 0; y < 40; ++y) {
    for (int x = 0; x < 80; ++x) pixSetPixel(rgba.get(), x, y, x < 40 ? 0xff0000ff : 0x0000ff00);  // opaque red | clear
  }
  auto out = normalise_avatar(encode(rgba.get(), IFF_PNG), {});
  ASSERT_TRUE(out.ok()) << out.err().message();
  EXPECT_EQ(out->width, 40);
  EXPECT_EQ(out->height, 40);
  auto back = decode(out->png);
  ASSERT_TRUE(back);
  EXPECT_EQ(pixGetSpp(back.get()), 4);
}

TEST(avatar_image, jpeg_is_turned_upright_and_loses_exif_and_comments) {
  const std::string plain = encode(halves(500, 300).get(), IFF_JFIF_JPEG);
  for (bool little : {true, false}) {
    // Orientation 6: the camera was turned; shown upright, the left (red) half is on top.
    const std::string jpeg = with_exif(plain, 6, little, "GPS 52.5200 13.4050");
    EXPECT_EQ(jpeg_exif_orientation(jpeg), 6);
    auto out = normalise_avatar(jpeg, {});
    ASSERT_TRUE(out.ok()) << out.err().message();
    EXPECT_EQ(out->png.find("52.5200"), std::string::npos);
    EXPECT_EQ(out->png.find("Exif"), std::string::npos);
    auto back = decode(out->png);
    ASSERT_TRUE(back);
    EXPECT_EQ(colour_at(back.get(), 128, 10), 'r');
    EXPECT_EQ(colour_at(back.get(), 128, 245), 'b');
  }
  // Without orientation the halves stay side by side.
  auto out = normalise_avatar(plain, {});
  ASSERT_TRUE(out.ok());
  auto back = decode(out->png);
  EXPECT_EQ(colour_at(back.get(), 10, 128), 'r');
  EXPECT_EQ(colour_at(back.get(), 245, 128), 'b');
  // Orientation 3 (upside down): red ends up on the right.
  auto turned = normalise_avatar(with_exif(plain, 3, true, "x"), {});
  ASSERT_TRUE(turned.ok());
  back = decode(turned->png);
  EXPECT_EQ(colour_at(back.get(), 245, 128), 'r');
}

TEST(avatar_image, exif_reader_survives_malformed_segments) {
  EXPECT_EQ(jpeg_exif_orientation(""), 1);
  EXPECT_EQ(jpeg_exif_orientation("\xff\xd8"), 1);
  EXPECT_EQ(jpeg_exif_orientation(std::string("\xff\xd8\xff\xe1\xff\xff", 6)), 1);  // length past the end
  EXPECT_EQ(jpeg_exif_orientation(std::string("\xff\xd8\xff\xe1\x00\x00", 6)), 1);  // length below 2
  std::string bad_ifd = with_exif(std::string("\xff\xd8\xff\xd9", 4), 6, true, "c");
  bad_ifd[2 + 4 + 6 + 4] = '\x7f';  // IFD0 offset far past the segment
  EXPECT_EQ(jpeg_exif_orientation(bad_ifd), 1);
  EXPECT_EQ(jpeg_exif_orientation(with_exif(std::string("\xff\xd8\xff\xd9", 4), 9, true, "c")), 1);  // no such value
}

TEST(avatar_image, refuses_what_is_not_a_safe_raster_image) {
  EXPECT_EQ(normalise_avatar("", {}).err().code(), core::errc::invalid_argument);
  auto svg = normalise_avatar("  <svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>", {});
  EXPECT_EQ(svg.err().code(), core::errc::unsupported_media);
  EXPECT_NE(svg.err().message().find("SVG"), std::string::npos);
  EXPECT_EQ(normalise_avatar("%PDF-1.7 not an image", {}).err().code(), core::errc::unsupported_media);
  const std::string png = encode(halves(64, 64).get(), IFF_PNG);
  EXPECT_EQ(normalise_avatar(png.substr(0, png.size() / 2), {}).err().code(), core::errc::invalid_argument);
  EXPECT_EQ(normalise_avatar(png.substr(0, 20), {}).err().code(), core::errc::invalid_argument);
  avatar_limits tiny;
  tiny.max_bytes = 100;
  EXPECT_EQ(normalise_avatar(png, tiny).err().code(), core::errc::payload_too_large);
  // A PNG whose header declares 100000 x 100000 pixels is refused before decoding.
  std::string bomb = png;
  const std::string huge("\x00\x01\x86\xa0\x00\x01\x86\xa0", 8);
  bomb.replace(16, 8, huge);
  EXPECT_EQ(normalise_avatar(bomb, {}).err().code(), core::errc::payload_too_large);
  // The magic bytes decide, not what follows them: a GIF header on PNG data fails.
  std::string mislabelled = "GIF89a" + png.substr(6);
  EXPECT_FALSE(normalise_avatar(mislabelled, {}).ok());
}

TEST(avatar_image, other_formats_and_bit_depths_are_read) {
  pix_ptr grey(pixCreate(300, 300, 8));
  pixSetAllArbitrary(grey.get(), 128);
  for (int format : {IFF_PNG, IFF_JFIF_JPEG, IFF_GIF, IFF_WEBP}) {
    auto out = normalise_avatar(encode(grey.get(), format), {});
    ASSERT_TRUE(out.ok()) << format << ": " << out.err().message();
    EXPECT_EQ(out->width, 256) << format;
  }
  pix_ptr mono(pixCreate(50, 70, 1));
  auto out = normalise_avatar(encode(mono.get(), IFF_PNG), {});
  ASSERT_TRUE(out.ok()) << out.err().message();
  EXPECT_EQ(out->width, 50);
}

TEST_P(avatar_store_test, set_replace_remove_by_owners_only) {
  character c;
  c.name = "Ida";
  auto created = store_->create("user-a", c);
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(created->avatar_etag.empty());
  EXPECT_EQ(store_->avatar(created->id).err().code(), core::errc::not_found);

  auto first = normalise_avatar(encode(halves(300, 300).get(), IFF_PNG), {});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(store_->set_avatar("user-b", false, created->id, *first).err().code(), core::errc::permission_denied);
  EXPECT_EQ(store_->set_avatar("user-a", true, "kaya", *first).err().code(), core::errc::permission_denied);
  auto with = store_->set_avatar("user-a", false, created->id, *first);
  ASSERT_TRUE(with.ok()) << with.err().message();
  EXPECT_EQ(with->avatar_etag.size(), 32u);
  auto stored = store_->avatar("Ida");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->png, first->png);
  EXPECT_EQ(stored->etag, with->avatar_etag);
  EXPECT_EQ(store_->get(created->id)->avatar_etag, with->avatar_etag);

  // An update of the persona keeps the image; what the client sends as etag is ignored.
  character changed = *with;
  changed.role = "Lektorin";
  changed.avatar_etag = "forged";
  auto updated = store_->update("user-a", false, created->id, changed);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->avatar_etag, with->avatar_etag);

  // An admin replaces it; the etag follows the content.
  auto second = normalise_avatar(encode(halves(100, 300).get(), IFF_PNG), {});
  ASSERT_TRUE(second.ok());
  auto replaced = store_->set_avatar("admin", true, created->id, *second);
  ASSERT_TRUE(replaced.ok());
  EXPECT_NE(replaced->avatar_etag, with->avatar_etag);
  EXPECT_EQ(store_->avatar(created->id)->png, second->png);

  EXPECT_EQ(store_->remove_avatar("user-b", false, created->id).err().code(), core::errc::permission_denied);
  auto removed = store_->remove_avatar("user-a", false, created->id);
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(removed->avatar_etag.empty());
  EXPECT_EQ(store_->avatar(created->id).err().code(), core::errc::not_found);

  // Deleting a persona deletes its image with it.
  ASSERT_TRUE(store_->set_avatar("user-a", false, created->id, *first).ok());
  ASSERT_TRUE(store_->remove("user-a", false, created->id).ok());
  auto rows = db().execute("SELECT COUNT(*) FROM persona_avatars", {});
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows->rows.front().get_int(0), 0);
}

INSTANTIATE_TEST_SUITE_P(backends, avatar_store_test, ::testing::Values("sqlite", "postgres"),
                         infra::db::testing::backend_name);

}  // namespace
}  // namespace wattos::persona
