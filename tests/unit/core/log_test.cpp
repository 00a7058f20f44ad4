#include "core/log.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <vector>

namespace wattos::core {
namespace {

TEST(log, line_is_valid_json_with_fields) {
  std::string line = format_log_line(log_level::warn, "hello \"world\"\n",
                                     {{"request_id", "abc"}, {"status", 404}, {"ok", false}, {"secs", 0.25}});
  auto value = boost::json::parse(line);
  const auto& obj = value.as_object();
  EXPECT_EQ(obj.at("level").as_string(), "warn");
  EXPECT_EQ(obj.at("msg").as_string(), "hello \"world\"\n");
  EXPECT_EQ(obj.at("request_id").as_string(), "abc");
  EXPECT_EQ(obj.at("status").as_int64(), 404);
  EXPECT_EQ(obj.at("ok").as_bool(), false);
  EXPECT_DOUBLE_EQ(obj.at("secs").as_double(), 0.25);
  EXPECT_EQ(obj.at("ts").as_string().size(), 24u);
}

TEST(log, invalid_utf8_still_gives_json) {
  std::string bad = "a\xff\xfe b";
  std::string line = format_log_line(log_level::info, bad, {});
  boost::system::error_code ec;
  boost::json::parse(line, ec);
  EXPECT_FALSE(ec) << line;
}

TEST(log, level_filter_and_sink) {
  std::vector<std::string> lines;
  set_log_sink([&](std::string_view l) { lines.emplace_back(l); });
  set_log_level(log_level::warn);
  log_info("dropped");
  log_error("kept", {{"k", "v"}});
  set_log_level(log_level::info);
  set_log_sink({});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"kept\""), std::string::npos);
}

TEST(log, parse_level_names) {
  EXPECT_EQ(parse_log_level("debug"), log_level::debug);
  EXPECT_EQ(parse_log_level("error"), log_level::error);
  EXPECT_EQ(parse_log_level("nonsense"), log_level::info);
}

}  // namespace
}  // namespace wattos::core
