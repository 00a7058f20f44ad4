#include "infra/db/database.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace wattos::infra::db {
namespace {

std::string_view type_name(const value& v) {
  switch (v.index()) {
    case 0:
      return "NULL";
    case 1:
      return "integer";
    case 2:
      return "double";
    case 3:
      return "text";
    default:
      return "blob";
  }
}

core::error wrong_type(const value& v, std::string_view wanted) {
  return core::error::invalid_argument("column holds " + std::string(type_name(v)) + ", not " + std::string(wanted));
}

}  // namespace

core::result<std::size_t> row::index_of(std::string_view column) const {
  for (std::size_t i = 0; i < columns_->size(); ++i) {
    if ((*columns_)[i] == column) return i;
  }
  return core::error::not_found("no column '" + std::string(column) + "' in the result");
}

core::result<std::int64_t> row::get_int(std::size_t index) const {
  if (index >= values_.size()) return core::error::not_found("column index out of range");
  if (auto* v = std::get_if<std::int64_t>(&values_[index])) return *v;
  return wrong_type(values_[index], "integer");
}

core::result<double> row::get_double(std::size_t index) const {
  if (index >= values_.size()) return core::error::not_found("column index out of range");
  if (auto* v = std::get_if<double>(&values_[index])) return *v;
  if (auto* v = std::get_if<std::int64_t>(&values_[index])) return static_cast<double>(*v);
  return wrong_type(values_[index], "double");
}

core::result<std::string> row::get_text(std::size_t index) const {
  if (index >= values_.size()) return core::error::not_found("column index out of range");
  if (auto* v = std::get_if<std::string>(&values_[index])) return *v;
  return wrong_type(values_[index], "text");
}

core::result<blob> row::get_blob(std::size_t index) const {
  if (index >= values_.size()) return core::error::not_found("column index out of range");
  if (auto* v = std::get_if<blob>(&values_[index])) return *v;
  return wrong_type(values_[index], "blob");
}

core::result<std::int64_t> row::get_int(std::string_view column) const {
  WATTOS_ASSIGN_OR_RETURN(auto i, index_of(column));
  return get_int(i);
}
core::result<double> row::get_double(std::string_view column) const {
  WATTOS_ASSIGN_OR_RETURN(auto i, index_of(column));
  return get_double(i);
}
core::result<std::string> row::get_text(std::string_view column) const {
  WATTOS_ASSIGN_OR_RETURN(auto i, index_of(column));
  return get_text(i);
}
core::result<blob> row::get_blob(std::string_view column) const {
  WATTOS_ASSIGN_OR_RETURN(auto i, index_of(column));
  return get_blob(i);
}

// A fixed-size pool. Connections are opened lazily up to `size`; a broken one is
// dropped on release and a new one opened on the next acquire.
struct database::pool {
  core::database_settings settings;
  dialect kind = dialect::sqlite;
  std::mutex mutex;
  std::condition_variable available;
  std::vector<std::unique_ptr<connection>> idle;  // guarded by mutex
  int open_count = 0;                             // guarded by mutex

  core::result<std::unique_ptr<connection>> open_one() const {
    return kind == dialect::sqlite ? open_sqlite(settings) : open_postgres(settings);
  }
};

database::database(std::unique_ptr<pool> p) : pool_(std::move(p)) {}
database::~database() = default;

core::result<std::unique_ptr<database>> database::open(const core::database_settings& settings) {
  auto p = std::make_unique<pool>();
  p->settings = settings;
  if (settings.backend == "sqlite") {
    p->kind = dialect::sqlite;
    if (settings.sqlite_path.empty()) return core::error::invalid_argument("database.sqlite_path is empty");
  } else if (settings.backend == "postgres") {
    p->kind = dialect::postgres;
    if (settings.postgres_url.empty()) return core::error::invalid_argument("database.postgres_url is empty");
  } else {
    return core::error::invalid_argument("unknown database backend '" + settings.backend + "'");
  }
  if (settings.pool_size < 1) return core::error::invalid_argument("database.pool_size must be at least 1");
  // Open one connection now, so that a wrong path or URL fails the start.
  WATTOS_ASSIGN_OR_RETURN(auto first, p->open_one());
  p->idle.push_back(std::move(first));
  p->open_count = 1;
  return std::unique_ptr<database>(new database(std::move(p)));
}

dialect database::kind() const noexcept {
  return pool_->kind;
}

core::result<database::lease> database::acquire() {
  std::unique_lock lock(pool_->mutex);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(pool_->settings.acquire_timeout_ms);
  while (true) {
    if (!pool_->idle.empty()) {
      auto conn = std::move(pool_->idle.back());
      pool_->idle.pop_back();
      return lease(this, std::move(conn));
    }
    if (pool_->open_count < pool_->settings.pool_size) {
      ++pool_->open_count;
      lock.unlock();
      auto conn = pool_->open_one();
      if (!conn) {
        std::lock_guard relock(pool_->mutex);
        --pool_->open_count;
        pool_->available.notify_one();
        return std::move(conn).err();
      }
      return lease(this, std::move(conn).value());
    }
    if (pool_->available.wait_until(lock, deadline) == std::cv_status::timeout && pool_->idle.empty() &&
        pool_->open_count >= pool_->settings.pool_size) {
      return core::error::unavailable("no free database connection within " +
                                      std::to_string(pool_->settings.acquire_timeout_ms) + " ms");
    }
  }
}

void database::release(std::unique_ptr<connection> conn) {
  std::lock_guard lock(pool_->mutex);
  if (conn && conn->healthy()) {
    pool_->idle.push_back(std::move(conn));
  } else {
    --pool_->open_count;  // dropped: the next acquire opens a fresh one
  }
  pool_->available.notify_one();
}

database::lease::~lease() {
  if (owner_ && conn_) owner_->release(std::move(conn_));
}

core::result<query_result> database::execute(std::string_view sql, const std::vector<value>& params) {
  WATTOS_ASSIGN_OR_RETURN(auto conn, acquire());
  return conn->execute(sql, params);
}

core::status database::transaction(const std::function<core::status(connection&)>& fn) {
  WATTOS_ASSIGN_OR_RETURN(auto conn, acquire());
  const char* begin = kind() == dialect::sqlite ? "BEGIN IMMEDIATE" : "BEGIN";
  WATTOS_RETURN_IF_ERROR(conn->execute(begin));
  core::status outcome;
  try {
    outcome = fn(*conn);
  } catch (...) {
    (void)conn->execute("ROLLBACK");
    throw;
  }
  if (!outcome.ok()) {
    (void)conn->execute("ROLLBACK");
    return outcome;
  }
  auto committed = conn->execute("COMMIT");
  if (!committed.ok()) {
    (void)conn->execute("ROLLBACK");
    return std::move(committed).err();
  }
  return {};
}

core::status database::ping() {
  WATTOS_ASSIGN_OR_RETURN(auto conn, acquire());
  WATTOS_RETURN_IF_ERROR(conn->execute("SELECT 1"));
  return {};
}

std::pair<std::string, int> to_postgres_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int count = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (c == '\'' || c == '"') {
      // Copy a quoted literal or identifier; doubled quotes stay inside it.
      std::size_t end = i + 1;
      while (end < sql.size()) {
        if (sql[end] == c) {
          if (end + 1 < sql.size() && sql[end + 1] == c) {
            end += 2;
            continue;
          }
          break;
        }
        ++end;
      }
      out.append(sql.substr(i, end - i + 1));
      i = end;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      std::size_t end = sql.find('\n', i);
      if (end == std::string_view::npos) end = sql.size() - 1;
      out.append(sql.substr(i, end - i + 1));
      i = end;
    } else if (c == '?') {
      out += '$' + std::to_string(++count);
    } else {
      out += c;
    }
  }
  return {out, count};
}

std::string join_lines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : "\n") + item;
  return out;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    if (nl > pos) out.emplace_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

}  // namespace wattos::infra::db
