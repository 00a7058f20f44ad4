#include "api/audit_log.hpp"

#include <algorithm>
#include <chrono>

#include "core/crypto.hpp"

namespace wattos::api {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Length-prefixed fields: no separator inside a value can make two rows hash alike.
void add_field(std::string& out, std::string_view value) {
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += ';';
}

core::result<audit_row> read_row(const infra::db::row& r) {
  audit_row row;
  WATTOS_ASSIGN_OR_RETURN(row.seq, r.get_int("seq"));
  WATTOS_ASSIGN_OR_RETURN(row.at_ms, r.get_int("at_ms"));
  WATTOS_ASSIGN_OR_RETURN(row.event.actor, r.get_text("actor"));
  WATTOS_ASSIGN_OR_RETURN(row.event.action, r.get_text("action"));
  WATTOS_ASSIGN_OR_RETURN(row.event.target, r.get_text("target"));
  WATTOS_ASSIGN_OR_RETURN(row.event.outcome, r.get_text("outcome"));
  WATTOS_ASSIGN_OR_RETURN(row.event.request_id, r.get_text("request_id"));
  WATTOS_ASSIGN_OR_RETURN(row.event.ip, r.get_text("ip"));
  WATTOS_ASSIGN_OR_RETURN(row.event.details, r.get_text("details"));
  WATTOS_ASSIGN_OR_RETURN(row.prev_hash, r.get_text("prev_hash"));
  WATTOS_ASSIGN_OR_RETURN(row.hash, r.get_text("hash"));
  return row;
}

constexpr const char* columns = "seq, at_ms, actor, action, target, outcome, request_id, ip, details, prev_hash, hash";

}  // namespace

std::string audit_row_hash(const std::string& prev_hash, std::int64_t seq, std::int64_t at_ms, const audit_event& e) {
  std::string input;
  add_field(input, prev_hash);
  add_field(input, std::to_string(seq));
  add_field(input, std::to_string(at_ms));
  add_field(input, e.actor);
  add_field(input, e.action);
  add_field(input, e.target);
  add_field(input, e.outcome);
  add_field(input, e.request_id);
  add_field(input, e.ip);
  add_field(input, e.details);
  return core::sha256_hex(input);
}

const std::vector<infra::db::migration>& audit_log::migrations() {
  static const std::vector<infra::db::migration> list = {
      {1, "audit_log",
       "CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, actor TEXT NOT NULL,"
       " action TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL, request_id TEXT NOT NULL,"
       " ip TEXT NOT NULL, details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
       "CREATE INDEX audit_log_actor ON audit_log (actor, seq);"
       "CREATE INDEX audit_log_action ON audit_log (action, seq);",
       "CREATE TABLE audit_log (seq BIGINT PRIMARY KEY, at_ms BIGINT NOT NULL, actor TEXT NOT NULL,"
       " action TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL, request_id TEXT NOT NULL,"
       " ip TEXT NOT NULL, details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
       "CREATE INDEX audit_log_actor ON audit_log (actor, seq);"
       "CREATE INDEX audit_log_action ON audit_log (action, seq);"},
  };
  return list;
}

core::status audit_log::append(const audit_event& event) {
  return db_.transaction([&](infra::db::connection& conn) -> core::status {
    // One writer at a time across processes: the chain must not fork.
    if (conn.kind() == infra::db::dialect::postgres) {
      WATTOS_RETURN_IF_ERROR(conn.execute("SELECT pg_advisory_xact_lock(7261029385)"));
    }
    WATTOS_ASSIGN_OR_RETURN(auto last, conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"));
    std::int64_t seq = 1;
    std::string prev_hash;
    if (!last.rows.empty()) {
      WATTOS_ASSIGN_OR_RETURN(auto last_seq, last.rows[0].get_int(0));
      WATTOS_ASSIGN_OR_RETURN(prev_hash, last.rows[0].get_text(1));
      seq = last_seq + 1;
    }
    const std::int64_t at = now_ms();
    const std::string hash = audit_row_hash(prev_hash, seq, at, event);
    WATTOS_RETURN_IF_ERROR(conn.execute(
        "INSERT INTO audit_log (seq, at_ms, actor, action, target, outcome, request_id, ip, details, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {seq, at, event.actor, event.action, event.target, event.outcome, event.request_id, event.ip, event.details,
         prev_hash, hash}));
    return {};
  });
}

core::result<std::vector<audit_row>> audit_log::query(const audit_filter& f) {
  std::string sql = std::string("SELECT ") + columns + " FROM audit_log WHERE 1=1";
  std::vector<infra::db::value> params;
  auto add_text = [&](const std::optional<std::string>& v, const char* clause) {
    if (!v) return;
    sql += clause;
    params.emplace_back(*v);
  };
  add_text(f.actor, " AND actor = ?");
  add_text(f.action, " AND action = ?");
  add_text(f.target, " AND target = ?");
  add_text(f.outcome, " AND outcome = ?");
  if (f.since_ms) {
    sql += " AND at_ms >= ?";
    params.emplace_back(*f.since_ms);
  }
  if (f.until_ms) {
    sql += " AND at_ms < ?";
    params.emplace_back(*f.until_ms);
  }
  if (f.before_seq) {
    sql += " AND seq < ?";
    params.emplace_back(*f.before_seq);
  }
  sql += " ORDER BY seq DESC LIMIT ?";
  params.emplace_back(static_cast<std::int64_t>(std::clamp(f.limit, 1, 100000)));
  WATTOS_ASSIGN_OR_RETURN(auto rows, db_.execute(sql, params));
  std::vector<audit_row> out;
  out.reserve(rows.rows.size());
  for (const auto& r : rows.rows) {
    WATTOS_ASSIGN_OR_RETURN(auto row, read_row(r));
    out.push_back(std::move(row));
  }
  return out;
}

core::result<audit_verification> audit_log::verify() {
  audit_verification report;
  std::int64_t after = 0;
  std::string prev_hash;
  std::int64_t expected_seq = 1;
  // Pages of 1,000 keep memory flat for long logs.
  while (true) {
    WATTOS_ASSIGN_OR_RETURN(auto page,
                            db_.execute(std::string("SELECT ") + columns +
                                            " FROM audit_log WHERE seq > ? ORDER BY seq LIMIT 1000",
                                        {after}));
    if (page.rows.empty()) break;
    for (const auto& r : page.rows) {
      WATTOS_ASSIGN_OR_RETURN(auto row, read_row(r));
      auto broken = [&](std::string problem) {
        report.intact = false;
        report.first_broken_seq = row.seq;
        report.problem = std::move(problem);
      };
      if (row.seq != expected_seq) {
        broken("row " + std::to_string(expected_seq) + " is missing");
      } else if (row.prev_hash != prev_hash) {
        broken("previous-hash link does not match row " + std::to_string(row.seq - 1));
      } else if (audit_row_hash(row.prev_hash, row.seq, row.at_ms, row.event) != row.hash) {
        broken("row content does not match its hash (edited)");
      }
      if (!report.intact) return report;
      prev_hash = row.hash;
      after = row.seq;
      expected_seq = row.seq + 1;
      ++report.rows;
    }
  }
  report.last_hash = prev_hash;
  return report;
}

}  // namespace wattos::api
