#include "net/http_types.hpp"

#include <algorithm>

namespace wattos::net {

bool has_line_break(std::string_view text) noexcept {
  // One predictable comparison for the usual character: both breaks are below 14.
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) <= '\r' && (c == '\r' || c == '\n'); });
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view header_map::get(std::string_view name) const noexcept {
  for (const auto& e : entries_) {
    if (iequals(e.name, name)) return e.value;
  }
  return {};
}

bool header_map::contains(std::string_view name) const noexcept {
  return std::any_of(entries_.begin(), entries_.end(), [&](const entry& e) { return iequals(e.name, name); });
}

void header_map::set(std::string name, std::string value) {
  erase(name);
  add(std::move(name), std::move(value));
}

void header_map::add(std::string name, std::string value) {
  // Room for a typical head at once: growing one entry at a time moved every entry up to
  // three times for the half dozen headers of an ordinary response.
  if (entries_.capacity() == 0) entries_.reserve(8);
  entries_.push_back({std::move(name), std::move(value)});
}

void header_map::erase(std::string_view name) {
  std::erase_if(entries_, [&](const entry& e) { return iequals(e.name, name); });
}

namespace {
std::string_view find_pair(const std::vector<std::pair<std::string, std::string>>& pairs, std::string_view name) {
  for (const auto& [k, v] : pairs) {
    if (k == name) return v;
  }
  return {};
}
}  // namespace

std::string_view request::param(std::string_view name) const noexcept {
  return find_pair(path_params, name);
}

std::string_view request::attribute(std::string_view name) const noexcept {
  return find_pair(attributes, name);
}

std::optional<std::string_view> request::query_param(std::string_view name) const noexcept {
  for (const auto& [k, v] : query) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::string_view request::last_event_id() const noexcept {
  auto from_header = header("Last-Event-ID");
  if (!from_header.empty()) return from_header;
  return query_param("lastEventId").value_or(std::string_view{});
}

std::string format_sse_event(const sse_event& event) {
  std::string out;
  out.reserve(event.data.size() + event.id.size() + event.event.size() + 32);
  // Field values must not contain line breaks, or a client could be fed forged fields.
  auto single_line = [](std::string_view v) {
    std::string s(v);
    std::replace(s.begin(), s.end(), '\n', ' ');
    std::replace(s.begin(), s.end(), '\r', ' ');
    return s;
  };
  if (!event.id.empty()) out += "id: " + single_line(event.id) + "\n";
  if (!event.event.empty()) out += "event: " + single_line(event.event) + "\n";
  if (event.retry_ms) out += "retry: " + std::to_string(*event.retry_ms) + "\n";
  std::string_view data = event.data;
  while (true) {
    auto nl = data.find_first_of("\r\n");
    out += "data: ";
    out.append(data.substr(0, nl));
    out += '\n';
    if (nl == std::string_view::npos) break;
    // \r\n counts as one line break
    std::size_t skip = (data[nl] == '\r' && nl + 1 < data.size() && data[nl + 1] == '\n') ? 2 : 1;
    data.remove_prefix(nl + skip);
  }
  out += '\n';
  return out;
}

response response::json(int status, std::string body) {
  response r;
  r.status = status;
  r.headers.set("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

response response::text(int status, std::string body, std::string content_type) {
  response r;
  r.status = status;
  r.headers.set("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

response response::no_content() {
  response r;
  r.status = 204;
  return r;
}

response response::event_stream(sse_producer producer) {
  response r;
  r.status = 200;
  r.sse = std::move(producer);
  return r;
}

}  // namespace wattos::net
