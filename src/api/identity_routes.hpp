// File: api/identity_routes.hpp
//
// The HTTP surface of sessions, users, roles, API keys and the audit log:
//   POST /api/v1/auth/login | refresh | logout | password,  GET /api/v1/auth/me
//   GET|POST /api/v1/api-keys, DELETE /api/v1/api-keys/{id}               (one's own keys)
//   /api/v1/admin/users[/{id}[/roles|/password]], /api/v1/admin/roles[/{id}],
//   /api/v1/admin/api-keys[/{id}], /api/v1/admin/permissions,
//   GET /api/v1/admin/audit, /api/v1/admin/audit/export (JSON lines), /api/v1/admin/audit/verify
// docs/api.md lists bodies and answers.
#pragma once

#include "api/audit_log.hpp"
#include "api/gateway.hpp"
#include "api/identity/identity_service.hpp"

namespace wattos::api {

// The services must outlive the routes.
void add_identity_routes(route_table& routes, identity_service& identity, audit_log& audit);

}  // namespace wattos::api
