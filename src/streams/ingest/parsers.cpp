#include "streams/ingest/parsers.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <system_error>

#include "streams/ingest/parser_internal.hpp"

namespace wattos::streams::ingest {

namespace detail {

namespace {

core::result<parsed_document> parse_detected(std::string_view bytes, const detected_format& found,
                                             const parse_limits& limits, int depth) {
  const std::string& f = found.format;
  core::result<parsed_document> parsed = core::error::unsupported_media("");
  if (f == "pdf") {
    parsed = parse_pdf(bytes, limits);
  } else if (f == "docx" || f == "pptx" || f == "xlsx" || f == "odt") {
    parsed = parse_office(bytes, f, limits);
  } else if (f == "html") {
    parsed = parse_html(bytes, limits);
  } else if (f == "md") {
    parsed = parse_markdown(bytes, limits);
  } else if (f == "txt") {
    parsed = parse_text(bytes, limits);
  } else if (f == "csv") {
    parsed = parse_csv(bytes, limits);
  } else if (f == "json") {
    parsed = parse_json(bytes, limits);
  } else if (f == "eml") {
    parsed = parse_email(bytes, limits, depth);
  } else if (f == "image") {
    parsed = parse_image(bytes, limits);
  } else {
    const std::string& mime = found.mime_type;
    if (mime == "application/x-empty") return core::error::invalid_argument("the file is empty");
    if (mime == "application/vnd.ms-excel" || mime == "application/msword" || mime == "application/vnd.ms-powerpoint" ||
        mime == "application/x-ole-storage" || mime == "application/CDFV2" || mime == "application/vnd.ms-office")
      return core::error::unsupported_media("legacy binary Office file (" + mime +
                                            ", OLE compound document) is not supported: save it as DOCX, XLSX "
                                            "or PPTX");
    if (bytes.size() >= 4 && bytes.substr(0, 2) == "PK") {
      auto inner = zip_container_format(bytes);
      if (!inner.ok()) return std::move(inner).err();
      return core::error::unsupported_media(
          "a ZIP archive that is not a DOCX, PPTX, XLSX or ODT document is not supported");
    }
    return core::error::unsupported_media("unsupported file format (detected " + mime + ")");
  }
  if (!parsed.ok()) return parsed;
  parsed->format = f;
  parsed->mime_type = found.mime_type;
  if (parsed->pages > limits.max_pages)
    return core::error::payload_too_large("the document has more than " + std::to_string(limits.max_pages) + " pages");
  if (parsed->title.empty())
    for (const auto& b : parsed->blocks)
      if (b.kind == block_kind::heading) {
        parsed->title = b.text;
        break;
      }
  return parsed;
}

}  // namespace

core::result<parsed_document> parse_at_depth(std::string_view bytes, const parse_limits& limits, int depth) {
  if (bytes.empty()) return core::error::invalid_argument("the file is empty");
  if (bytes.size() > limits.max_file_bytes)
    return core::error::payload_too_large("the file is over " + std::to_string(limits.max_file_bytes) + " bytes");
  return parse_detected(bytes, detect_format(bytes), limits, depth);
}

}  // namespace detail

core::result<parsed_document> parse_bytes(std::string_view bytes, const parse_limits& limits) {
  return detail::parse_at_depth(bytes, limits, 0);
}

namespace {

// The file's bytes, at most `max_bytes` (payload_too_large beyond).
core::result<std::string> read_bounded(const std::filesystem::path& file, std::uint64_t max_bytes) {
  std::error_code ec;
  auto size = std::filesystem::file_size(file, ec);
  if (ec) return core::error::not_found("cannot read " + file.filename().string() + ": " + ec.message());
  if (size > max_bytes)
    return core::error::payload_too_large("the file is over " + std::to_string(max_bytes) + " bytes");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!in) return core::error::not_found("cannot open " + file.filename().string());
  // Read up to one byte more than allowed: the file may have grown since file_size.
  std::string bytes;
  bytes.resize(static_cast<std::size_t>(size) + 1);
  std::size_t got = std::fread(bytes.data(), 1, bytes.size(), in.get());
  if (got > max_bytes)
    return core::error::payload_too_large("the file is over " + std::to_string(max_bytes) + " bytes");
  bytes.resize(got);
  return bytes;
}

}  // namespace

core::result<parsed_document> parse_file(const std::filesystem::path& file, const parse_limits& limits) {
  auto bytes = read_bounded(file, limits.max_file_bytes);
  if (!bytes) return std::move(bytes).err();
  return parse_bytes(*bytes, limits);
}

std::optional<core::result<parsed_document>> parse_file_if_plain_text(const std::filesystem::path& file,
                                                                      const parse_limits& limits,
                                                                      std::uint64_t max_bytes) {
  auto bytes = read_bounded(file, std::min(max_bytes, limits.max_file_bytes));
  // Unreadable or larger: the caller's way reports it.
  if (!bytes || bytes->empty() || !detail::is_plain_text(*bytes)) return std::nullopt;
  // libmagic sees only clean UTF-8 here, and decides as it would in the child.
  detected_format found = detect_format(*bytes);
  const std::string& f = found.format;
  if (f != "txt" && f != "md" && f != "csv" && f != "json") return std::nullopt;
  return detail::parse_detected(*bytes, found, limits, 0);
}

std::string document_text(const parsed_document& doc) {
  std::string out;
  std::size_t total = 0;
  for (const auto& b : doc.blocks) total += b.text.size() + 2;
  out.reserve(total);
  // Every block is followed by the separator but the last, even an empty one: the
  // chunker counts offsets that way.
  for (std::size_t i = 0; i < doc.blocks.size(); ++i) {
    if (i > 0) out += "\n\n";
    out += doc.blocks[i].text;
  }
  return out;
}

}  // namespace wattos::streams::ingest
