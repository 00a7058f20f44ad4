#include <magic.h>

#include <algorithm>
#include <memory>
#include <string>

#include "core/utf8.hpp"
#include "streams/ingest/parser_internal.hpp"
#include "streams/ingest/parsers.hpp"

namespace wattos::streams::ingest {

namespace {

// libmagic handles are not thread safe: one per thread, loaded once (loading the
// compiled database takes milliseconds, more than a detection).
class magic_handle {
 public:
  magic_handle() : cookie_(magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_ELF)) {
    if (cookie_ != nullptr && magic_load(cookie_, nullptr) != 0) {
      magic_close(cookie_);
      cookie_ = nullptr;
    }
  }
  ~magic_handle() {
    if (cookie_ != nullptr) magic_close(cookie_);
  }
  magic_handle(const magic_handle&) = delete;
  magic_handle& operator=(const magic_handle&) = delete;

  std::string mime_type(std::string_view bytes) {
    if (cookie_ == nullptr) return "application/octet-stream";
    const char* answer = magic_buffer(cookie_, bytes.data(), bytes.size());
    return answer != nullptr ? std::string(answer) : "application/octet-stream";
  }

 private:
  magic_t cookie_;
};

// libmagic reads at most this much anyway; text heuristics look at the same prefix.
constexpr std::size_t magic_prefix = 1u << 20;

bool is_legacy_office(const std::string& mime) {
  return mime == "application/vnd.ms-excel" || mime == "application/msword" ||
         mime == "application/vnd.ms-powerpoint" || mime == "application/x-ole-storage" ||
         mime == "application/CDFV2" || mime == "application/vnd.ms-office" || mime == "application/x-msi";
}

std::string office_mime(const std::string& format) {
  if (format == "docx") return "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
  if (format == "pptx") return "application/vnd.openxmlformats-officedocument.presentationml.presentation";
  if (format == "xlsx") return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
  if (format == "odt") return "application/vnd.oasis.opendocument.text";
  return "application/zip";
}

bool is_zip(std::string_view bytes) {
  return bytes.size() >= 4 && (bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4) ||
                               bytes.substr(0, 4) == std::string_view("PK\x05\x06", 4));
}

// Plain text, a character cut at the end of the head aside.
bool looks_like_plain_text(std::string_view head) {
  return detail::is_plain_text(core::utf8_prefix(head, head.size() >= 4 ? head.size() - 3 : head.size()));
}

}  // namespace

detected_format detect_format(std::string_view bytes) {
  if (bytes.empty()) return {"", "application/x-empty"};
  thread_local magic_handle magic;
  std::string_view head = bytes.substr(0, std::min(bytes.size(), magic_prefix));
  std::string mime = magic.mime_type(head);

  if (is_zip(bytes) || mime == "application/zip" || mime.starts_with("application/vnd.openxmlformats") ||
      mime.starts_with("application/vnd.oasis.opendocument")) {
    auto inner = detail::zip_container_format(bytes);
    if (!inner.ok() || inner->empty()) return {"", mime};
    return {*inner, office_mime(*inner)};
  }
  if (mime == "application/pdf") return {"pdf", mime};
  if (mime.starts_with("image/")) {
    // Not GIF: leptonica decodes a whole GIF just to read its size, so the pixel limit
    // could not be checked first (and scans are never GIFs).
    static constexpr std::string_view ocr_images[] = {"image/png",
                                                      "image/jpeg",
                                                      "image/tiff",
                                                      "image/bmp",
                                                      "image/x-ms-bmp",
                                                      "image/webp",
                                                      "image/x-portable-bitmap",
                                                      "image/x-portable-greymap",
                                                      "image/x-portable-pixmap",
                                                      "image/jp2"};
    if (std::find(std::begin(ocr_images), std::end(ocr_images), mime) != std::end(ocr_images)) return {"image", mime};
    return {"", mime};
  }
  if (mime == "text/html" || mime == "application/xhtml+xml") return {"html", mime};
  if (mime.starts_with("message/")) return {"eml", "message/rfc822"};
  if (mime == "application/json") return {"json", mime};
  if (mime == "text/csv") return {"csv", mime};
  if (is_legacy_office(mime)) return {"", mime};
  // A few of libmagic's weak rules match the first letters of ordinary text ("PA" of
  // a title is HP-GL to it): valid UTF-8 without control bytes is text whatever it says.
  if (mime.starts_with("text/") || looks_like_plain_text(head)) {
    if (!mime.starts_with("text/")) mime = "text/plain";
    // libmagic answers text/plain for most text; the structure decides what kind.
    std::string text = detail::to_utf8_text(head);
    if (detail::looks_like_email(text)) return {"eml", "message/rfc822"};
    if (detail::looks_like_json(text)) return {"json", "application/json"};
    if (detail::looks_like_markdown(text)) return {"md", "text/markdown"};
    if (detail::looks_like_csv(text)) return {"csv", "text/csv"};
    return {"txt", mime};
  }
  return {"", mime};
}

namespace detail {

bool is_plain_text(std::string_view text) {
  if (text.empty() || !core::is_valid_utf8(text)) return false;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t' && u != '\n' && u != '\r' && u != '\f') || u == 0x7f) return false;
  }
  return true;
}

namespace {

std::vector<std::string_view> first_lines(std::string_view text, std::size_t max_lines) {
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  while (pos < text.size() && lines.size() < max_lines) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    pos = end + 1;
  }
  return lines;
}

bool is_header_name(std::string_view name) {
  if (name.empty() || name.size() > 76) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

bool looks_like_email(std::string_view text) {
  // RFC 5322: a block of "Name: value" lines (continuations indented) up to a blank
  // line, with headers only mail has.
  int known = 0;
  bool has_from_or_to = false;
  for (auto line : first_lines(text, 200)) {
    if (line.empty()) return known >= 2 && has_from_or_to;
    if (line[0] == ' ' || line[0] == '\t') continue;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_header_name(line.substr(0, colon))) return false;
    std::string name = lower_ascii(line.substr(0, colon));
    if (name == "from" || name == "to") has_from_or_to = true;
    if (name == "from" || name == "to" || name == "subject" || name == "date" || name == "message-id" ||
        name == "mime-version" || name == "received" || name == "return-path" || name == "cc" ||
        name == "content-type" || name == "reply-to")
      ++known;
  }
  return false;
}

bool looks_like_markdown(std::string_view text) {
  int headings = 0, lists = 0, fences = 0, inline_marks = 0, setext = 0;
  std::string_view previous;
  for (auto line : first_lines(text, 400)) {
    std::string_view l = line;
    while (!l.empty() && l.front() == ' ') l.remove_prefix(1);
    std::size_t hashes = 0;
    while (hashes < l.size() && l[hashes] == '#') ++hashes;
    if (hashes >= 1 && hashes <= 6 && hashes < l.size() && l[hashes] == ' ') ++headings;
    if (l.starts_with("```") || l.starts_with("~~~")) ++fences;
    if ((l.starts_with("- ") || l.starts_with("* ") || l.starts_with("+ ")) && l.size() > 2) ++lists;
    if (!previous.empty() && l.size() >= 3 &&
        (l.find_first_not_of('=') == std::string_view::npos || l.find_first_not_of('-') == std::string_view::npos))
      ++setext;
    if (l.find("](") != std::string_view::npos || l.find("**") != std::string_view::npos ||
        (l.find('`') != std::string_view::npos && l.find('`') != l.rfind('`')))
      ++inline_marks;
    previous = l;
  }
  int evidence = headings + fences + setext + inline_marks + (lists >= 2 ? 1 : 0);
  return (headings >= 1 && evidence >= 2) || fences >= 2 || (setext >= 1 && evidence >= 2);
}

bool looks_like_json(std::string_view text) {
  // libmagic gives up on deep or long JSON and says text/plain: an object or array from
  // the first to the last character is JSON (or broken JSON, which the parser reports).
  auto first = text.find_first_not_of(" \t\r\n");
  auto last = text.find_last_not_of(" \t\r\n");
  if (first == std::string_view::npos || last <= first) return false;
  char open = text[first], close = text[last];
  if (!((open == '{' && close == '}') || (open == '[' && close == ']'))) return false;
  auto next = text.find_first_not_of(" \t\r\n", first + 1);
  char n = text[next];
  if (open == '{') return n == '"' || n == '}';
  return n == '[' || n == '{' || n == '"' || n == '-' || n == ']' || (n >= '0' && n <= '9') || n == 't' || n == 'f' ||
         n == 'n';
}

bool looks_like_csv(std::string_view text) {
  auto lines = first_lines(text, 50);
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.size() < 2) return false;
  for (char delimiter : {'\t', ';', ','}) {
    std::size_t expected = 0;
    bool consistent = true;
    for (auto line : lines) {
      // Counting outside double quotes.
      std::size_t count = 0;
      bool quoted = false;
      for (char c : line) {
        if (c == '"')
          quoted = !quoted;
        else if (c == delimiter && !quoted)
          ++count;
      }
      if (quoted) continue;  // a field with a line break: the next line finishes it
      if (expected == 0) expected = count;
      if (count == 0 || count != expected) {
        consistent = false;
        break;
      }
    }
    if (consistent && expected > 0) return true;
  }
  return false;
}

}  // namespace detail
}  // namespace wattos::streams::ingest
