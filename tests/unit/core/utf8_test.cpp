#include "core/utf8.hpp"

#include <gtest/gtest.h>

namespace wattos::core {
namespace {

TEST(utf8, accepts_valid_text) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("Grüße, Straße, 東京, 😀"));
  EXPECT_TRUE(is_valid_utf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
}

TEST(utf8, rejects_broken_sequences) {
  for (std::string_view bad : {std::string_view("\xc0\xaf"), std::string_view("\xe0\x80\xaf"),
                               std::string_view("\xed\xa0\x80"), std::string_view("\xf4\x90\x80\x80"),
                               std::string_view("\xc3"), std::string_view("\xff"), std::string_view("a\x80")}) {
    EXPECT_FALSE(is_valid_utf8(bad));
  }
}

TEST(utf8, repairs_with_replacement_character) {
  EXPECT_EQ(to_valid_utf8("a\xff"
                          "b"),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(to_valid_utf8("ü\xc3"), "ü\xef\xbf\xbd");
  EXPECT_EQ(to_valid_utf8("ok"), "ok");
}

}  // namespace
TEST(utf8, prefix_never_ends_inside_a_character) {
  const std::string text = "Größe";  // G r ö(2) ß(2) e
  EXPECT_EQ(utf8_prefix(text, 100), text);
  EXPECT_EQ(utf8_prefix(text, 2), "Gr");
  EXPECT_EQ(utf8_prefix(text, 3), "Gr");  // would cut ö in half
  EXPECT_EQ(utf8_prefix(text, 4), "Grö");
  EXPECT_EQ(utf8_prefix(text, 5), "Grö");
  EXPECT_EQ(utf8_prefix(text, 6), "Größ");
  EXPECT_EQ(utf8_prefix(text, 0), "");
}

}  // namespace wattos::core
