// File: api/audit_log.hpp
//
// The append-only audit log (GDPR Art. 30): every state-changing request and every
// authentication event, with who, what, target, outcome, time, request id and IP.
// Rows are hash-chained: each row's hash covers its fields and the previous row's
// hash, so editing or deleting a row breaks the chain and `verify()` names the first
// broken row. (Cutting rows off the end is only visible against an exported hash:
// `verify()` reports the last hash for that purpose.)
//
// Group commit: appends go to one writer thread per audit_log, which writes every event
// pending at that moment in one transaction (up to max_batch rows): it takes the
// chain's lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory transaction lock),
// reads the chain's head (last seq and hash) once, inserts the batch's rows chained
// one after the other, and commits. Reading the head under the lock per batch, not
// trusting a copy in memory, keeps one chain when several writers share the store
// (gateway processes on one PostgreSQL, two audit_log objects on one file); it is one
// indexed read per batch instead of per request. Durability: append() and
// append_async() complete only after their batch committed; when the batch fails, every
// event of it fails with that error and none of its rows exist. A full backlog
// (max_pending) fails at once with errc::unavailable. The caller decides what a failure
// means (the gateway answers 503 instead of the handler's success).
//
// Threading: safe to share between threads. The destructor writes what is pending,
// then stops the writer; coroutines awaiting append_async() keep their executor's
// io_context busy (outstanding work) until their batch is done.
//
// Example:
//   audit.append({.actor = "user:0193...", .action = "users.create", .target = "user:0194...",
//                 .outcome = "201", .request_id = req.request_id, .ip = req.remote_address});
//   core::status st = co_await audit.append_async(std::move(event));  // the I/O thread is free meanwhile
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "infra/db/database.hpp"
#include "infra/db/migrations.hpp"

namespace wattos::api {

struct audit_event {
  std::string actor;    // "user:<id>", "api_key:<id>", "anonymous", "system"
  std::string action;   // "auth.login", "users.create", "POST /api/v1/...", ...
  std::string target;   // what it acted on; may be empty
  std::string outcome;  // "success", "failure", or the HTTP status
  std::string request_id;
  std::string ip;
  std::string details;  // short free text (never secrets)
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

struct audit_writer_settings {
  std::size_t max_batch = 512;       // rows per transaction
  std::size_t max_pending = 100000;  // events waiting for the writer; beyond: errc::unavailable
};

struct audit_writer_stats {
  std::int64_t batches = 0;         // transactions committed
  std::int64_t failed_batches = 0;  // transactions that failed (each of their events failed)
  std::int64_t rows = 0;            // rows committed
};

// An append handed to the writer and awaited later (audit_log::start_append). Used on
// the executor that started it only.
class audit_ticket {
 public:
  virtual ~audit_ticket() = default;
  // The batch's outcome once it committed or failed; empty while it is pending.
  virtual const std::optional<core::status>& outcome() const noexcept = 0;
  // Completes once the batch committed or failed (at once when it did already); an
  // error with errc::cancelled when the awaiting coroutine was cancelled first.
  virtual boost::asio::awaitable<core::status> wait() = 0;
};

class audit_log {
 public:
  explicit audit_log(infra::db::database& db, audit_writer_settings settings = {});
  ~audit_log();
  audit_log(const audit_log&) = delete;
  audit_log& operator=(const audit_log&) = delete;

  static const std::vector<infra::db::migration>& migrations();

  // Appends one row to the chain (serialised across processes): blocks until the
  // event's batch committed or failed.
  core::status append(const audit_event& event);
  // The same without blocking the calling thread: the coroutine resumes on its
  // executor once the batch committed or failed.
  boost::asio::awaitable<core::status> append_async(audit_event event);
  // Hands the event to the writer and returns at once, with a ticket to await the commit
  // later: a stream sends its first event while its row commits (api/gateway.hpp).
  boost::asio::awaitable<std::shared_ptr<audit_ticket>> start_append(audit_event event);

  audit_writer_stats stats() const;

  // Tests: while held, the writer takes no batch (events queue up); release lets it
  // write everything pending, up to max_batch per transaction.
  void hold_writer_for_test();
  void release_writer_for_test();
  std::size_t pending_for_test() const;

  // Newest first.
  core::result<std::vector<audit_row>> query(const audit_filter& filter);

  core::result<audit_verification> verify();

  struct writer;

 private:
  infra::db::database& db_;
  std::unique_ptr<writer> writer_;
};

// The hash of a row: SHA-256 over the previous hash and the fields, unambiguously
// separated. Exposed for tests.
std::string audit_row_hash(const std::string& prev_hash, std::int64_t seq, std::int64_t at_ms, const audit_event& e);

}  // namespace wattos::api
