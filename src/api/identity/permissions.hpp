// File: api/identity/permissions.hpp
//
// Named permissions and the built-in roles. A role is a set of permissions; a user
// holds the union of their roles' permissions; an API key holds the subset it was
// scoped to, cut down to what its owner still holds. "*" (admin) grants everything.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wattos::api {

namespace perm {
inline constexpr std::string_view users_read = "users:read";
inline constexpr std::string_view users_write = "users:write";
inline constexpr std::string_view roles_write = "roles:write";
inline constexpr std::string_view api_keys_admin = "api_keys:admin";  // every user's keys
inline constexpr std::string_view api_keys_own = "api_keys:own";      // one's own keys
inline constexpr std::string_view audit_read = "audit:read";
inline constexpr std::string_view chat_use = "chat:use";
inline constexpr std::string_view spaces_read = "spaces:read";
inline constexpr std::string_view spaces_write = "spaces:write";
inline constexpr std::string_view documents_write = "documents:write";
inline constexpr std::string_view personas_write = "personas:write";
inline constexpr std::string_view agents_use = "agents:use";
inline constexpr std::string_view models_admin = "models:admin";
inline constexpr std::string_view usage_read = "usage:read";
inline constexpr std::string_view feedback_review = "feedback:review";
inline constexpr std::string_view all = "*";
}  // namespace perm

// Every permission name a role may hold ("*" included).
const std::vector<std::string>& known_permissions();

struct builtin_role {
  std::string name;
  std::string description;
  std::vector<std::string> permissions;
};
// admin, editor, member, auditor.
const std::vector<builtin_role>& builtin_roles();

// True if `held` grants `wanted` ("*" grants everything).
bool grants(const std::vector<std::string>& held, std::string_view wanted) noexcept;

// Space-separated storage form, and back (unknown names are dropped by the caller's check).
std::string join_permissions(const std::vector<std::string>& permissions);
std::vector<std::string> split_permissions(std::string_view text);

}  // namespace wattos::api
