#include "api/services.hpp"

#include <algorithm>
#include <array>

namespace wattos::api {
namespace {

constexpr std::array<service_info, 9> service_table = {{
    {"gateway", 3001},
    {"admin", 3002},
    {"chat", 3006},
    {"rag", 3007},
    {"agent", 3008},
    {"persona", 3009},
    {"voice", 3010},
    {"llm", 3011},
    {"ingestion", 8001},
}};

constexpr std::array<service_prefix, 27> prefix_table = {{
    {"/healthz", "kernel"},
    {"/readyz", "kernel"},
    {"/metrics", "kernel"},
    {"/api/v1/version", "kernel"},
    {"/api/v1/auth", "gateway"},
    {"/api/v1/api-keys", "gateway"},
    {"/api/v1/admin", "admin"},
    {"/api/v1/chat", "chat"},
    {"/api/v1/conversations", "chat"},
    {"/api/v1/feedback", "chat"},
    {"/api/v1/spaces", "rag"},
    {"/api/v1/search", "rag"},
    {"/api/v1/agents", "agent"},
    {"/api/v1/runs", "agent"},
    {"/api/v1/approvals", "agent"},
    {"/api/v1/tools", "agent"},
    {"/api/v1/personas", "persona"},
    {"/api/v1/voice", "voice"},
    {"/v1", "llm"},
    {"/api/v1/models", "llm"},
    {"/api/v1/usage", "llm"},
    {"/api/v1/admin/models", "llm"},
    {"/api/v1/admin/usage", "llm"},
    {"/api/v1/admin/users/{id}/token-budget", "llm"},
    {"/api/v1/spaces/{id}/files", "ingestion"},
    {"/api/v1/spaces/{id}/watch", "ingestion"},
    {"/api/v1/admin/ingest", "ingestion"},
}};

// Whether `prefix` is `pattern` or a run of its leading whole segments.
bool is_segment_prefix(std::string_view prefix, std::string_view pattern) {
  if (!pattern.starts_with(prefix)) return false;
  return pattern.size() == prefix.size() || pattern[prefix.size()] == '/';
}

}  // namespace

std::span<const service_info> services() {
  return service_table;
}

std::optional<service_info> find_service(std::string_view name) {
  auto it = std::find_if(service_table.begin(), service_table.end(),
                         [name](const service_info& s) { return s.name == name; });
  if (it == service_table.end()) return std::nullopt;
  return *it;
}

std::span<const service_prefix> service_prefixes() {
  return prefix_table;
}

std::string_view owner_of(std::string_view pattern) {
  const service_prefix* best = nullptr;
  for (const auto& p : prefix_table) {
    if (is_segment_prefix(p.prefix, pattern) && (!best || p.prefix.size() > best->prefix.size())) best = &p;
  }
  return best ? best->service : std::string_view();
}

bool serves(std::string_view service, std::string_view pattern) {
  if (service == "all") return true;
  const std::string_view owner = owner_of(pattern);
  if (owner == "kernel" || owner == service) return true;
  // The public entry runs sign-in and administration itself (there is no admin URL to
  // forward to); everything else it forwards.
  return service == "gateway" && owner == "admin";
}

}  // namespace wattos::api
