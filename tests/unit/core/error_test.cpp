#include "core/error.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <set>

namespace wattos::core {
namespace {

result<int> parse_positive(int v) {
  if (v <= 0) return error::invalid_argument("not positive");
  return v;
}

result<int> doubled(int v) {
  WATTOS_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}

status check(int v) {
  WATTOS_RETURN_IF_ERROR(parse_positive(v));
  return {};
}

TEST(error, result_holds_value_or_error) {
  auto ok = doubled(4);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 8);
  auto bad = doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.err().code(), errc::invalid_argument);
  EXPECT_EQ(bad.err().message(), "not positive");
  EXPECT_EQ(bad.value_or(7), 7);
}

TEST(error, status_propagates) {
  EXPECT_TRUE(check(1).ok());
  auto s = check(0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err().code(), errc::invalid_argument);
}

TEST(error, move_only_values) {
  result<std::unique_ptr<int>> r(std::make_unique<int>(5));
  ASSERT_TRUE(r.ok());
  auto p = std::move(r).value();
  EXPECT_EQ(*p, 5);
}

TEST(error, with_context_prefixes) {
  auto e = error::not_found("row").with_context("user 7");
  EXPECT_EQ(e.message(), "user 7: row");
  EXPECT_EQ(e.code(), errc::not_found);
}

TEST(error, every_code_has_a_distinct_name) {
  std::set<std::string_view> names;
  for (int c = 0; c <= static_cast<int>(errc::internal); ++c) {
    auto name = errc_name(static_cast<errc>(c));
    EXPECT_FALSE(name.empty());
    EXPECT_TRUE(names.insert(name).second) << name;
  }
}

}  // namespace
}  // namespace wattos::core
