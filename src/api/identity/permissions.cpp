#include "api/identity/permissions.hpp"

#include <algorithm>

namespace wattos::api {

const std::vector<std::string>& known_permissions() {
  static const std::vector<std::string> names = {
      std::string(perm::users_read),      std::string(perm::users_write),
      std::string(perm::roles_write),     std::string(perm::api_keys_admin),
      std::string(perm::api_keys_own),    std::string(perm::audit_read),
      std::string(perm::chat_use),        std::string(perm::spaces_read),
      std::string(perm::spaces_write),    std::string(perm::documents_write),
      std::string(perm::personas_write),  std::string(perm::agents_use),
      std::string(perm::models_admin),    std::string(perm::usage_read),
      std::string(perm::feedback_review), std::string(perm::all),
  };
  return names;
}

const std::vector<builtin_role>& builtin_roles() {
  static const std::vector<builtin_role> roles = {
      {"admin", "Everything, including users, roles, models and the audit log", {std::string(perm::all)}},
      {"editor",
       "Chat, manage knowledge spaces, documents and personas",
       {std::string(perm::chat_use), std::string(perm::spaces_read), std::string(perm::spaces_write),
        std::string(perm::documents_write), std::string(perm::personas_write), std::string(perm::agents_use),
        std::string(perm::api_keys_own)}},
      {"member",
       "Chat and read the knowledge spaces shared with them",
       {std::string(perm::chat_use), std::string(perm::spaces_read), std::string(perm::agents_use),
        std::string(perm::api_keys_own)}},
      {"auditor",
       "Read the audit log, usage and feedback; nothing else",
       {std::string(perm::audit_read), std::string(perm::usage_read), std::string(perm::feedback_review),
        std::string(perm::users_read)}},
  };
  return roles;
}

bool grants(const std::vector<std::string>& held, std::string_view wanted) noexcept {
  return std::any_of(held.begin(), held.end(), [&](const std::string& p) { return p == perm::all || p == wanted; });
}

std::string join_permissions(const std::vector<std::string>& permissions) {
  std::string out;
  for (const auto& p : permissions) {
    if (!out.empty()) out += ' ';
    out += p;
  }
  return out;
}

std::vector<std::string> split_permissions(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    auto space = text.find(' ');
    auto part = text.substr(0, space);
    if (!part.empty()) out.emplace_back(part);
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return out;
}

}  // namespace wattos::api
