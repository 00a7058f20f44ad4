#include "api/audit_log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "core/crypto.hpp"
#include "core/log.hpp"

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

// Rows per INSERT statement (11 parameters each; far below either backend's limit).
constexpr std::size_t rows_per_insert = 64;

std::string insert_sql(std::size_t rows) {
  std::string sql = std::string("INSERT INTO audit_log (") + columns + ") VALUES ";
  for (std::size_t i = 0; i < rows; ++i)
    sql += i == 0 ? "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  return sql;
}

}  // namespace

// The group-commit writer: one thread that drains the queue batch by batch.
struct audit_log::writer {
  using completion = std::function<void(core::status)>;
  struct pending {
    audit_event event;
    std::int64_t at_ms = 0;
    completion done;
  };

  writer(infra::db::database& database, audit_writer_settings s) : db(database), settings(s) {
    settings.max_batch = std::max<std::size_t>(1, settings.max_batch);
    thread = std::thread([this] { run(); });
  }

  ~writer() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
      held = false;
    }
    wake.notify_all();
    thread.join();
  }

  // Queues the event; `done` runs on the writer thread after its batch (or here, at
  // once, when the backlog is full or the writer stops).
  void enqueue(audit_event event, completion done) {
    {
      std::lock_guard lock(mutex);
      if (!stopping && queue.size() < settings.max_pending) {
        queue.push_back({std::move(event), now_ms(), std::move(done)});
        if (queue.size() == 1) wake.notify_one();
        return;
      }
    }
    done(core::error::unavailable("audit log backlog is full"));
  }

  void run() {
    std::vector<pending> batch;
    while (true) {
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [&] { return (stopping && queue.empty()) || (!held && !queue.empty()); });
        if (queue.empty()) return;  // stopping, nothing left
        const std::size_t n = std::min(queue.size(), settings.max_batch);
        for (std::size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue.front()));
          queue.pop_front();
        }
      }
      core::status st;
      try {
        st = write_batch(batch);
      } catch (const std::exception& e) {
        st = core::error::internal(std::string("audit batch: ") + e.what());
      }
      {
        std::lock_guard lock(mutex);
        if (st.ok()) {
          ++stats.batches;
          stats.rows += static_cast<std::int64_t>(batch.size());
        } else {
          ++stats.failed_batches;
        }
      }
      if (!st.ok()) {
        core::log_error("audit batch not written",
                        {{"rows", static_cast<std::int64_t>(batch.size())}, {"error", st.err().message()}});
      }
      for (auto& p : batch) p.done(st);
      batch.clear();  // the completions hold their executors' outstanding work: let it go
    }
  }

  // One transaction: the chain's lock, its head read once, the batch's rows.
  core::status write_batch(const std::vector<pending>& batch) {
    return db.transaction([&](infra::db::connection& conn) -> core::status {
      // One writer at a time across processes: the chain must not fork.
      if (conn.kind() == infra::db::dialect::postgres) {
        WATTOS_RETURN_IF_ERROR(conn.execute("SELECT pg_advisory_xact_lock(7261029385)"));
      }
      WATTOS_ASSIGN_OR_RETURN(auto last, conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"));
      std::int64_t seq = 0;
      std::string prev_hash;
      if (!last.rows.empty()) {
        WATTOS_ASSIGN_OR_RETURN(seq, last.rows[0].get_int(0));
        WATTOS_ASSIGN_OR_RETURN(prev_hash, last.rows[0].get_text(1));
      }
      std::vector<infra::db::value> params;
      for (std::size_t start = 0; start < batch.size(); start += rows_per_insert) {
        const std::size_t n = std::min(rows_per_insert, batch.size() - start);
        params.clear();
        params.reserve(n * 11);
        for (std::size_t i = start; i < start + n; ++i) {
          const audit_event& e = batch[i].event;
          ++seq;
          std::string hash = audit_row_hash(prev_hash, seq, batch[i].at_ms, e);
          params.insert(params.end(),
                        {seq, batch[i].at_ms, e.actor, e.action, e.target, e.outcome, e.request_id, e.ip, e.details});
          params.emplace_back(std::move(prev_hash));
          params.emplace_back(hash);
          prev_hash = std::move(hash);
        }
        if (n == rows_per_insert) {
          static const std::string full = insert_sql(rows_per_insert);
          WATTOS_RETURN_IF_ERROR(conn.execute(full, params));
        } else {
          WATTOS_RETURN_IF_ERROR(conn.execute(insert_sql(n), params));
        }
      }
      return {};
    });
  }

  infra::db::database& db;
  audit_writer_settings settings;
  mutable std::mutex mutex;  // guards queue, stopping, held, stats
  std::condition_variable wake;
  std::deque<pending> queue;
  bool stopping = false;
  bool held = false;
  audit_writer_stats stats;
  std::thread thread;  // last: starts after the members above exist
};

audit_log::audit_log(infra::db::database& db, audit_writer_settings settings)
    : db_(db), writer_(std::make_unique<writer>(db, settings)) {}

audit_log::~audit_log() = default;

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
  auto done = std::make_shared<std::promise<core::status>>();
  auto result = done->get_future();
  writer_->enqueue(event, [done](core::status st) { done->set_value(std::move(st)); });
  return result.get();
}

boost::asio::awaitable<core::status> audit_log::append_async(audit_event event) {
  namespace asio = boost::asio;
  // The handler resumes the coroutine; it is posted back to the coroutine's executor,
  // which counts as busy (outstanding work) until then.
  auto initiate = [this](auto handler, audit_event ev) {
    using handler_type = decltype(handler);
    auto executor = asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
    auto shared = std::make_shared<handler_type>(std::move(handler));
    writer_->enqueue(std::move(ev), [shared, executor](core::status st) {
      asio::post(executor, [shared, st = std::move(st)]() mutable { std::move (*shared)(std::move(st)); });
    });
  };
  core::status st = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(core::status)>(
      initiate, asio::use_awaitable, std::move(event));
  co_return st;
}

namespace {

// The timer never fires: finish() cancels it, which wakes the waiting coroutine.
class pending_append final : public audit_ticket {
 public:
  explicit pending_append(const boost::asio::any_io_executor& executor)
      : committed_(executor, boost::asio::steady_timer::time_point::max()) {}

  const std::optional<core::status>& outcome() const noexcept override { return outcome_; }

  boost::asio::awaitable<core::status> wait() override {
    if (!outcome_) co_await committed_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (!outcome_) co_return core::error::cancelled("stopped waiting for the audit row");
    co_return *outcome_;
  }

  void finish(core::status st) {
    outcome_ = std::move(st);
    committed_.cancel();
  }

 private:
  std::optional<core::status> outcome_;
  boost::asio::steady_timer committed_;
};

}  // namespace

boost::asio::awaitable<std::shared_ptr<audit_ticket>> audit_log::start_append(audit_event event) {
  namespace asio = boost::asio;
  auto executor = co_await asio::this_coro::executor;
  auto ticket = std::make_shared<pending_append>(executor);
  // Outstanding work: the io_context stays busy until the outcome is back on it.
  auto tracked = asio::prefer(executor, asio::execution::outstanding_work.tracked);
  writer_->enqueue(std::move(event), [ticket, tracked](core::status st) {
    asio::post(tracked, [ticket, st = std::move(st)]() mutable { ticket->finish(std::move(st)); });
  });
  co_return ticket;
}

audit_writer_stats audit_log::stats() const {
  std::lock_guard lock(writer_->mutex);
  return writer_->stats;
}

void audit_log::hold_writer_for_test() {
  std::lock_guard lock(writer_->mutex);
  writer_->held = true;
}

void audit_log::release_writer_for_test() {
  {
    std::lock_guard lock(writer_->mutex);
    writer_->held = false;
  }
  writer_->wake.notify_all();
}

std::size_t audit_log::pending_for_test() const {
  std::lock_guard lock(writer_->mutex);
  return writer_->queue.size();
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
    WATTOS_ASSIGN_OR_RETURN(auto page, db_.execute(std::string("SELECT ") + columns +
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
