// Personal data in images bound for an external model: OCR finds the e-mail address in a
// real German letter and paints it over; what stays readable is the rest of the letter.
#include "infra/llm/image_pii.hpp"

#include <gtest/gtest.h>
#include <leptonica/allheaders.h>
#include <tesseract/baseapi.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include "infra/llm/pii.hpp"
#include "infra/ocr/ocr_engine.hpp"
#include "test_images.hpp"

namespace wattos::infra::llm {
namespace {

// What OCR reads in a data URL's image.
std::string ocr_text(std::string_view url) {
  const std::string bytes = testing::data_url_bytes(url);
  EXPECT_FALSE(bytes.empty());
  if (bytes.empty()) return {};
  Pix* pix = pixReadMem(reinterpret_cast<const l_uint8*>(bytes.data()), bytes.size());
  EXPECT_NE(pix, nullptr);
  if (pix == nullptr) return {};
  auto api = ocr::engine_for("deu+eng");
  EXPECT_TRUE(api.ok());
  if (!api.ok()) {
    pixDestroy(&pix);
    return {};
  }
  (*api)->SetImage(pix);
  (*api)->SetSourceResolution(110);
  const std::unique_ptr<char[]> text((*api)->GetUTF8Text());
  (*api)->Clear();
  pixDestroy(&pix);
  return text ? std::string(text.get()) : std::string();
}

bool has_email(const std::string& text) {
  for (const auto& m : find_pii(text)) {
    if (m.kind == pii_kind::email) return true;
  }
  return false;
}

TEST(image_pii, the_letters_email_address_is_painted_over) {
  const std::string letter = testing::letter_data_url();
  ASSERT_FALSE(letter.empty()) << "the letter could not be rendered";
  // The unredacted page: OCR reads the address, so the test below can fail.
  const std::string before = ocr_text(letter);
  ASSERT_TRUE(has_email(before)) << before;

  auto checked = redact_image_pii(letter);
  ASSERT_TRUE(checked.ok()) << checked.err().message();
  EXPECT_GE(checked->regions, 1);
  EXPECT_TRUE(checked->url.starts_with("data:image/png;base64,"));
  EXPECT_NE(checked->url, letter);

  const std::string after = ocr_text(checked->url);
  EXPECT_FALSE(has_email(after)) << after;
  EXPECT_EQ(after.find("gmail"), std::string::npos) << after;
  // Only the address went: the sender, the recipient and the letter's text are still there.
  EXPECT_NE(after.find("Mustermann"), std::string::npos) << after;
  EXPECT_NE(after.find("EasyCare"), std::string::npos) << after;
  EXPECT_NE(after.find("Mitgliedschaft"), std::string::npos) << after;
}

TEST(image_pii, an_image_without_personal_data_goes_out_unchanged) {
  const std::string blank = testing::blank_data_url();
  ASSERT_FALSE(blank.empty());
  auto checked = redact_image_pii(blank);
  ASSERT_TRUE(checked.ok()) << checked.err().message();
  EXPECT_EQ(checked->regions, 0);
  EXPECT_EQ(checked->url, blank);
  // Too small for a word: not read at all.
  const std::string pixel = testing::blank_data_url(1, 1);
  auto tiny = redact_image_pii(pixel);
  ASSERT_TRUE(tiny.ok()) << tiny.err().message();
  EXPECT_EQ(tiny->url, pixel);
}

// PNG's chunk checksum (CRC-32, ISO 3309), for the chunk made below.
std::uint32_t png_crc(std::string_view bytes) {
  std::uint32_t crc = 0xffffffffU;
  for (const char c : bytes) {
    crc ^= static_cast<unsigned char>(c);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320U & (0U - (crc & 1U)));
  }
  return ~crc;
}

std::string big_endian(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// An animated PNG's frames are never read: it goes on as the image that was read (its
// default image; the animation's chunks are cut away).
TEST(image_pii, an_animated_png_goes_on_as_the_frame_that_was_read) {
  const std::string still = testing::blank_data_url();
  const std::string still_bytes = testing::data_url_bytes(still);
  ASSERT_FALSE(still_bytes.empty());
  // acTL (2 frames, endless) right after IHDR (8 signature bytes + 25 of IHDR).
  const std::string body = "acTL" + big_endian(2) + big_endian(0);
  std::string animated = still_bytes;
  animated.insert(33, big_endian(8) + body + big_endian(png_crc(body)));
  const std::string url = "data:image/png;base64," + core::base64_encode(animated);
  auto checked = redact_image_pii(url);
  ASSERT_TRUE(checked.ok()) << checked.err().message();
  EXPECT_NE(checked->url, url);
  EXPECT_TRUE(checked->metadata_removed);
  EXPECT_EQ(testing::data_url_bytes(checked->url), still_bytes);
}

// A photo without personal data in its text keeps its pixels byte for byte, but not its
// EXIF (GPS position) or comments; one without any metadata goes on as it came.
TEST(image_pii, a_photo_loses_its_metadata_but_not_its_pixels) {
  const std::string plain = testing::data_url_bytes(testing::blank_data_url(64, 48, IFF_JFIF_JPEG, "image/jpeg"));
  ASSERT_FALSE(plain.empty());
  std::string photo = testing::jpeg_with_segment(plain, 0xE1, testing::exif_payload(1));
  photo = testing::jpeg_with_segment(photo, 0xFE, "Max Mustermann, Musterweg 5");
  const std::string url = "data:image/jpeg;base64," + core::base64_encode(photo);
  auto checked = redact_image_pii(url);
  ASSERT_TRUE(checked.ok()) << checked.err().message();
  EXPECT_EQ(checked->regions, 0);
  EXPECT_TRUE(checked->metadata_removed);
  EXPECT_TRUE(checked->url.starts_with("data:image/jpeg;base64,"));
  EXPECT_EQ(testing::data_url_bytes(checked->url), plain);

  const std::string clean_url = "data:image/jpeg;base64," + core::base64_encode(plain);
  auto unchanged = redact_image_pii(clean_url);
  ASSERT_TRUE(unchanged.ok()) << unchanged.err().message();
  EXPECT_FALSE(unchanged->metadata_removed);
  EXPECT_EQ(unchanged->url, clean_url);
}

// A WebP with metadata goes on encoded anew (libwebp may read a malformed bitstream past
// its chunk, so cut bytes are not trusted to show what OCR read).
TEST(image_pii, a_webp_with_metadata_goes_on_as_png) {
  const std::string plain = testing::data_url_bytes(testing::blank_data_url(64, 48, IFF_WEBP, "image/webp"));
  ASSERT_TRUE(plain.starts_with("RIFF"));
  const std::string exif = "EXIF" + std::string("\x05\x00\x00\x00", 4) + "GPS 5" + std::string(1, '\0');
  std::string webp = plain + exif;
  const auto riff_size = static_cast<std::uint32_t>(webp.size() - 8);
  for (int i = 0; i < 4; ++i) webp[4 + i] = static_cast<char>((riff_size >> (8 * i)) & 0xffU);
  auto checked = redact_image_pii("data:image/webp;base64," + core::base64_encode(webp));
  ASSERT_TRUE(checked.ok()) << checked.err().message();
  EXPECT_TRUE(checked->metadata_removed);
  EXPECT_TRUE(checked->url.starts_with("data:image/png;base64,"));
  EXPECT_EQ(testing::data_url_bytes(checked->url).find("GPS"), std::string::npos);
}

// A phone photo is stored sideways with an EXIF orientation: OCR reads it as it is shown,
// finds the address, and the redacted photo goes on upright (its EXIF is gone).
TEST(image_pii, a_sideways_photo_is_read_upright) {
  const std::string stored = testing::sideways_letter_jpeg();
  ASSERT_FALSE(stored.empty()) << "the letter could not be rendered";
  const ocr::pix_ptr sideways(pixReadMem(reinterpret_cast<const l_uint8*>(stored.data()), stored.size()));
  ASSERT_TRUE(sideways);
  // Without its orientation the address is not found (the check below can fail).
  auto unturned = redact_image_pii("data:image/jpeg;base64," + core::base64_encode(stored));
  ASSERT_TRUE(unturned.ok()) << unturned.err().message();
  EXPECT_EQ(unturned->regions, 0);

  const std::string photo = testing::jpeg_with_segment(stored, 0xE1, testing::exif_payload(6));  // turn right to show
  auto checked = redact_image_pii("data:image/jpeg;base64," + core::base64_encode(photo));
  ASSERT_TRUE(checked.ok()) << checked.err().message();
  EXPECT_GE(checked->regions, 1);
  const std::string out = testing::data_url_bytes(checked->url);
  EXPECT_EQ(out.find("Exif"), std::string::npos);
  const ocr::pix_ptr shown(pixReadMem(reinterpret_cast<const l_uint8*>(out.data()), out.size()));
  ASSERT_TRUE(shown);
  EXPECT_EQ(pixGetWidth(shown.get()), pixGetHeight(sideways.get()));  // upright, as the page was
  const std::string after = ocr_text(checked->url);
  EXPECT_FALSE(has_email(after)) << after;
  EXPECT_NE(after.find("Mitgliedschaft"), std::string::npos) << after;
}

// A GIF may hold frames that were never read: only its first frame, the one OCR saw,
// goes on (as PNG), however small.
TEST(image_pii, a_gif_goes_on_as_the_frame_that_was_read) {
  for (int side : {64, 4}) {
    const std::string gif = testing::blank_data_url(side, side, IFF_GIF, "image/gif");
    ASSERT_FALSE(gif.empty());
    auto checked = redact_image_pii(gif);
    ASSERT_TRUE(checked.ok()) << checked.err().message();
    EXPECT_EQ(checked->regions, 0);
    EXPECT_TRUE(checked->url.starts_with("data:image/png;base64,")) << side;
  }
}

TEST(image_pii, what_cannot_be_checked_is_refused) {
  // The provider would fetch what the gateway never saw.
  auto remote = redact_image_pii("https://example.eu/rechnung.png");
  ASSERT_FALSE(remote.ok());
  EXPECT_EQ(remote.err().code(), core::errc::invalid_argument);
  EXPECT_NE(remote.err().message().find("data URL"), std::string::npos);
  // Not base64; a PNG signature and nothing after it; a payload that is no image at all.
  for (const char* url : {"data:image/png;base64,@@@@", "data:image/png;base64,iVBORw0KGgo=",
                          "data:image/png;base64,aGVsbG8gd29ybGQ=", "data:image/png,rawbytes"}) {
    auto bad = redact_image_pii(url);
    ASSERT_FALSE(bad.ok()) << url;
    EXPECT_EQ(bad.err().code(), core::errc::invalid_argument) << url;
  }
  // The size is read from the header, before anything is decoded or recognised.
  image_pii_limits small;
  small.max_pixels = 1000;
  auto large = redact_image_pii(testing::blank_data_url(), small);
  ASSERT_FALSE(large.ok());
  EXPECT_EQ(large.err().code(), core::errc::payload_too_large);
  // Languages that tesseract does not have: OCR is unavailable and nothing is sent.
  image_pii_limits unknown;
  unknown.languages = "xyz";
  auto unavailable = redact_image_pii(testing::blank_data_url(), unknown);
  ASSERT_FALSE(unavailable.ok());
  EXPECT_EQ(unavailable.err().code(), core::errc::unavailable);
}

}  // namespace
}  // namespace wattos::infra::llm
