#include "net/static_files.hpp"

#include <system_error>

namespace wattos::net {
namespace {

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

}  // namespace

std::string_view mime_type_for(std::string_view path) noexcept {
  struct entry {
    std::string_view ext;
    std::string_view type;
  };
  static constexpr entry types[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
      {".wasm", "application/wasm"},
      {".pdf", "application/pdf"},
  };
  for (const auto& t : types) {
    if (ends_with_ci(path, t.ext)) return t.type;
  }
  return "application/octet-stream";
}

static_files::static_files(std::filesystem::path root) {
  std::error_code ec;
  root_ = std::filesystem::weakly_canonical(root, ec);
  if (ec) root_ = std::move(root);
}

std::optional<std::filesystem::path> static_files::resolve(std::string_view decoded_path) const {
  if (decoded_path.find('\0') != std::string_view::npos) return std::nullopt;
  std::filesystem::path relative;
  std::string_view rest = decoded_path;
  while (!rest.empty()) {
    auto slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (seg.empty() || seg == ".") continue;
    if (seg == ".." || seg.find('\\') != std::string_view::npos) return std::nullopt;
    relative /= std::string(seg);
  }
  std::filesystem::path base = root_ / relative;
  std::vector<std::filesystem::path> candidates;
  if (relative.empty()) {
    candidates.push_back(root_ / "index.html");
  } else {
    candidates.push_back(base);
    candidates.push_back(std::filesystem::path(base.string() + ".html"));
    candidates.push_back(base / "index.html");
  }
  for (const auto& candidate : candidates) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(candidate, ec)) continue;
    // Refuse anything a symlink leads outside the root.
    auto canonical = std::filesystem::canonical(candidate, ec);
    if (ec) continue;
    auto [root_end, _] = std::mismatch(root_.begin(), root_.end(), canonical.begin(), canonical.end());
    if (root_end != root_.end()) continue;
    return canonical;
  }
  return std::nullopt;
}

std::optional<response> static_files::serve(std::string_view decoded_path, std::string_view if_none_match) const {
  auto file = resolve(decoded_path);
  int status = 200;
  if (!file) {
    // Client-side routes have no extension; give them the export's 404 page.
    auto last_slash = decoded_path.rfind('/');
    auto last_segment = decoded_path.substr(last_slash == std::string_view::npos ? 0 : last_slash + 1);
    if (last_segment.find('.') != std::string_view::npos) return std::nullopt;
    file = resolve("/404.html");
    if (!file) return std::nullopt;
    status = 404;
  }
  std::error_code ec;
  auto size = std::filesystem::file_size(*file, ec);
  auto mtime = std::filesystem::last_write_time(*file, ec);
  // Appended piece by piece: `"\"" + std::to_string(...)` trips a false -Wrestrict of g++ 12 at -O3.
  std::string etag = "\"";
  etag += std::to_string(size);
  etag += '-';
  etag += std::to_string(mtime.time_since_epoch().count());
  etag += '"';
  response res;
  res.status = status;
  res.headers.set("Content-Type", std::string(mime_type_for(file->string())));
  res.headers.set("ETag", etag);
  // Next.js puts content-hashed assets under _next/static: cache them for a year.
  if (decoded_path.find("/_next/static/") != std::string_view::npos) {
    res.headers.set("Cache-Control", "public, max-age=31536000, immutable");
  } else {
    res.headers.set("Cache-Control", "no-cache");
  }
  if (status == 200 && !if_none_match.empty() && if_none_match == etag) {
    res.status = 304;
    return res;
  }
  res.file = *file;
  return res;
}

}  // namespace wattos::net
