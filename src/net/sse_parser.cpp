#include "net/sse_parser.hpp"

namespace wattos::net {

core::status sse_parser::feed(std::string_view bytes, const event_callback& on_event) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c != '\n' && c != '\r') continue;
    if (c == '\n' && last_was_cr_ && i == start && line_.empty()) {
      // The LF of a CRLF whose CR ended the previous line.
      last_was_cr_ = false;
      start = i + 1;
      continue;
    }
    line_.append(bytes.substr(start, i - start));
    if (line_.size() > max_line_bytes_) return core::error::bad_gateway("event stream line too long");
    std::string line = std::move(line_);
    line_.clear();
    last_was_cr_ = (c == '\r');
    start = i + 1;
    WATTOS_RETURN_IF_ERROR(take_line(line, on_event));
  }
  if (start < bytes.size()) {
    last_was_cr_ = false;
    line_.append(bytes.substr(start));
    if (line_.size() > max_line_bytes_) return core::error::bad_gateway("event stream line too long");
  }
  return {};
}

core::status sse_parser::take_line(std::string_view line, const event_callback& on_event) {
  if (line.empty()) {
    if (!has_data_) {
      pending_.event.clear();
      return {};
    }
    event done = std::move(pending_);
    pending_ = {};
    pending_.id = done.id;  // the last event id persists across events
    has_data_ = false;
    if (!on_event(done)) return core::error::cancelled("event stream consumer stopped");
    return {};
  }
  if (line.front() == ':') return {};
  std::string_view field = line;
  std::string_view value;
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) pending_.data += '\n';
    pending_.data.append(value);
    has_data_ = true;
    if (pending_.data.size() > max_event_bytes_) return core::error::bad_gateway("event stream event too large");
  } else if (field == "event") {
    pending_.event.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) pending_.id.assign(value);
  }
  // "retry" and unknown fields are ignored, as the standard says.
  return {};
}

}  // namespace wattos::net
