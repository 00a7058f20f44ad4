// File: net/multipart.hpp
//
// A streaming multipart/form-data parser (RFC 7578) for uploads of any size: it is fed
// the body in chunks as they arrive and never holds more than one delimiter's worth
// of a part in memory. `multipart_disk_writer` puts it to use: file parts go to files
// in an upload directory, other fields into memory (bounded).
//
// Example:
//   auto boundary = net::multipart_boundary(req.header("Content-Type"));
//   net::multipart_disk_writer writer(*boundary, upload_dir, limits);
//   for (chunk : body) WATTOS_RETURN_IF_ERROR(writer.feed(chunk));
//   WATTOS_RETURN_IF_ERROR(writer.finish());
//   auto files = writer.take_files();
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "net/http_types.hpp"

namespace wattos::net {

struct multipart_limits {
  std::size_t max_parts = 64;
  std::size_t max_part_header_bytes = std::size_t{8} * 1024;
  std::size_t max_field_bytes = std::size_t{1024} * 1024;  // all non-file fields together
  std::uint64_t max_file_bytes = 256ull << 20;             // all files together
};

struct multipart_part_info {
  std::string name;
  std::optional<std::string> filename;  // present for file parts
  std::string content_type;             // "text/plain" when absent
};

// The boundary of a multipart/form-data Content-Type, or invalid_argument /
// unsupported_media.
core::result<std::string> multipart_boundary(std::string_view content_type);

class multipart_parser {
 public:
  struct callbacks {
    std::function<core::status(const multipart_part_info&)> on_part_begin;
    std::function<core::status(std::string_view)> on_part_data;
    std::function<core::status()> on_part_end;
  };

  multipart_parser(std::string boundary, callbacks cb, multipart_limits limits = {});

  // Feeds the next chunk of the body. After an error the parser stays failed.
  core::status feed(std::string_view chunk);
  // Call at the end of the body: an error if the closing delimiter was not seen.
  core::status finish();

 private:
  enum class state { preamble, after_delimiter, headers, body, done, failed };
  core::status step();
  core::status parse_headers(std::string_view block);
  core::status fail(core::error e);

  std::string delimiter_;  // "\r\n--" + boundary
  callbacks cb_;
  multipart_limits limits_;
  state state_ = state::preamble;
  std::string pending_;
  std::size_t parts_ = 0;
};

// Writes file parts under `dir` (created if missing) with generated names; keeps
// fields in memory. Files of a failed or abandoned upload are deleted by the destructor
// unless taken.
class multipart_disk_writer {
 public:
  multipart_disk_writer(std::string boundary, std::filesystem::path dir, multipart_limits limits = {});
  ~multipart_disk_writer();
  multipart_disk_writer(const multipart_disk_writer&) = delete;
  multipart_disk_writer& operator=(const multipart_disk_writer&) = delete;

  core::status feed(std::string_view chunk) { return parser_.feed(chunk); }
  core::status finish();

  std::vector<uploaded_file> take_files();
  std::vector<std::pair<std::string, std::string>> take_fields() { return std::move(fields_); }

 private:
  core::status begin_part(const multipart_part_info& info);
  core::status part_data(std::string_view data);
  core::status end_part();

  std::filesystem::path dir_;
  multipart_limits limits_;
  std::vector<uploaded_file> files_;
  std::vector<std::pair<std::string, std::string>> fields_;
  std::FILE* current_file_ = nullptr;
  bool current_is_file_ = false;
  std::size_t field_bytes_ = 0;
  std::uint64_t file_bytes_ = 0;
  multipart_parser parser_;
};

}  // namespace wattos::net
