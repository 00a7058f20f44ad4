#include "net/multipart.hpp"

#include <cstdio>

#include "core/id.hpp"

namespace wattos::net {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Parses `; key=value; key="quoted \" value"` parameters of a header value.
std::vector<std::pair<std::string, std::string>> header_params(std::string_view value) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t i = value.find(';');
  while (i != std::string_view::npos && i < value.size()) {
    ++i;
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    std::size_t eq = value.find('=', i);
    std::size_t semi = value.find(';', i);
    if (eq == std::string_view::npos || (semi != std::string_view::npos && semi < eq)) {
      i = semi;
      continue;
    }
    std::string key = lower(trim(value.substr(i, eq - i)));
    std::size_t j = eq + 1;
    std::string val;
    if (j < value.size() && value[j] == '"') {
      ++j;
      while (j < value.size() && value[j] != '"') {
        if (value[j] == '\\' && j + 1 < value.size()) ++j;
        val += value[j++];
      }
      if (j < value.size()) ++j;  // closing quote
      i = value.find(';', j);
    } else {
      std::size_t end = value.find(';', j);
      val = std::string(trim(value.substr(j, end == std::string_view::npos ? std::string_view::npos : end - j)));
      i = end;
    }
    out.emplace_back(std::move(key), std::move(val));
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 5987 ext-value: UTF-8''percent%20encoded
std::optional<std::string> decode_ext_value(std::string_view v) {
  auto quote = v.find("''");
  if (quote == std::string_view::npos) return std::nullopt;
  if (lower(v.substr(0, quote)) != "utf-8") return std::nullopt;
  v.remove_prefix(quote + 2);
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '%') {
      if (i + 2 >= v.size()) return std::nullopt;
      int hi = hex_digit(v[i + 1]);
      int lo = hex_digit(v[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>((hi << 4) | lo);
      i += 2;
    } else {
      out += v[i];
    }
  }
  return out;
}

}  // namespace

core::result<std::string> multipart_boundary(std::string_view content_type) {
  auto semi = content_type.find(';');
  if (lower(trim(content_type.substr(0, semi))) != "multipart/form-data") {
    return core::error::unsupported_media("expected multipart/form-data");
  }
  for (auto& [key, value] : header_params(content_type)) {
    if (key != "boundary") continue;
    if (value.empty() || value.size() > 70) {
      return core::error::invalid_argument("multipart boundary must be 1 to 70 characters");
    }
    for (char c : value) {
      if (c == '\r' || c == '\n') return core::error::invalid_argument("multipart boundary holds a line break");
    }
    return value;
  }
  return core::error::invalid_argument("multipart/form-data without boundary");
}

multipart_parser::multipart_parser(std::string boundary, callbacks cb, multipart_limits limits)
    : delimiter_("\r\n--" + std::move(boundary)), cb_(std::move(cb)), limits_(limits) {
  // The first delimiter may open the body without a preceding line break.
  pending_ = "\r\n";
}

core::status multipart_parser::fail(core::error e) {
  state_ = state::failed;
  pending_.clear();
  return e;
}

core::status multipart_parser::feed(std::string_view chunk) {
  if (state_ == state::failed) return core::error::invalid_argument("multipart body already failed");
  if (state_ == state::done) return {};  // the epilogue is ignored
  pending_.append(chunk);
  return step();
}

core::status multipart_parser::step() {
  while (true) {
    switch (state_) {
      case state::preamble: {
        auto pos = pending_.find(delimiter_);
        if (pos == std::string::npos) {
          // Keep just enough to find a delimiter split across chunks.
          if (pending_.size() > delimiter_.size()) pending_.erase(0, pending_.size() - delimiter_.size());
          return {};
        }
        pending_.erase(0, pos + delimiter_.size());
        state_ = state::after_delimiter;
        break;
      }
      case state::after_delimiter: {
        // Transport padding (spaces, tabs) may follow the delimiter.
        std::size_t i = 0;
        while (i < pending_.size() && (pending_[i] == ' ' || pending_[i] == '\t')) ++i;
        if (pending_.size() - i < 2) {
          if (i > 256) return fail(core::error::invalid_argument("multipart: padding too long"));
          return {};
        }
        if (pending_.compare(i, 2, "--") == 0) {
          state_ = state::done;
          pending_.clear();
          return {};
        }
        if (pending_.compare(i, 2, "\r\n") != 0) {
          return fail(core::error::invalid_argument("multipart: malformed delimiter line"));
        }
        pending_.erase(0, i + 2);
        if (++parts_ > limits_.max_parts) {
          return fail(
              core::error::payload_too_large("multipart: more than " + std::to_string(limits_.max_parts) + " parts"));
        }
        state_ = state::headers;
        break;
      }
      case state::headers: {
        std::size_t end = std::string::npos;
        std::size_t block_len = 0;
        if (pending_.starts_with("\r\n")) {
          end = 0;  // no headers at all
        } else {
          end = pending_.find("\r\n\r\n");
          block_len = end;
        }
        if (end == std::string::npos) {
          if (pending_.size() > limits_.max_part_header_bytes) {
            return fail(core::error::payload_too_large("multipart: part headers too large"));
          }
          return {};
        }
        if (block_len > limits_.max_part_header_bytes) {
          return fail(core::error::payload_too_large("multipart: part headers too large"));
        }
        auto st = parse_headers(std::string_view(pending_).substr(0, block_len));
        if (!st.ok()) return fail(std::move(st).err());
        pending_.erase(0, end == 0 ? 2 : end + 4);
        state_ = state::body;
        break;
      }
      case state::body: {
        auto pos = pending_.find(delimiter_);
        if (pos == std::string::npos) {
          if (pending_.size() >= delimiter_.size()) {
            std::size_t emit = pending_.size() - (delimiter_.size() - 1);
            auto st = cb_.on_part_data(std::string_view(pending_).substr(0, emit));
            if (!st.ok()) return fail(std::move(st).err());
            pending_.erase(0, emit);
          }
          return {};
        }
        if (pos > 0) {
          auto st = cb_.on_part_data(std::string_view(pending_).substr(0, pos));
          if (!st.ok()) return fail(std::move(st).err());
        }
        auto st = cb_.on_part_end();
        if (!st.ok()) return fail(std::move(st).err());
        pending_.erase(0, pos + delimiter_.size());
        state_ = state::after_delimiter;
        break;
      }
      case state::done:
      case state::failed:
        return {};
    }
  }
}

core::status multipart_parser::parse_headers(std::string_view block) {
  multipart_part_info info;
  info.content_type = "text/plain";
  bool has_disposition = false;
  while (!block.empty()) {
    auto eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    block = eol == std::string_view::npos ? std::string_view{} : block.substr(eol + 2);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return core::error::invalid_argument("multipart: malformed part header");
    std::string name = lower(trim(line.substr(0, colon)));
    std::string_view value = trim(line.substr(colon + 1));
    if (name == "content-disposition") {
      if (lower(trim(value.substr(0, value.find(';')))) != "form-data") {
        return core::error::invalid_argument("multipart: part is not form-data");
      }
      has_disposition = true;
      for (auto& [key, v] : header_params(value)) {
        if (key == "name")
          info.name = v;
        else if (key == "filename" && !info.filename)
          info.filename = v;
        else if (key == "filename*") {
          if (auto decoded = decode_ext_value(v)) info.filename = *decoded;
        }
      }
    } else if (name == "content-type") {
      info.content_type = std::string(value);
    }
  }
  if (!has_disposition || info.name.empty()) {
    return core::error::invalid_argument("multipart: part without Content-Disposition name");
  }
  return cb_.on_part_begin(info);
}

core::status multipart_parser::finish() {
  if (state_ == state::failed) return core::error::invalid_argument("multipart body failed");
  if (state_ != state::done) return core::error::invalid_argument("multipart: body ended before the closing delimiter");
  return {};
}

multipart_disk_writer::multipart_disk_writer(std::string boundary, std::filesystem::path dir, multipart_limits limits)
    : dir_(std::move(dir)),
      limits_(limits),
      parser_(std::move(boundary),
              multipart_parser::callbacks{
                  [this](const multipart_part_info& info) { return begin_part(info); },
                  [this](std::string_view data) { return part_data(data); },
                  [this]() { return end_part(); },
              },
              limits) {}

multipart_disk_writer::~multipart_disk_writer() {
  if (current_file_) std::fclose(current_file_);
  std::error_code ec;
  for (const auto& f : files_) std::filesystem::remove(f.path, ec);
}

core::status multipart_disk_writer::begin_part(const multipart_part_info& info) {
  current_is_file_ = info.filename.has_value();
  if (!current_is_file_) {
    fields_.emplace_back(info.name, std::string());
    return {};
  }
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  uploaded_file file;
  file.field_name = info.name;
  file.filename = *info.filename;
  file.content_type = info.content_type;
  file.path = dir_ / ("upload-" + core::new_uuid_v7() + ".part");
  current_file_ = std::fopen(file.path.c_str(), "wbx");
  if (!current_file_) return core::error::internal("cannot create upload file in " + dir_.string());
  files_.push_back(std::move(file));
  return {};
}

core::status multipart_disk_writer::part_data(std::string_view data) {
  if (!current_is_file_) {
    field_bytes_ += data.size();
    if (field_bytes_ > limits_.max_field_bytes)
      return core::error::payload_too_large("multipart: form fields too large");
    fields_.back().second.append(data);
    return {};
  }
  file_bytes_ += data.size();
  if (file_bytes_ > limits_.max_file_bytes) {
    return core::error::payload_too_large("upload larger than " + std::to_string(limits_.max_file_bytes) + " bytes");
  }
  if (std::fwrite(data.data(), 1, data.size(), current_file_) != data.size()) {
    return core::error::unavailable("cannot write upload file (disk full?)");
  }
  files_.back().size += data.size();
  return {};
}

core::status multipart_disk_writer::end_part() {
  if (current_file_) {
    bool ok = std::fclose(current_file_) == 0;
    current_file_ = nullptr;
    if (!ok) return core::error::unavailable("cannot write upload file");
  }
  return {};
}

core::status multipart_disk_writer::finish() {
  return parser_.finish();
}

std::vector<uploaded_file> multipart_disk_writer::take_files() {
  auto out = std::move(files_);
  files_.clear();
  return out;
}

}  // namespace wattos::net
