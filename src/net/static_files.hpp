// File: net/static_files.hpp
//
// Serves the exported web UI from a directory. Paths are resolved strictly inside the
// root (no `..`, no symlink escape); `/spaces` is looked up as `spaces`, `spaces.html`
// and `spaces/index.html`, as a Next.js static export lays them out. Unknown paths
// without a file extension fall back to `404.html` with status 404 when present.
//
// Example:
//   net::static_files web("/srv/wattos/web");
//   if (auto res = web.serve(req.path)) co_return *res;
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

#include "net/http_types.hpp"

namespace wattos::net {

// Content-Type for a file name's extension ("application/octet-stream" if unknown).
std::string_view mime_type_for(std::string_view path) noexcept;

class static_files {
 public:
  explicit static_files(std::filesystem::path root);

  // A response for a GET of `decoded_path`, or nullopt when there is no such file.
  std::optional<response> serve(std::string_view decoded_path, std::string_view if_none_match = {}) const;

 private:
  std::optional<std::filesystem::path> resolve(std::string_view decoded_path) const;
  std::filesystem::path root_;
};

}  // namespace wattos::net
