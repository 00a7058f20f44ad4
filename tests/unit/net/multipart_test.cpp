#include "net/multipart.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace wattos::net {
namespace {

const std::string body =
    "preamble\r\n"
    "--B0und\r\n"
    "Content-Disposition: form-data; name=\"title\"\r\n\r\n"
    "Grüße\r\n"
    "--B0und\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"q\\\".txt\"\r\n"
    "Content-Type: text/plain\r\n\r\n"
    "line one\r\n--B0un not a delimiter\r\nline two\r\n"
    "--B0und\r\n"
    "Content-Disposition: form-data; name=\"utf\"; filename*=UTF-8''%C3%BCber.pdf\r\n\r\n"
    "%PDF\r\n"
    "--B0und--\r\n"
    "epilogue ignored";

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class multipart_chunks : public ::testing::TestWithParam<std::size_t> {};

TEST_P(multipart_chunks, every_chunk_size_gives_same_parts) {
  auto dir = std::filesystem::temp_directory_path() /
             ("wattos-mp-" + std::to_string(GetParam()) + "-" + std::to_string(::getpid()));
  std::filesystem::path first_path;
  {
    multipart_disk_writer writer("B0und", dir);
    for (std::size_t i = 0; i < body.size(); i += GetParam()) {
      ASSERT_TRUE(writer.feed(std::string_view(body).substr(i, GetParam())).ok()) << i;
    }
    ASSERT_TRUE(writer.finish().ok());
    auto fields = writer.take_fields();
    ASSERT_EQ(fields.size(), 1u);
    EXPECT_EQ(fields[0].first, "title");
    EXPECT_EQ(fields[0].second, "Grüße");
    auto files = writer.take_files();
    ASSERT_EQ(files.size(), 2u);
    EXPECT_EQ(files[0].field_name, "file");
    EXPECT_EQ(files[0].filename, "a \"q\".txt");
    EXPECT_EQ(files[0].content_type, "text/plain");
    EXPECT_EQ(read_file(files[0].path), "line one\r\n--B0un not a delimiter\r\nline two");
    EXPECT_EQ(files[0].size, 42u);
    EXPECT_EQ(files[1].filename, "über.pdf");
    EXPECT_EQ(read_file(files[1].path), "%PDF");
    first_path = files[0].path;
    // Taken files belong to the caller: the writer's destructor leaves them.
  }
  EXPECT_TRUE(std::filesystem::exists(first_path));
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(sizes, multipart_chunks, ::testing::Values(1, 2, 3, 7, 9, 16, 64, 100000));

TEST(multipart, untaken_files_are_removed) {
  auto dir = std::filesystem::temp_directory_path() / ("wattos-mp-untaken-" + std::to_string(::getpid()));
  {
    multipart_disk_writer writer("B0und", dir);
    ASSERT_TRUE(writer.feed(body.substr(0, body.find("line two"))).ok());  // mid-file
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  std::filesystem::remove_all(dir);
}

TEST(multipart, truncated_body_fails_on_finish) {
  multipart_parser parser("B0und", {[](const multipart_part_info&) { return core::status{}; },
                                    [](std::string_view) { return core::status{}; }, [] { return core::status{}; }});
  ASSERT_TRUE(parser.feed(body.substr(0, 120)).ok());
  auto st = parser.finish();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.err().code(), core::errc::invalid_argument);
}

TEST(multipart, limits_are_enforced) {
  multipart_limits limits;
  limits.max_parts = 1;
  multipart_parser parser("B0und",
                          {[](const multipart_part_info&) { return core::status{}; },
                           [](std::string_view) { return core::status{}; }, [] { return core::status{}; }},
                          limits);
  auto st = parser.feed(body);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.err().code(), core::errc::payload_too_large);

  auto dir = std::filesystem::temp_directory_path() / ("wattos-mp-limit-" + std::to_string(::getpid()));
  multipart_limits small;
  small.max_file_bytes = 10;
  multipart_disk_writer writer("B0und", dir, small);
  auto big = writer.feed(body);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.err().code(), core::errc::payload_too_large);
  std::filesystem::remove_all(dir);
}

TEST(multipart, part_without_name_is_rejected) {
  multipart_parser parser("B", {[](const multipart_part_info&) { return core::status{}; },
                                [](std::string_view) { return core::status{}; }, [] { return core::status{}; }});
  auto st = parser.feed("--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--");
  EXPECT_FALSE(st.ok());
}

TEST(multipart, boundary_from_content_type) {
  EXPECT_EQ(*multipart_boundary("multipart/form-data; boundary=abc"), "abc");
  EXPECT_EQ(*multipart_boundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b\""), "a b");
  EXPECT_EQ(multipart_boundary("application/json").err().code(), core::errc::unsupported_media);
  EXPECT_EQ(multipart_boundary("multipart/form-data").err().code(), core::errc::invalid_argument);
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'x')).ok());
}

}  // namespace
}  // namespace wattos::net
