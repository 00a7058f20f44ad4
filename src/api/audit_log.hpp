// File: api/audit_log.hpp
//
// The append-only audit log (GDPR Art. 30): every state-changing request and every
// authentication event, with who, what, target, outcome, time, request id and IP.
// Rows are hash-chained: each row's hash covers its fields and the previous row's
// hash, so editing or deleting a row breaks the chain and `verify()` names the first
// broken row. (Cutting rows off the end is only visible against an exported hash:
// `verify()` reports the last hash for that purpose.)
//
// Example:
//   audit.append({.actor = "user:0193...", .action = "users.create", .target = "user:0194...",
//                 .outcome = "201", .request_id = req.request_id, .ip = req.remote_address});
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "infra/db/database.hpp"
#include "infra/db/migrations.hpp"

namespace wattos::api {

struct audit_event {
  std::string actor;       // "user:<id>", "api_key:<id>", "anonymous", "system"
  std::string action;      // "auth.login", "users.create", "POST /api/v1/...", ...
  std::string target;      // what it acted on; may be empty
  std::string outcome;     // "success", "failure", or the HTTP status
  std::string request_id;
  std::string ip;
  std::string details;     // short free text (never secrets)
};

struct audit_row {
  std::int64_t seq = 0;
  std::int64_t at_ms = 0;
  audit_event event;
  std::string prev_hash;
  std::string hash;
};

struct audit_filter {
  std::optional<std::string> actor;
  std::optional<std::string> action;
  std::optional<std::string> target;
  std::optional<std::string> outcome;
  std::optional<std::int64_t> since_ms;
  std::optional<std::int64_t> until_ms;
  std::optional<std::int64_t> before_seq;  // paging: rows older than this
  int limit = 100;
};

struct audit_verification {
  bool intact = true;
  std::int64_t rows = 0;
  std::int64_t first_broken_seq = 0;  // when not intact
  std::string problem;                // when not intact
  std::string last_hash;              // anchor for detecting truncation later
};

class audit_log {
 public:
  explicit audit_log(infra::db::database& db) : db_(db) {}

  static const std::vector<infra::db::migration>& migrations();

  // Appends one row to the chain (serialised across processes).
  core::status append(const audit_event& event);

  // Newest first.
  core::result<std::vector<audit_row>> query(const audit_filter& filter);

  core::result<audit_verification> verify();

 private:
  infra::db::database& db_;
};

// The hash of a row: SHA-256 over the previous hash and the fields, unambiguously
// separated. Exposed for tests.
std::string audit_row_hash(const std::string& prev_hash, std::int64_t seq, std::int64_t at_ms, const audit_event& e);

}  // namespace wattos::api
