// Markdown (a small line-based reader: md4c is not a dependency), plain text, CSV, JSON.
#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "streams/ingest/parser_internal.hpp"

namespace wattos::streams::ingest::detail {

namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    pos = end + 1;
  }
  return lines;
}

bool is_space(char c) {
  return c == ' ' || c == '\t';
}
bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool is_punct(char c) {
  return std::strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", c) != nullptr && c != '\0';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Decodes the character reference at text[0] == '&'; returns the bytes consumed (0 when
// it is not one).
std::size_t decode_entity(std::string_view text, std::string& out) {
  std::size_t semi = text.substr(0, 12).find(';');
  if (semi == std::string_view::npos || semi < 2) return 0;
  std::string_view name = text.substr(1, semi - 1);
  static constexpr std::pair<std::string_view, std::uint32_t> named[] = {
      {"amp", '&'},      {"lt", '<'},        {"gt", '>'},     {"quot", '"'},    {"apos", '\''},
      {"nbsp", 0xA0},    {"auml", 0xE4},     {"ouml", 0xF6},  {"uuml", 0xFC},   {"Auml", 0xC4},
      {"Ouml", 0xD6},    {"Uuml", 0xDC},     {"szlig", 0xDF}, {"euro", 0x20AC}, {"ndash", 0x2013},
      {"mdash", 0x2014}, {"hellip", 0x2026}, {"copy", 0xA9},  {"shy", 0xAD}};
  for (auto [n, cp] : named)
    if (name == n) {
      append_utf8(out, cp);
      return semi + 1;
    }
  if (name[0] == '#') {
    std::uint32_t cp = 0;
    bool hex = name.size() > 1 && (name[1] == 'x' || name[1] == 'X');
    std::string_view digits = name.substr(hex ? 2 : 1);
    if (digits.empty() || digits.size() > 7) return 0;
    for (char c : digits) {
      int d = (c >= '0' && c <= '9')          ? c - '0'
              : hex && (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : hex && (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                              : -1;
      if (d < 0) return 0;
      cp = cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(d);
    }
    append_utf8(out, cp == 0 ? 0xFFFD : cp);
    return semi + 1;
  }
  return 0;
}

// Markdown inline markup to plain text: emphasis, code spans, links and images keep
// their text, HTML tags go, escapes and entities are resolved.
class inline_stripper {
 public:
  std::string strip(std::string_view s, int depth = 0) {
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
      char c = s[i];
      if (c == '\\' && i + 1 < s.size() && is_punct(s[i + 1])) {
        out += s[i + 1];
        i += 2;
      } else if (c == '`') {
        std::size_t run = 1;
        while (i + run < s.size() && s[i + run] == '`') ++run;
        std::size_t close = run < no_closer_.size() && !no_closer_[run] ? find_run(s, i + run, run) : s.npos;
        if (close == s.npos) {
          if (run < no_closer_.size()) no_closer_[run] = true;  // none later either
          out.append(run, '`');
          i += run;
        } else {
          out += trim(s.substr(i + run, close - i - run));
          i = close + run;
        }
      } else if ((c == '[' || (c == '!' && i + 1 < s.size() && s[i + 1] == '[')) && depth < 4) {
        std::size_t open = c == '!' ? i + 1 : i;
        std::size_t close = s.substr(open, 256).find(']');
        if (close == s.npos) {
          out += c;
          ++i;
          continue;
        }
        close += open;
        std::string label = strip(s.substr(open + 1, close - open - 1), depth + 1);
        std::size_t next = close + 1;
        if (next < s.size() && s[next] == '(') {
          std::size_t end = s.substr(next, 2048).find(')');
          if (end != s.npos) next += end + 1;
        } else if (next < s.size() && s[next] == '[') {
          std::size_t end = s.substr(next, 256).find(']');
          if (end != s.npos) next += end + 1;
        }
        out += label;
        i = next;
      } else if (c == '<') {
        i += html_tag(s.substr(i), out);
      } else if (c == '&') {
        std::size_t n = decode_entity(s.substr(i), out);
        if (n == 0) out += '&';
        i += n == 0 ? 1 : n;
      } else if (c == '*' || c == '_' || c == '~') {
        std::size_t run = 1;
        while (i + run < s.size() && s[i + run] == c) ++run;
        char before = i > 0 ? s[i - 1] : ' ';
        char after = i + run < s.size() ? s[i + run] : ' ';
        bool markup = !(is_space(before) && is_space(after));
        // snake_case_words and 2*3 keep their characters.
        if (c == '_' && is_alnum(before) && is_alnum(after)) markup = false;
        if (c == '*' && (before >= '0' && before <= '9') && (after >= '0' && after <= '9')) markup = false;
        if (c == '~' && run < 2) markup = false;
        if (!markup) out.append(run, c);
        i += run;
      } else {
        out += c;
        ++i;
      }
    }
    return out;
  }

 private:
  static std::size_t find_run(std::string_view s, std::size_t from, std::size_t run) {
    while (from < s.size()) {
      std::size_t at = s.find('`', from);
      if (at == s.npos) return s.npos;
      std::size_t len = 1;
      while (at + len < s.size() && s[at + len] == '`') ++len;
      if (len == run) return at;
      from = at + len;
    }
    return s.npos;
  }

  // An HTML tag, comment or autolink at s[0] == '<': appends what remains of it and
  // returns the bytes consumed.
  static std::size_t html_tag(std::string_view s, std::string& out) {
    if (s.starts_with("<!--")) {
      std::size_t end = s.find("-->");
      return end == s.npos ? s.size() : end + 3;
    }
    std::size_t end = s.substr(0, 2048).find('>');
    if (end == s.npos || end < 2) {
      out += '<';
      return 1;
    }
    std::string_view inner = s.substr(1, end - 1);
    if (inner.find("://") != inner.npos || (inner.find('@') != inner.npos && inner.find(' ') == inner.npos)) {
      out += inner;  // autolink
      return end + 1;
    }
    char first = inner[0];
    bool tag = (first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || first == '/' || first == '!';
    if (!tag) {
      out += '<';
      return 1;
    }
    out += ' ';
    return end + 1;
  }

  std::array<bool, 33> no_closer_{};
};

std::string strip_inline(std::string_view s) {
  return inline_stripper().strip(s);
}

bool is_thematic_break(std::string_view t) {
  if (t.size() < 3) return false;
  char c = t[0];
  if (c != '-' && c != '*' && c != '_') return false;
  int count = 0;
  for (char x : t) {
    if (x == c)
      ++count;
    else if (!is_space(x))
      return false;
  }
  return count >= 3;
}

// "- item", "* item", "+ item", "1. item", "1) item": the item's text, else npos.
std::size_t list_marker(std::string_view t) {
  if (t.size() >= 2 && (t[0] == '-' || t[0] == '*' || t[0] == '+') && is_space(t[1])) return 2;
  std::size_t d = 0;
  while (d < t.size() && d < 9 && t[d] >= '0' && t[d] <= '9') ++d;
  if (d > 0 && d + 1 < t.size() && (t[d] == '.' || t[d] == ')') && is_space(t[d + 1])) return d + 2;
  if (t.size() == 1 && (t[0] == '-' || t[0] == '*' || t[0] == '+')) return 1;
  return std::string_view::npos;
}

}  // namespace

core::result<parsed_document> parse_markdown(std::string_view bytes, const parse_limits& limits) {
  std::string text = to_utf8_text(bytes);
  parsed_document doc;
  block_sink sink(doc, limits);
  std::string paragraph, item, code;
  bool in_item = false, in_indented_code = false;
  char fence_char = 0;
  std::size_t fence_len = 0;

  auto flush_text = [&]() -> core::status {
    if (!paragraph.empty()) WATTOS_RETURN_IF_ERROR(sink.add(block_kind::paragraph, strip_inline(paragraph), 0));
    if (in_item) WATTOS_RETURN_IF_ERROR(sink.add(block_kind::list_item, strip_inline(item), 0));
    paragraph.clear();
    item.clear();
    in_item = false;
    return {};
  };
  auto flush_code = [&]() -> core::status {
    core::status s = sink.add_code(code, 0);
    code.clear();
    in_indented_code = false;
    return s;
  };

  for (std::string_view line : split_lines(text)) {
    if (fence_char != 0) {
      std::string_view t = line;
      for (int k = 0; k < 3 && !t.empty() && t.front() == ' '; ++k) t.remove_prefix(1);
      std::size_t run = 0;
      while (run < t.size() && t[run] == fence_char) ++run;
      if (run >= fence_len && trim(t.substr(run)).empty()) {
        WATTOS_RETURN_IF_ERROR(flush_code());
        fence_char = 0;
      } else {
        code.append(line);
        code += '\n';
        if (code.size() > (1u << 20)) WATTOS_RETURN_IF_ERROR(flush_code());
      }
      continue;
    }
    if (trim(line).empty()) {
      WATTOS_RETURN_IF_ERROR(flush_text());
      if (in_indented_code) code += '\n';
      continue;
    }
    std::size_t indent = 0, col = 0;
    while (indent < line.size() && is_space(line[indent])) {
      col += line[indent] == '\t' ? 4 : 1;
      ++indent;
    }
    if (col >= 4 && paragraph.empty() && !in_item) {
      in_indented_code = true;
      code.append(line.substr(std::min(indent, line.size())));
      code += '\n';
      if (code.size() > (1u << 20)) WATTOS_RETURN_IF_ERROR(flush_code());
      continue;
    }
    if (in_indented_code) WATTOS_RETURN_IF_ERROR(flush_code());
    std::string_view t = line.substr(indent);
    while (!t.empty() && t.front() == '>') {  // block quotes read as their text
      t.remove_prefix(1);
      t = trim(t);
    }
    if (t.empty()) continue;

    if (t.starts_with("```") || t.starts_with("~~~")) {
      WATTOS_RETURN_IF_ERROR(flush_text());
      fence_char = t[0];
      fence_len = 0;
      while (fence_len < t.size() && t[fence_len] == fence_char) ++fence_len;
      continue;
    }
    std::size_t hashes = 0;
    while (hashes < t.size() && t[hashes] == '#') ++hashes;
    if (hashes >= 1 && hashes <= 6 && (hashes == t.size() || is_space(t[hashes]))) {
      WATTOS_RETURN_IF_ERROR(flush_text());
      std::string_view h = trim(t.substr(hashes));
      std::size_t end = h.size();
      while (end > 0 && h[end - 1] == '#') --end;
      if (end < h.size() && (end == 0 || is_space(h[end - 1]))) h = trim(h.substr(0, end));
      WATTOS_RETURN_IF_ERROR(sink.add(block_kind::heading, strip_inline(h), 0, static_cast<int>(hashes)));
      continue;
    }
    if (!paragraph.empty() && !in_item && t.find_first_not_of('=') == std::string_view::npos) {
      WATTOS_RETURN_IF_ERROR(sink.add(block_kind::heading, strip_inline(paragraph), 0, 1));
      paragraph.clear();
      continue;
    }
    if (!paragraph.empty() && !in_item && trim(t).find_first_not_of('-') == std::string_view::npos) {
      WATTOS_RETURN_IF_ERROR(sink.add(block_kind::heading, strip_inline(paragraph), 0, 2));
      paragraph.clear();
      continue;
    }
    if (is_thematic_break(t)) {
      WATTOS_RETURN_IF_ERROR(flush_text());
      continue;
    }
    if (t.front() == '[' && t.find("]:") != std::string_view::npos && t.find("]:") < 256 &&
        t.find(' ') > t.find("]:")) {
      continue;  // a link reference definition: the links already carry their text
    }
    if (t.front() == '|') {
      WATTOS_RETURN_IF_ERROR(flush_text());
      if (t.find_first_not_of("|:- \t") == std::string_view::npos) continue;  // |---|:--:|
      std::string row;
      std::string_view rest = trim(t.substr(1));
      if (!rest.empty() && rest.back() == '|') rest.remove_suffix(1);
      std::size_t pos = 0;
      while (pos <= rest.size()) {
        std::size_t bar = pos;
        while (bar < rest.size() && !(rest[bar] == '|' && (bar == 0 || rest[bar - 1] != '\\'))) ++bar;
        std::string cell = collapse_whitespace(strip_inline(rest.substr(pos, bar - pos)));
        if (!cell.empty()) {
          if (!row.empty()) row += " | ";
          row += cell;
        }
        pos = bar + 1;
      }
      WATTOS_RETURN_IF_ERROR(sink.add(block_kind::table_row, row, 0));
      continue;
    }
    if (std::size_t marker = list_marker(t); marker != std::string_view::npos) {
      WATTOS_RETURN_IF_ERROR(flush_text());
      in_item = true;
      item.assign(t.substr(std::min(marker, t.size())));
      continue;
    }
    std::string& target = in_item ? item : paragraph;
    if (!target.empty()) target += '\n';
    target.append(t);
    if (target.size() > (64u << 10)) WATTOS_RETURN_IF_ERROR(flush_text());
  }
  WATTOS_RETURN_IF_ERROR(flush_text());
  if (!code.empty()) WATTOS_RETURN_IF_ERROR(flush_code());
  return doc;
}

core::result<parsed_document> parse_text(std::string_view bytes, const parse_limits& limits) {
  parsed_document doc;
  block_sink sink(doc, limits);
  WATTOS_RETURN_IF_ERROR(text_to_blocks(to_utf8_text(bytes), sink, 0));
  return doc;
}

// ---------------------------------------------------------------- CSV

namespace {

constexpr std::size_t max_csv_columns = 10'000;

char csv_delimiter(std::string_view text) {
  // The delimiter that splits the first lines into the same number of fields (tab and
  // semicolon first: a comma also appears inside German numbers).
  constexpr std::size_t sniffed_bytes = std::size_t{64} * 1024;
  auto lines = split_lines(text.substr(0, sniffed_bytes));
  if (lines.size() > 1 && text.size() > sniffed_bytes) lines.pop_back();  // maybe cut
  char best = ',';
  std::size_t best_score = 0;
  for (char d : {'\t', ';', ','}) {
    std::size_t expected = 0, agreeing = 0;
    for (std::size_t i = 0; i < lines.size() && i < 50; ++i) {
      std::size_t count = 0;
      bool quoted = false;
      for (char c : lines[i]) {
        if (c == '"')
          quoted = !quoted;
        else if (c == d && !quoted)
          ++count;
      }
      if (i == 0) expected = count;
      if (count == expected && count > 0) ++agreeing;
    }
    if (agreeing > best_score) {
      best_score = agreeing;
      best = d;
    }
  }
  return best;
}

bool looks_numeric(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || std::strchr(".,-+%€$ ", c); });
}

}  // namespace

core::result<parsed_document> parse_csv(std::string_view bytes, const parse_limits& limits) {
  std::string text = to_utf8_text(bytes);
  char delimiter = csv_delimiter(text);
  parsed_document doc;
  block_sink sink(doc, limits);
  std::vector<std::string> header, fields;
  std::string field;
  bool use_header = false, first = true, quoted = false;
  auto end_record = [&]() -> core::status {
    if (fields.size() < max_csv_columns) fields.push_back(std::move(field));
    field.clear();
    for (auto& f : fields) f = collapse_whitespace(f);
    bool empty = std::all_of(fields.begin(), fields.end(), [](const std::string& f) { return f.empty(); });
    if (empty) {
      fields.clear();
      return {};
    }
    bool this_is_header = false;
    if (first) {
      first = false;
      // A header row names the columns: no empty, no numeric, no repeated cell.
      std::vector<std::string> sorted = fields;
      std::sort(sorted.begin(), sorted.end());
      use_header = fields.size() >= 2 && std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end() &&
                   std::none_of(fields.begin(), fields.end(),
                                [](const std::string& f) { return f.empty() || looks_numeric(f); });
      if (use_header) header = fields;
      this_is_header = use_header;
    }
    std::string row;
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].empty()) continue;
      if (!row.empty()) row += " | ";
      if (use_header && !this_is_header && i < header.size()) row += header[i] + ": ";
      row += fields[i];
    }
    fields.clear();
    return sink.add(block_kind::table_row, row, 0);
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
    } else if (c == '"' && field.empty()) {
      quoted = true;
    } else if (c == delimiter) {
      if (fields.size() < max_csv_columns) fields.push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      WATTOS_RETURN_IF_ERROR(end_record());
    } else if (c != '\r') {
      field += c;
    }
    if (field.size() > (1u << 20)) return core::error::invalid_argument("a CSV field is over 1 MiB (unclosed quote?)");
  }
  if (!field.empty() || !fields.empty()) WATTOS_RETURN_IF_ERROR(end_record());
  return doc;
}

// ---------------------------------------------------------------- JSON

namespace {

constexpr int max_json_depth = 64;

core::status json_lines(const boost::json::value& v, std::string& path, block_sink& sink) {
  std::size_t keep = path.size();
  if (v.is_object()) {
    for (const auto& [key, child] : v.get_object()) {
      if (!path.empty()) path += '.';
      path.append(key.data(), key.size());
      WATTOS_RETURN_IF_ERROR(json_lines(child, path, sink));
      path.resize(keep);
    }
    return {};
  }
  if (v.is_array()) {
    std::size_t i = 0;
    for (const auto& child : v.get_array()) {
      path += '[' + std::to_string(i++) + ']';
      WATTOS_RETURN_IF_ERROR(json_lines(child, path, sink));
      path.resize(keep);
    }
    return {};
  }
  std::string value = v.is_string() ? std::string(v.get_string()) : boost::json::serialize(v);
  if (value.empty()) return {};
  return sink.add(block_kind::paragraph, path.empty() ? value : path + ": " + value, 0);
}

}  // namespace

core::result<parsed_document> parse_json(std::string_view bytes, const parse_limits& limits) {
  std::string text = to_utf8_text(bytes);
  boost::json::parse_options options;
  options.max_depth = max_json_depth;
  std::error_code ec;
  boost::json::value root = boost::json::parse(text, ec, {}, options);
  if (ec) return core::error::invalid_argument("invalid JSON: " + ec.message());
  parsed_document doc;
  block_sink sink(doc, limits);
  std::string path;
  WATTOS_RETURN_IF_ERROR(json_lines(root, path, sink));
  return doc;
}

}  // namespace wattos::streams::ingest::detail
