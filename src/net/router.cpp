#include "net/router.hpp"

#include <cstdio>
#include <cstdlib>
#include <functional>

namespace wattos::net {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    auto slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

bool is_param(std::string_view s) {
  return s.size() > 2 && s.front() == '{' && s.back() == '}';
}

route compile(std::string method, std::string pattern, route_options options) {
  if (pattern.empty() || pattern.front() != '/') {
    std::fprintf(stderr, "router: pattern must start with '/': %s\n", pattern.c_str());
    std::abort();
  }
  route r;
  r.method = std::move(method);
  r.pattern = std::move(pattern);
  r.options = options;
  auto parts = split_path(r.pattern);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::string seg(parts[i]);
    if (is_param(seg) && seg[1] == '*') {
      if (i + 1 != parts.size()) {
        std::fprintf(stderr, "router: {*rest} must be last: %s\n", r.pattern.c_str());
        std::abort();
      }
      r.has_rest = true;
    } else if (!is_param(seg)) {
      ++r.literal_count;
    }
    r.segments.push_back(std::move(seg));
  }
  return r;
}

// Whether the path's parts match a compiled route; compares only, allocates nothing
// (find tries every route, most of which do not match).
bool path_matches(const route& r, const std::vector<std::string_view>& parts) {
  const std::size_t n = r.segments.size();
  // A {*rest} route also matches its prefix alone ("/files" for "/files/{*rest}").
  if (r.has_rest ? parts.size() + 1 < n : parts.size() != n) return false;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& seg = r.segments[i];
    if (is_param(seg)) {
      if (seg[1] == '*') return true;
      if (parts[i].empty()) return false;
    } else if (seg != parts[i]) {
      return false;
    }
  }
  return true;
}

// The parameters of a route that matched.
void fill_params(const route& r, const std::vector<std::string_view>& parts, std::string_view full_path,
                 std::vector<std::pair<std::string, std::string>>& params) {
  for (std::size_t i = 0; i < r.segments.size(); ++i) {
    const std::string& seg = r.segments[i];
    if (!is_param(seg)) continue;
    if (seg[1] == '*') {
      // The rest of the path, possibly empty, without the leading slash.
      std::size_t offset = 1;
      for (std::size_t j = 0; j < i && j < parts.size(); ++j) offset += parts[j].size() + 1;
      std::string rest = offset <= full_path.size() ? std::string(full_path.substr(offset)) : std::string();
      params.emplace_back(seg.substr(2, seg.size() - 3), std::move(rest));
      return;
    }
    params.emplace_back(seg.substr(1, seg.size() - 2), std::string(parts[i]));
  }
}

// Never 0, which marks a parameter as the last segment.
std::size_t segment_hash(std::string_view segment) {
  return std::hash<std::string_view>{}(segment) | 1;
}

}  // namespace

void router::index_route(std::size_t index) {
  const route& r = routes_[index];
  if (r.has_rest) {
    rest_routes_.push_back(index);
    return;
  }
  const std::size_t n = r.segments.size();
  if (by_length_.size() <= n) by_length_.resize(n + 1);
  const std::string& last = r.segments.back();
  by_length_[n].push_back({index, is_param(last) ? 0 : segment_hash(last)});
}

void router::add(std::string method, std::string pattern, handler h, route_options options) {
  route r = compile(std::move(method), std::move(pattern), options);
  r.http_handler = std::move(h);
  routes_.push_back(std::move(r));
  index_route(routes_.size() - 1);
}

void router::add_websocket(std::string pattern, websocket_handler h, route_options options) {
  route r = compile({}, std::move(pattern), options);
  r.ws_handler = std::move(h);
  routes_.push_back(std::move(r));
  index_route(routes_.size() - 1);
}

route_match router::find(std::string_view method, std::string_view path, bool websocket) const {
  route_match best;
  auto parts = split_path(path);
  int best_score = -1;
  std::string allowed;
  // The routes of this length whose last segment fits, and the {*rest} routes, merged in
  // the order they were added.
  static const std::vector<candidate> no_candidates;
  const auto& fixed = parts.size() < by_length_.size() ? by_length_[parts.size()] : no_candidates;
  const std::size_t last_hash = segment_hash(parts.back());
  std::size_t next_fixed = 0;
  std::size_t next_rest = 0;
  while (true) {
    while (next_fixed < fixed.size() && fixed[next_fixed].last_hash != 0 && fixed[next_fixed].last_hash != last_hash) {
      ++next_fixed;
    }
    const bool fixed_left = next_fixed < fixed.size();
    const bool rest_left = next_rest < rest_routes_.size();
    if (!fixed_left && !rest_left) break;
    std::size_t index = 0;
    if (fixed_left && (!rest_left || fixed[next_fixed].index < rest_routes_[next_rest])) {
      index = fixed[next_fixed++].index;
    } else {
      index = rest_routes_[next_rest++];
    }
    const route& r = routes_[index];
    if (websocket != static_cast<bool>(r.ws_handler)) continue;
    if (!path_matches(r, parts)) continue;
    bool method_ok = websocket || r.method == method || (method == "HEAD" && r.method == "GET");
    if (!method_ok) {
      if (allowed.find(r.method) == std::string::npos) allowed += (allowed.empty() ? "" : ", ") + r.method;
      continue;
    }
    // More literal segments first; then a fixed-length route before a {*rest} one.
    int score = r.literal_count * 2 + (r.has_rest ? 0 : 1);
    if (score > best_score) {
      best_score = score;
      best.matched = &r;
    }
  }
  if (best.matched) {
    fill_params(*best.matched, parts, path, best.params);
  } else {
    best.allowed_methods = std::move(allowed);
  }
  return best;
}

}  // namespace wattos::net
