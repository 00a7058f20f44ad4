#include "net/json_body.hpp"

#include <boost/json/stream_parser.hpp>

namespace wattos::net {

core::result<boost::json::value> parse_json(std::string_view text, json_limits limits) {
  boost::json::parse_options options;
  options.max_depth = limits.max_depth;
  boost::json::stream_parser parser({}, options);
  boost::system::error_code ec;
  std::size_t consumed = parser.write_some(text.data(), text.size(), ec);
  if (!ec && consumed < text.size()) ec = boost::json::error::extra_data;
  if (!ec) parser.finish(ec);
  if (ec) {
    return core::error::invalid_argument("invalid JSON at byte " + std::to_string(consumed) + ": " + ec.message());
  }
  return parser.release();
}

core::result<boost::json::value> parse_json_body(const request& req, json_limits limits) {
  std::string_view type = req.header("Content-Type");
  auto semi = type.find(';');
  std::string_view media = type.substr(0, semi);
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  if (!iequals(media, "application/json") && !(media.size() > 5 && iequals(media.substr(media.size() - 5), "+json"))) {
    return core::error::unsupported_media("expected Content-Type application/json");
  }
  if (req.body.empty()) return core::error::invalid_argument("empty JSON body");
  return parse_json(req.body, limits);
}

core::result<std::vector<std::string>> json_string_list(const boost::json::object& obj, std::string_view key,
                                                        std::size_t max_items) {
  std::vector<std::string> out;
  const auto* v = obj.if_contains(key);
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_array() || v->get_array().size() > max_items) {
    return core::error::invalid_argument(std::string(key) + " must be a list of at most " + std::to_string(max_items) +
                                         " strings");
  }
  for (const auto& item : v->get_array()) {
    if (!item.is_string()) return core::error::invalid_argument(std::string(key) + " must hold strings");
    out.emplace_back(item.get_string());
  }
  return out;
}

core::result<boost::json::object> parse_json_object_body(const request& req, json_limits limits) {
  WATTOS_ASSIGN_OR_RETURN(auto value, parse_json_body(req, limits));
  if (!value.is_object()) return core::error::invalid_argument("the request body must be a JSON object");
  return std::move(value.get_object());
}

}  // namespace wattos::net
