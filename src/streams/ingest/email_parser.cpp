// E-mail (RFC 5322 + MIME): headers with RFC 2047 encoded words, multipart bodies,
// transfer encodings and charsets; attachments go through parse_bytes again.
#include <algorithm>
#include <map>
#include <vector>

#include "streams/ingest/parser_internal.hpp"

namespace wattos::streams::ingest::detail {

namespace {

constexpr std::size_t max_headers = 1000;
constexpr int max_multipart_depth = 16;
constexpr std::size_t max_parts = 10'000;

struct header_block {
  std::vector<std::pair<std::string, std::string>> fields;  // lower-case name, unfolded value
  std::string_view body;

  std::string get(std::string_view name) const {
    for (const auto& [n, v] : fields)
      if (n == name) return v;
    return {};
  }
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

header_block split_headers(std::string_view msg) {
  header_block h;
  std::size_t pos = 0;
  while (pos < msg.size()) {
    std::size_t end = msg.find('\n', pos);
    if (end == std::string_view::npos) end = msg.size();
    std::string_view line = msg.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t next = std::min(end + 1, msg.size());
    if (line.empty()) {
      h.body = msg.substr(next);
      return h;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !h.fields.empty()) {
      h.fields.back().second += ' ';  // unfolding: the line break goes, the space stays
      h.fields.back().second += trim(line);
    } else if (std::size_t colon = line.find(':'); colon != std::string_view::npos && colon > 0) {
      if (h.fields.size() < max_headers)
        h.fields.emplace_back(lower_ascii(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
    } else if (h.fields.empty()) {
      // Not a header at all ("From " mbox line or a body without headers).
      if (!line.starts_with("From ")) {
        h.body = msg.substr(pos);
        return h;
      }
    }
    pos = next;
  }
  h.body = {};
  return h;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string base64_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    int v;
    if (ch >= 'A' && ch <= 'Z')
      v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z')
      v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9')
      v = ch - '0' + 52;
    else if (ch == '+' || ch == '-')
      v = 62;
    else if (ch == '/' || ch == '_')
      v = 63;
    else if (ch == '=')
      break;
    else
      continue;  // line breaks and stray characters
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::string qp_decode(std::string_view in, bool header) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '_' && header) {
      out += ' ';
    } else if (c == '=') {
      if (i + 1 < in.size() && (in[i + 1] == '\n' || in[i + 1] == '\r')) {  // soft line break
        ++i;
        if (in[i] == '\r' && i + 1 < in.size() && in[i + 1] == '\n') ++i;
      } else if (i + 2 < in.size() && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
        out += static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
        i += 2;
      } else {
        out += c;
      }
    } else {
      out += c;
    }
  }
  return out;
}

// RFC 2047: "=?utf-8?B?...?=" and "=?iso-8859-1?Q?...?=" words to UTF-8; the spaces
// between two encoded words belong to neither.
std::string decode_words(std::string_view value) {
  std::string out;
  std::size_t i = 0;
  bool last_was_word = false;
  std::string pending_space;
  while (i < value.size()) {
    if (value.substr(i, 2) == "=?") {
      std::size_t q1 = value.find('?', i + 2);
      std::size_t q2 = q1 == value.npos ? value.npos : value.find('?', q1 + 1);
      std::size_t end = q2 == value.npos ? value.npos : value.find("?=", q2 + 1);
      if (end != value.npos && q2 == q1 + 2) {
        std::string_view charset = value.substr(i + 2, q1 - i - 2);
        if (std::size_t star = charset.find('*'); star != charset.npos) charset = charset.substr(0, star);
        char enc = value[q1 + 1];
        std::string_view text = value.substr(q2 + 1, end - q2 - 1);
        std::string raw = (enc == 'B' || enc == 'b') ? base64_decode(text) : qp_decode(text, true);
        if (!last_was_word) out += pending_space;
        pending_space.clear();
        out += charset_to_utf8(raw, charset);
        last_was_word = true;
        i = end + 2;
        continue;
      }
    }
    char c = value[i];
    if (c == ' ' || c == '\t') {
      pending_space += c;
    } else {
      out += pending_space;
      pending_space.clear();
      out += c;
      last_was_word = false;
    }
    ++i;
  }
  if (!last_was_word) out += pending_space;
  return collapse_whitespace(to_utf8_text(out));
}

struct content_type {
  std::string value;  // lower case, e.g. text/plain
  std::map<std::string, std::string> params;
};

content_type parse_params(std::string_view header, std::string_view fallback) {
  content_type ct;
  std::size_t semi = header.find(';');
  ct.value = lower_ascii(trim(header.substr(0, semi)));
  if (ct.value.empty()) ct.value = fallback;
  while (semi != std::string_view::npos) {
    std::size_t start = semi + 1;
    std::size_t eq = header.find('=', start);
    if (eq == std::string_view::npos) break;
    std::string name = lower_ascii(trim(header.substr(start, eq - start)));
    std::size_t vstart = eq + 1;
    while (vstart < header.size() && header[vstart] == ' ') ++vstart;
    std::string value;
    if (vstart < header.size() && header[vstart] == '"') {
      std::size_t i = vstart + 1;
      while (i < header.size() && header[i] != '"') {
        if (header[i] == '\\' && i + 1 < header.size()) ++i;
        value += header[i];
        ++i;
      }
      semi = header.find(';', i);
    } else {
      semi = header.find(';', vstart);
      value = std::string(trim(header.substr(vstart, semi == std::string_view::npos ? semi : semi - vstart)));
    }
    // RFC 2231: name*=utf-8''Anhang%201.pdf
    if (name.ends_with('*')) {
      name.pop_back();
      std::size_t tick = value.find("''");
      std::string charset = tick == std::string::npos ? std::string("utf-8") : value.substr(0, tick);
      std::string raw;
      std::string_view enc =
          tick == std::string::npos ? std::string_view(value) : std::string_view(value).substr(tick + 2);
      for (std::size_t i = 0; i < enc.size(); ++i) {
        if (enc[i] == '%' && i + 2 < enc.size() && hex_value(enc[i + 1]) >= 0 && hex_value(enc[i + 2]) >= 0) {
          raw += static_cast<char>(hex_value(enc[i + 1]) * 16 + hex_value(enc[i + 2]));
          i += 2;
        } else {
          raw += enc[i];
        }
      }
      value = charset_to_utf8(raw, charset);
    }
    if (!name.empty() && ct.params.size() < 64) ct.params[name] = value;
  }
  return ct;
}

std::string iso_date(std::string_view date) {
  static constexpr std::string_view months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                "jul", "aug", "sep", "oct", "nov", "dec"};
  int day = 0, month = 0, year = 0;
  std::string d = lower_ascii(date);
  std::size_t pos = 0;
  while (pos < d.size()) {
    std::size_t end = d.find_first_of(" ,\t", pos);
    if (end == std::string::npos) end = d.size();
    std::string_view token = std::string_view(d).substr(pos, end - pos);
    pos = end + 1;
    if (token.empty()) continue;
    if (std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      int v = token.size() <= 4 ? std::stoi(std::string(token)) : 0;
      if (token.size() <= 2 && day == 0 && month == 0)
        day = v;
      else if (token.size() == 4 && year == 0)
        year = v;
      continue;
    }
    for (int m = 0; m < 12; ++m)
      if (token.substr(0, 3) == months[m] && month == 0) month = m + 1;
  }
  if (day < 1 || day > 31 || month == 0 || year < 1900) return {};
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year, month, day);
  return buf;
}

struct attachment {
  std::string name;
  std::string bytes;
};

struct mail_content {
  std::vector<std::string> texts;
  std::vector<std::string> htmls;
  std::vector<attachment> attachments;
  std::size_t parts = 0;
};

std::string decode_body(std::string_view body, const std::string& transfer_encoding) {
  if (transfer_encoding == "base64") return base64_decode(body);
  if (transfer_encoding == "quoted-printable") return qp_decode(body, false);
  return std::string(body);
}

std::vector<std::string_view> split_multipart(std::string_view body, const std::string& boundary) {
  std::vector<std::string_view> parts;
  std::string delimiter = "--" + boundary;
  std::size_t pos = 0, start = 0;
  bool inside = false;
  while (parts.size() < max_parts) {
    std::size_t at = body.find(delimiter, pos);
    while (at != std::string_view::npos && at > 0 && body[at - 1] != '\n') at = body.find(delimiter, at + 1);
    if (at == std::string_view::npos) {
      if (inside) parts.push_back(body.substr(start));  // the closing delimiter is missing
      break;
    }
    if (inside) {
      std::size_t end = at;
      if (end > start && body[end - 1] == '\n') --end;
      if (end > start && body[end - 1] == '\r') --end;
      parts.push_back(body.substr(start, end - start));
    }
    std::size_t after = at + delimiter.size();
    if (body.substr(after, 2) == "--") break;
    std::size_t eol = body.find('\n', after);
    if (eol == std::string_view::npos) break;
    start = pos = eol + 1;
    inside = true;
  }
  return parts;
}

void walk_part(std::string_view raw, mail_content& out, int depth, std::vector<std::string>& warnings) {
  if (++out.parts > max_parts) return;
  header_block h = split_headers(raw);
  content_type ct = parse_params(h.get("content-type"), "text/plain");
  content_type disposition = parse_params(h.get("content-disposition"), "");
  std::string encoding = lower_ascii(trim(h.get("content-transfer-encoding")));
  std::string filename = disposition.params.count("filename") ? disposition.params["filename"] : ct.params["name"];
  filename = decode_words(filename);

  if (ct.value.starts_with("multipart/")) {
    if (depth >= max_multipart_depth) {
      warnings.push_back("e-mail: multipart nesting deeper than " + std::to_string(max_multipart_depth) + " skipped");
      return;
    }
    std::string boundary = ct.params["boundary"];
    if (boundary.empty() || boundary.size() > 200) {
      out.texts.push_back(to_utf8_text(h.body));  // broken MIME: the text as it is
      return;
    }
    auto parts = split_multipart(h.body, boundary);
    if (ct.value == "multipart/alternative" && !parts.empty()) {
      // The same content twice: plain text reads best, HTML otherwise, else the last.
      std::size_t chosen = parts.size() - 1;
      bool found_plain = false;
      for (std::size_t i = 0; i < parts.size() && !found_plain; ++i) {
        std::string type = parse_params(split_headers(parts[i]).get("content-type"), "text/plain").value;
        if (type == "text/plain") {
          chosen = i;
          found_plain = true;
        } else if (type == "text/html") {
          chosen = i;
        }
      }
      walk_part(parts[chosen], out, depth + 1, warnings);
      return;
    }
    for (auto part : parts) walk_part(part, out, depth + 1, warnings);
    return;
  }
  std::string decoded = decode_body(h.body, encoding);
  bool is_attachment = disposition.value == "attachment" || !filename.empty();
  if (ct.value == "message/rfc822" || ct.value == "message/global") {
    out.attachments.push_back({filename.empty() ? std::string("message.eml") : filename, std::move(decoded)});
  } else if (!is_attachment && ct.value == "text/plain") {
    out.texts.push_back(charset_to_utf8(decoded, ct.params["charset"]));
  } else if (!is_attachment && ct.value == "text/html") {
    out.htmls.push_back(charset_to_utf8(decoded, ct.params["charset"]));
  } else if (!decoded.empty()) {
    out.attachments.push_back({filename.empty() ? ct.value : filename, std::move(decoded)});
  }
}

}  // namespace

core::result<parsed_document> parse_email(std::string_view bytes, const parse_limits& limits, int depth) {
  parsed_document doc;
  header_block top = split_headers(bytes);
  if (top.fields.empty()) return core::error::invalid_argument("the e-mail has no headers");
  doc.title = decode_words(top.get("subject"));
  for (std::string_view name : {"from", "to", "cc", "date", "subject", "message-id"}) {
    std::string value = decode_words(top.get(std::string(name)));
    if (!value.empty()) doc.metadata[std::string(name)] = value;
  }
  doc.date = iso_date(top.get("date"));

  mail_content content;
  walk_part(bytes, content, 0, doc.warnings);
  block_sink sink(doc, limits);
  if (!content.texts.empty()) {
    for (const auto& text : content.texts) WATTOS_RETURN_IF_ERROR(text_to_blocks(text, sink, 0));
  } else {
    for (const auto& html : content.htmls) WATTOS_RETURN_IF_ERROR(html_to_blocks(html, sink, 0, nullptr));
  }
  for (auto& a : content.attachments) {
    std::string name = collapse_whitespace(a.name);
    if (depth + 1 > limits.max_nesting) {
      doc.warnings.push_back("attachment " + name + ": nested more than " + std::to_string(limits.max_nesting) +
                             " levels deep, skipped");
      continue;
    }
    auto inner = parse_at_depth(a.bytes, limits, depth + 1);
    if (!inner.ok()) {
      doc.warnings.push_back("attachment " + name + ": " + inner.err().message());
      continue;
    }
    WATTOS_RETURN_IF_ERROR(sink.add(block_kind::heading, "Anhang: " + name, 0, 1));
    for (const auto& b : inner->blocks) {
      if (b.kind == block_kind::code)
        WATTOS_RETURN_IF_ERROR(sink.add_code(b.text, 0));
      else
        WATTOS_RETURN_IF_ERROR(sink.add(b.kind, b.text, 0, b.kind == block_kind::heading ? b.level + 1 : 0));
    }
    doc.ocr_pages += inner->ocr_pages;
    for (auto& w : inner->warnings)
      doc.warnings.push_back(std::string("attachment ").append(name).append(": ").append(w));
  }
  return doc;
}

}  // namespace wattos::streams::ingest::detail
