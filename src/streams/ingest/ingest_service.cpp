#include "streams/ingest/ingest_service.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/clock.hpp"
#include "core/crypto.hpp"
#include "core/id.hpp"
#include "core/log.hpp"
#include "core/utf8.hpp"
#include "streams/ingest/chunker.hpp"
#include "streams/ingest/parsers.hpp"

namespace wattos::streams::ingest {
namespace {

namespace asio = boost::asio;
namespace db = infra::db;
namespace q = infra::queue;

constexpr std::string_view queue_name = "ingest";
constexpr std::size_t max_filename_bytes = 500;
constexpr int idle_poll_ms = 500;

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* const file_columns =
    "id, space_id, filename, source, source_path, owner_id, format, mime_type, sha256, size_bytes, status, progress, "
    "attempts, error, chunks, pages, ocr_pages, title, job_id, created_at, updated_at, version, updated_ms, "
    "stored_path, source_mtime_ms";

struct file_row {
  file_info info;
  std::string stored_path;
};

core::result<file_row> row_to_file(const db::row& r) {
  file_row out;
  file_info& f = out.info;
  WATTOS_ASSIGN_OR_RETURN(f.id, r.get_text(0));
  WATTOS_ASSIGN_OR_RETURN(f.space_id, r.get_text(1));
  WATTOS_ASSIGN_OR_RETURN(f.filename, r.get_text(2));
  WATTOS_ASSIGN_OR_RETURN(f.source, r.get_text(3));
  WATTOS_ASSIGN_OR_RETURN(f.source_path, r.get_text(4));
  WATTOS_ASSIGN_OR_RETURN(f.owner_id, r.get_text(5));
  WATTOS_ASSIGN_OR_RETURN(f.format, r.get_text(6));
  WATTOS_ASSIGN_OR_RETURN(f.mime_type, r.get_text(7));
  WATTOS_ASSIGN_OR_RETURN(f.sha256, r.get_text(8));
  WATTOS_ASSIGN_OR_RETURN(f.size_bytes, r.get_int(9));
  WATTOS_ASSIGN_OR_RETURN(f.status, r.get_text(10));
  WATTOS_ASSIGN_OR_RETURN(f.progress, r.get_double(11));
  WATTOS_ASSIGN_OR_RETURN(auto attempts, r.get_int(12));
  f.attempts = static_cast<int>(attempts);
  WATTOS_ASSIGN_OR_RETURN(f.error, r.get_text(13));
  WATTOS_ASSIGN_OR_RETURN(f.chunks, r.get_int(14));
  WATTOS_ASSIGN_OR_RETURN(auto pages, r.get_int(15));
  f.pages = static_cast<int>(pages);
  WATTOS_ASSIGN_OR_RETURN(auto ocr_pages, r.get_int(16));
  f.ocr_pages = static_cast<int>(ocr_pages);
  WATTOS_ASSIGN_OR_RETURN(f.title, r.get_text(17));
  WATTOS_ASSIGN_OR_RETURN(f.job_id, r.get_text(18));
  WATTOS_ASSIGN_OR_RETURN(f.created_at, r.get_text(19));
  WATTOS_ASSIGN_OR_RETURN(f.updated_at, r.get_text(20));
  WATTOS_ASSIGN_OR_RETURN(f.version, r.get_int(21));
  WATTOS_ASSIGN_OR_RETURN(f.updated_ms, r.get_int(22));
  WATTOS_ASSIGN_OR_RETURN(out.stored_path, r.get_text(23));
  WATTOS_ASSIGN_OR_RETURN(f.source_mtime_ms, r.get_int(24));
  return out;
}

core::result<std::vector<file_row>> rows_to_files(const db::query_result& rows) {
  std::vector<file_row> out;
  out.reserve(rows.rows.size());
  for (const auto& r : rows.rows) {
    WATTOS_ASSIGN_OR_RETURN(auto f, row_to_file(r));
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<file_info> infos_of(std::vector<file_row>&& files) {
  std::vector<file_info> out;
  out.reserve(files.size());
  for (auto& f : files) out.push_back(std::move(f.info));
  return out;
}

// A parse or chunk failure that no retry can mend: the file itself is the problem.
bool permanent_failure(core::errc code) {
  switch (code) {
    case core::errc::invalid_argument:
    case core::errc::unsupported_media:
    case core::errc::failed_precondition:
    case core::errc::payload_too_large:
      return true;
    default:
      return false;
  }
}

std::string job_payload(const std::string& file_id, const std::string& sha256) {
  return file_id + "\n" + sha256;
}

std::pair<std::string, std::string> parse_payload(std::string_view payload) {
  const auto nl = payload.find('\n');
  if (nl == std::string_view::npos) return {std::string(payload), ""};
  return {std::string(payload.substr(0, nl)), std::string(payload.substr(nl + 1))};
}

core::status check_filename(std::string_view name) {
  if (name.empty() || name.size() > max_filename_bytes) {
    return core::error::invalid_argument("a file name needs 1 to 500 bytes");
  }
  for (const char c : name) {
    if (static_cast<unsigned char>(c) < 0x20)
      return core::error::invalid_argument("a file name may not hold control characters");
  }
  return {};
}

// Keeps a job's lease alive while its worker is busy (parsing and OCR can outlast a
// lease); notes when the lease was lost to another worker.
class lease_keeper {
 public:
  lease_keeper(q::job_queue& queue, std::string job_id, std::string token, std::int64_t lease_ms)
      : queue_(queue), job_id_(std::move(job_id)), token_(std::move(token)), lease_ms_(lease_ms), thread_([this] {
          run();
        }) {}
  ~lease_keeper() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  bool lost() const noexcept { return lost_.load(); }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    const auto every = std::chrono::milliseconds(std::max<std::int64_t>(100, lease_ms_ / 3));
    while (!done_) {
      if (cv_.wait_for(lock, every, [this] { return done_; })) break;
      lock.unlock();
      auto st = queue_.extend(job_id_, token_, lease_ms_);
      if (!st.ok() && st.err().code() == core::errc::failed_precondition) lost_ = true;
      lock.lock();
      if (lost_) break;
    }
  }

  q::job_queue& queue_;
  std::string job_id_;
  std::string token_;
  std::int64_t lease_ms_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;  // guarded by mutex_
  std::atomic<bool> lost_{false};
  std::thread thread_;
};

// The caller's access to a space (write: owner, write member or admin).
struct space_info_access {
  std::string id;
};

}  // namespace

parse_limits limits_from(const core::ingest_settings& s) {
  parse_limits l;
  l.max_file_bytes = s.max_file_bytes;
  l.max_unpacked_bytes = s.max_unpacked_bytes;
  l.max_text_bytes = s.max_text_bytes;
  l.max_pages = s.max_pages;
  l.ocr = s.ocr;
  l.ocr_languages = s.ocr_languages;
  l.ocr_dpi = s.ocr_dpi;
  l.max_ocr_pages = s.max_ocr_pages;
  return l;
}

const std::vector<db::migration>& ingest_service::migrations() {
  static const std::vector<db::migration> list = {
      {1, "files",
       "CREATE TABLE ingest_files ("
       " id TEXT PRIMARY KEY, space_id TEXT NOT NULL, filename TEXT NOT NULL, source TEXT NOT NULL,"
       " source_path TEXT NOT NULL DEFAULT '', owner_id TEXT NOT NULL, format TEXT NOT NULL DEFAULT '',"
       " mime_type TEXT NOT NULL DEFAULT '', sha256 TEXT NOT NULL, size_bytes BIGINT NOT NULL,"
       " stored_path TEXT NOT NULL, status TEXT NOT NULL, progress DOUBLE PRECISION NOT NULL DEFAULT 0,"
       " attempts INTEGER NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '', chunks BIGINT NOT NULL DEFAULT 0,"
       " pages INTEGER NOT NULL DEFAULT 0, ocr_pages INTEGER NOT NULL DEFAULT 0, title TEXT NOT NULL DEFAULT '',"
       " job_id TEXT NOT NULL DEFAULT '', version BIGINT NOT NULL DEFAULT 1, created_at TEXT NOT NULL,"
       " updated_at TEXT NOT NULL, updated_ms BIGINT NOT NULL, source_mtime_ms BIGINT NOT NULL DEFAULT 0);"
       "CREATE UNIQUE INDEX ingest_files_content ON ingest_files (space_id, sha256);"
       "CREATE INDEX ingest_files_name ON ingest_files (space_id, filename);"
       "CREATE INDEX ingest_files_changes ON ingest_files (space_id, updated_ms);"
       "CREATE INDEX ingest_files_status ON ingest_files (status);",
       ""},
      {2, "watches",
       "CREATE TABLE ingest_watches (space_id TEXT PRIMARY KEY, path TEXT NOT NULL, created_by TEXT NOT NULL,"
       " created_at TEXT NOT NULL)",
       ""},
  };
  return list;
}

struct ingest_service::impl {
  impl(db::database& database, q::job_queue& jobs, rag::rag_service& retrieval, core::ingest_settings ingest,
       core::queue_settings queue_settings, std::filesystem::path files)
      : db(database),
        queue(jobs),
        rag(retrieval),
        settings(std::move(ingest)),
        queue_cfg(std::move(queue_settings)),
        files_dir(std::move(files)),
        limits(limits_from(settings)) {}

  db::database& db;
  q::job_queue& queue;
  rag::rag_service& rag;
  core::ingest_settings settings;
  core::queue_settings queue_cfg;
  std::filesystem::path files_dir;
  parse_limits limits;
  isolation_settings isolation;  // set before workers start

  std::atomic<std::uint64_t> generation{0};
  std::mutex waiters_mutex;
  std::vector<std::weak_ptr<asio::steady_timer>> waiters;  // guarded by waiters_mutex

  std::mutex workers_mutex;
  std::condition_variable work_cv;
  bool stopping = false;        // guarded by workers_mutex
  std::uint64_t submitted = 0;  // guarded by workers_mutex: wakes idle workers
  std::vector<std::thread> workers;

  void changed() {
    generation.fetch_add(1);
    std::vector<std::shared_ptr<asio::steady_timer>> wake;
    {
      std::lock_guard lock(waiters_mutex);
      for (auto& w : waiters) {
        if (auto t = w.lock()) wake.push_back(std::move(t));
      }
      waiters.clear();
    }
    for (auto& t : wake) t->cancel();
  }

  void wake_workers() {
    {
      std::lock_guard lock(workers_mutex);
      ++submitted;
    }
    work_cv.notify_all();
  }

  core::result<space_info_access> space_for(const rag::requester& who, std::string_view space_id, bool write);

  core::result<std::optional<file_row>> find(std::string_view where, const std::vector<db::value>& params) {
    WATTOS_ASSIGN_OR_RETURN(
        auto rows,
        db.execute(std::string("SELECT ") + file_columns + " FROM ingest_files WHERE " + std::string(where), params));
    if (rows.rows.empty()) return std::optional<file_row>{};
    WATTOS_ASSIGN_OR_RETURN(auto f, row_to_file(rows.rows.front()));
    return std::optional<file_row>(std::move(f));
  }

  core::result<file_row> load(std::string_view space_id, std::string_view file_id) {
    WATTOS_ASSIGN_OR_RETURN(auto f, find("id = ? AND space_id = ?", {std::string(file_id), std::string(space_id)}));
    if (!f) return core::error::not_found("no such file in this space");
    return std::move(*f);
  }

  // Sets the processing state of one version (sha256) of a file; a worker still busy
  // with an older version changes nothing. Every change bumps the row's version.
  core::status set_state(const std::string& file_id, const std::string& sha256, std::string_view status,
                         double progress, std::optional<int> attempts = std::nullopt,
                         std::optional<std::string> error = std::nullopt) {
    std::string sql =
        "UPDATE ingest_files SET status = ?, progress = ?, updated_at = ?, updated_ms = ?, version = version + 1";
    std::vector<db::value> params{std::string(status), progress, core::utc_now_iso(), unix_ms()};
    if (attempts) {
      sql += ", attempts = ?";
      params.emplace_back(static_cast<std::int64_t>(*attempts));
    }
    if (error) {
      sql += ", error = ?";
      params.emplace_back(*error);
    }
    sql += " WHERE id = ? AND sha256 = ?";
    params.emplace_back(file_id);
    params.emplace_back(sha256);
    WATTOS_RETURN_IF_ERROR(db.execute(sql, params));
    changed();
    return {};
  }

  core::result<std::string> enqueue(const std::string& file_id, const std::string& sha256) {
    q::enqueue_options opts;
    opts.max_attempts = queue_cfg.max_attempts;
    opts.dedupe_key = file_id + ":" + sha256;
    WATTOS_ASSIGN_OR_RETURN(auto job_id, queue.enqueue(queue_name, job_payload(file_id, sha256), opts));
    WATTOS_RETURN_IF_ERROR(db.execute("UPDATE ingest_files SET job_id = ? WHERE id = ?", {job_id, file_id}));
    wake_workers();
    return job_id;
  }

  std::filesystem::path stored_path_for(const std::string& space_id, const std::string& sha256) const {
    return files_dir / space_id / sha256;
  }

  core::result<bool> run_one(std::string_view worker_id);
  void process(const q::job& job);
  core::status finish_failure(const q::job& job, const std::string& file_id, const std::string& sha256,
                              const core::error& err);
  // The row still holds this version of the file (not deleted, not replaced).
  bool current(const std::string& file_id, const std::string& sha256) {
    auto row = find("id = ? AND sha256 = ?", {file_id, sha256});
    return !row || row->has_value();  // a store error is no reason to give up the work
  }
};

core::result<space_info_access> ingest_service::impl::space_for(const rag::requester& who, std::string_view space_id,
                                                                bool write) {
  WATTOS_ASSIGN_OR_RETURN(auto s, rag.get_space(who, space_id));
  if (write && s.access == "read") return core::error::permission_denied("read access only");
  return space_info_access{s.id};
}

ingest_service::ingest_service(db::database& db, q::job_queue& queue, rag::rag_service& rag,
                               core::ingest_settings ingest, core::queue_settings queue_settings,
                               std::filesystem::path files_dir)
    : impl_(
          std::make_unique<impl>(db, queue, rag, std::move(ingest), std::move(queue_settings), std::move(files_dir))) {}

ingest_service::~ingest_service() {
  stop();
}

rag::requester ingest_service::system_requester() {
  return rag::requester{"system", true, "ingest"};
}

core::result<file_info> ingest_service::submit(const rag::requester& who, const submit_request& request) {
  WATTOS_RETURN_IF_ERROR(check_filename(request.filename));
  WATTOS_ASSIGN_OR_RETURN(auto space, impl_->space_for(who, request.space_id, true));
  std::error_code ec;
  const auto size = std::filesystem::file_size(request.path, ec);
  if (ec) return core::error::invalid_argument("cannot read the file: " + ec.message());
  if (size > impl_->settings.max_file_bytes) {
    return core::error::payload_too_large("the file is larger than " + std::to_string(impl_->settings.max_file_bytes) +
                                          " bytes");
  }
  WATTOS_ASSIGN_OR_RETURN(auto sha, core::sha256_file_hex(request.path.string()));

  // The same content in this space: answer what is there.
  WATTOS_ASSIGN_OR_RETURN(auto same, impl_->find("space_id = ? AND sha256 = ?", {space.id, sha}));
  if (same) {
    if (request.move) std::filesystem::remove(request.path, ec);
    file_info out = std::move(same->info);
    out.duplicate = true;
    return out;
  }

  // Store the bytes first: a row never points at a file that is not there.
  const auto stored = impl_->stored_path_for(space.id, sha);
  std::filesystem::create_directories(stored.parent_path(), ec);
  if (ec) return core::error::unavailable("cannot create the file store: " + ec.message());
  const auto partial = stored.string() + ".part-" + core::random_hex(4);
  if (request.move) {
    std::filesystem::rename(request.path, partial, ec);
    if (ec) {  // another file system: copy
      ec.clear();
      std::filesystem::copy_file(request.path, partial, ec);
      if (!ec) std::filesystem::remove(request.path, ec);
      ec.clear();
    }
  } else {
    std::filesystem::copy_file(request.path, partial, ec);
  }
  if (ec) return core::error::unavailable("cannot store the file: " + ec.message());
  std::filesystem::rename(partial, stored, ec);
  if (ec) {
    std::filesystem::remove(partial, ec);
    return core::error::unavailable("cannot store the file");
  }

  // A new version of a known file (same name for uploads, same path when watched)
  // replaces it; anything else is a new file.
  std::optional<file_row> previous;
  if (!request.source_path.empty()) {
    WATTOS_ASSIGN_OR_RETURN(previous, impl_->find("space_id = ? AND source_path = ?", {space.id, request.source_path}));
  } else {
    WATTOS_ASSIGN_OR_RETURN(previous, impl_->find("space_id = ? AND filename = ? AND source_path = '' "
                                                  "ORDER BY created_at DESC LIMIT 1",
                                                  {space.id, request.filename}));
  }
  const std::string now = core::utc_now_iso();
  std::string file_id;
  if (previous) {
    file_id = previous->info.id;
    auto st = impl_->db.execute(
        "UPDATE ingest_files SET sha256 = ?, size_bytes = ?, stored_path = ?, status = 'queued', progress = 0,"
        " attempts = 0, error = '', job_id = '', owner_id = ?, updated_at = ?, updated_ms = ?, version = version + 1,"
        " source_mtime_ms = ? WHERE id = ?",
        {sha, static_cast<std::int64_t>(size), stored.string(), who.user_id, now, unix_ms(), request.source_mtime_ms,
         file_id});
    if (!st) {
      std::filesystem::remove(stored, ec);
      return st.err();
    }
    if (previous->stored_path != stored.string()) std::filesystem::remove(previous->stored_path, ec);
    if (!previous->info.job_id.empty())
      (void)impl_->queue.remove(previous->info.job_id);  // an active one finds it stale
  } else {
    file_id = core::new_uuid_v7();
    auto st = impl_->db.execute(
        "INSERT INTO ingest_files (id, space_id, filename, source, source_path, owner_id, sha256, size_bytes,"
        " stored_path, status, created_at, updated_at, updated_ms, source_mtime_ms)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
        {file_id, space.id, request.filename, request.source, request.source_path, who.user_id, sha,
         static_cast<std::int64_t>(size), stored.string(), now, now, unix_ms(), request.source_mtime_ms});
    if (!st) {
      std::filesystem::remove(stored, ec);
      if (st.err().code() == core::errc::already_exists) {  // the same content, submitted at the same moment
        WATTOS_ASSIGN_OR_RETURN(auto raced, impl_->find("space_id = ? AND sha256 = ?", {space.id, sha}));
        if (raced) {
          file_info out = std::move(raced->info);
          out.duplicate = true;
          return out;
        }
      }
      return st.err();
    }
  }
  impl_->changed();
  // A failed enqueue leaves the row queued without a job; requeue_orphans() mends it.
  auto job = impl_->enqueue(file_id, sha);
  if (!job) core::log_warn("ingest: enqueue failed", {{"file", file_id}, {"error", job.err().message()}});
  WATTOS_ASSIGN_OR_RETURN(auto row, impl_->load(space.id, file_id));
  return std::move(row.info);
}

core::status ingest_service::purge_space(const std::string& space_id) {
  WATTOS_ASSIGN_OR_RETURN(auto rows,
                          impl_->db.execute("SELECT job_id FROM ingest_files WHERE space_id = ?", {space_id}));
  WATTOS_RETURN_IF_ERROR(impl_->db.transaction([&](db::connection& c) -> core::status {
    WATTOS_RETURN_IF_ERROR(c.execute("DELETE FROM ingest_files WHERE space_id = ?", {space_id}));
    WATTOS_RETURN_IF_ERROR(c.execute("DELETE FROM ingest_watches WHERE space_id = ?", {space_id}));
    return {};
  }));
  // A job still active finds its row gone and leaves nothing behind.
  for (const auto& r : rows.rows) {
    auto job_id = r.get_text(0);
    if (job_id && !job_id->empty()) (void)impl_->queue.remove(*job_id);
  }
  std::error_code ec;
  std::filesystem::remove_all(impl_->files_dir / space_id, ec);
  impl_->changed();
  return {};
}

core::result<std::vector<file_info>> ingest_service::files_from_source(std::string_view space_id,
                                                                       std::string_view source) {
  WATTOS_ASSIGN_OR_RETURN(auto rows, impl_->db.execute(std::string("SELECT ") + file_columns +
                                                           " FROM ingest_files WHERE space_id = ? AND source = ?",
                                                       {std::string(space_id), std::string(source)}));
  WATTOS_ASSIGN_OR_RETURN(auto files, rows_to_files(rows));
  return infos_of(std::move(files));
}

core::status ingest_service::move_source(std::string_view file_id, std::string_view source_path,
                                         std::string_view filename, std::int64_t source_mtime_ms) {
  WATTOS_RETURN_IF_ERROR(check_filename(filename));
  WATTOS_RETURN_IF_ERROR(impl_->db.execute(
      "UPDATE ingest_files SET source_path = ?, filename = ?, source_mtime_ms = ?, updated_at = ?, updated_ms = ?,"
      " version = version + 1 WHERE id = ?",
      {std::string(source_path), std::string(filename), source_mtime_ms, core::utc_now_iso(), unix_ms(),
       std::string(file_id)}));
  impl_->changed();
  return {};
}

core::result<std::vector<file_info>> ingest_service::list_files(const rag::requester& who, std::string_view space_id,
                                                                std::string_view status) {
  WATTOS_ASSIGN_OR_RETURN(auto space, impl_->space_for(who, space_id, false));
  std::string sql = std::string("SELECT ") + file_columns + " FROM ingest_files WHERE space_id = ?";
  std::vector<db::value> params{space.id};
  if (!status.empty()) {
    sql += " AND status = ?";
    params.emplace_back(std::string(status));
  }
  sql += " ORDER BY created_at DESC, id DESC LIMIT 1000";
  WATTOS_ASSIGN_OR_RETURN(auto rows, impl_->db.execute(sql, params));
  WATTOS_ASSIGN_OR_RETURN(auto files, rows_to_files(rows));
  return infos_of(std::move(files));
}

core::result<file_info> ingest_service::get_file(const rag::requester& who, std::string_view space_id,
                                                 std::string_view file_id) {
  WATTOS_ASSIGN_OR_RETURN(auto space, impl_->space_for(who, space_id, false));
  WATTOS_ASSIGN_OR_RETURN(auto row, impl_->load(space.id, file_id));
  return std::move(row.info);
}

core::result<std::vector<file_info>> ingest_service::changes(const rag::requester& who, std::string_view space_id,
                                                             std::int64_t since_ms, std::size_t limit) {
  WATTOS_ASSIGN_OR_RETURN(auto space, impl_->space_for(who, space_id, false));
  WATTOS_ASSIGN_OR_RETURN(auto rows, impl_->db.execute(std::string("SELECT ") + file_columns +
                                                           " FROM ingest_files WHERE space_id = ? AND updated_ms >= ?"
                                                           " ORDER BY updated_ms, id LIMIT ?",
                                                       {space.id, since_ms, static_cast<std::int64_t>(limit)}));
  WATTOS_ASSIGN_OR_RETURN(auto files, rows_to_files(rows));
  return infos_of(std::move(files));
}

core::status ingest_service::delete_file(const rag::requester& who, std::string_view space_id,
                                         std::string_view file_id) {
  WATTOS_ASSIGN_OR_RETURN(auto space, impl_->space_for(who, space_id, true));
  WATTOS_ASSIGN_OR_RETURN(auto row, impl_->load(space.id, file_id));
  // The row goes first: a worker still busy with the file finds it gone before it
  // commits, and removes what it indexed.
  WATTOS_RETURN_IF_ERROR(impl_->db.execute("DELETE FROM ingest_files WHERE id = ?", {row.info.id}));
  if (!row.info.job_id.empty()) (void)impl_->queue.remove(row.info.job_id);
  // A file that was never indexed has no chunks: nothing to remove is fine.
  if (auto removed = impl_->rag.delete_document(system_requester(), space.id, row.info.id);
      !removed && removed.err().code() != core::errc::not_found) {
    return std::move(removed).err();
  }
  std::error_code ec;
  std::filesystem::remove(row.stored_path, ec);
  impl_->changed();
  return {};
}

core::result<file_info> ingest_service::retry_file(const rag::requester& who, std::string_view space_id,
                                                   std::string_view file_id) {
  WATTOS_ASSIGN_OR_RETURN(auto space, impl_->space_for(who, space_id, true));
  WATTOS_ASSIGN_OR_RETURN(auto row, impl_->load(space.id, file_id));
  if (row.info.status != "failed") return core::error::failed_precondition("only a failed file can be retried");
  bool retried = false;
  if (!row.info.job_id.empty()) {
    auto st = impl_->queue.retry(row.info.job_id);
    retried = st.ok();
    if (!st.ok() && st.err().code() != core::errc::not_found && st.err().code() != core::errc::failed_precondition) {
      return st.err();
    }
  }
  WATTOS_RETURN_IF_ERROR(impl_->set_state(row.info.id, row.info.sha256, "queued", 0, 0, std::string()));
  if (retried) {
    impl_->wake_workers();
  } else {
    // The dead job was removed (or never made): a fresh one, under a fresh dedupe key.
    q::enqueue_options opts;
    opts.max_attempts = impl_->queue_cfg.max_attempts;
    opts.dedupe_key = row.info.id + ":" + row.info.sha256 + ":" + core::random_hex(4);
    WATTOS_ASSIGN_OR_RETURN(auto job_id,
                            impl_->queue.enqueue(queue_name, job_payload(row.info.id, row.info.sha256), opts));
    WATTOS_RETURN_IF_ERROR(impl_->db.execute("UPDATE ingest_files SET job_id = ? WHERE id = ?", {job_id, row.info.id}));
    impl_->wake_workers();
  }
  WATTOS_ASSIGN_OR_RETURN(auto updated, impl_->load(space.id, file_id));
  return std::move(updated.info);
}

std::uint64_t ingest_service::change_generation() const noexcept {
  return impl_->generation.load();
}

asio::awaitable<void> ingest_service::wait_for_change(std::uint64_t seen, std::chrono::milliseconds timeout) {
  const auto executor = co_await asio::this_coro::executor;  // before any lock (docs/coroutines.md)
  auto timer = std::make_shared<asio::steady_timer>(executor);
  timer->expires_after(timeout);
  {
    std::lock_guard lock(impl_->waiters_mutex);
    if (impl_->generation.load() != seen) co_return;
    impl_->waiters.push_back(timer);
  }
  boost::system::error_code ec;
  co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

core::result<int> ingest_service::requeue_orphans() {
  WATTOS_ASSIGN_OR_RETURN(
      auto rows,
      impl_->db.execute("SELECT id, sha256, job_id FROM ingest_files WHERE status NOT IN ('done', 'failed')", {}));
  int requeued = 0;
  for (const auto& r : rows.rows) {
    WATTOS_ASSIGN_OR_RETURN(auto id, r.get_text(0));
    WATTOS_ASSIGN_OR_RETURN(auto sha, r.get_text(1));
    WATTOS_ASSIGN_OR_RETURN(auto job_id, r.get_text(2));
    if (!job_id.empty()) {
      auto job = impl_->queue.get(job_id);
      if (job && job->state != q::job_state::completed && job->state != q::job_state::dead) continue;
    }
    WATTOS_RETURN_IF_ERROR(impl_->enqueue(id, sha));
    ++requeued;
  }
  return requeued;
}

core::result<bool> ingest_service::run_one(std::string_view worker_id) {
  return impl_->run_one(worker_id);
}

void ingest_service::isolate_parsers(isolation_settings isolation) {
  impl_->isolation = std::move(isolation);
}

core::result<bool> ingest_service::impl::run_one(std::string_view worker_id) {
  WATTOS_ASSIGN_OR_RETURN(auto claimed, queue.claim(queue_name, worker_id, queue_cfg.lease_ms));
  if (!claimed) return false;
  process(*claimed);
  return true;
}

core::status ingest_service::impl::finish_failure(const q::job& job, const std::string& file_id,
                                                  const std::string& sha256, const core::error& err) {
  const bool permanent = permanent_failure(err.code());
  const auto delay = q::retry_delay_ms(job.attempts, queue_cfg.retry_base_ms, queue_cfg.retry_max_ms);
  auto state = queue.fail(job.id, job.lease_token, err.message(), delay, permanent);
  if (!state) return state.err();  // lease lost: the job's new holder owns the row now
  core::log_info(
      "ingest: attempt failed",
      {{"file", file_id}, {"attempt", job.attempts}, {"error", err.message()}, {"dead", *state == q::job_state::dead}});
  return set_state(file_id, sha256, *state == q::job_state::dead ? "failed" : "queued", 0, job.attempts, err.message());
}

void ingest_service::impl::process(const q::job& job) {
  const auto payload = parse_payload(job.payload);
  const std::string& file_id = payload.first;
  const std::string& sha = payload.second;
  auto row = find("id = ?", {file_id});
  if (!row) {  // the store is away: try again later
    (void)queue.fail(job.id, job.lease_token, row.err().message(),
                     q::retry_delay_ms(job.attempts, queue_cfg.retry_base_ms, queue_cfg.retry_max_ms), false);
    return;
  }
  if (!*row || (*row)->info.sha256 != sha) {  // deleted or replaced since: nothing to do
    (void)queue.complete(job.id, job.lease_token);
    return;
  }
  const file_row file = std::move(**row);
  lease_keeper keeper(queue, job.id, job.lease_token, queue_cfg.lease_ms);
  auto fail = [&](const core::error& err) {
    auto st = finish_failure(job, file.info.id, sha, err);
    if (!st.ok())
      core::log_warn("ingest: cannot record a failure", {{"file", file.info.id}, {"error", st.err().message()}});
  };
  if (auto st = set_state(file.info.id, sha, "parsing", 0.1, job.attempts); !st.ok()) return fail(st.err());

  auto parsed = parse_file_isolated(file.stored_path, limits, isolation);
  if (!parsed) return fail(parsed.err());
  if (keeper.lost()) return;
  if (auto st = set_state(file.info.id, sha, "chunking", 0.4); !st.ok()) return fail(st.err());
  chunk_settings cs{settings.chunk_tokens, settings.chunk_overlap_tokens};
  auto chunks = chunk_document(*parsed, cs);
  if (chunks.empty()) {
    return fail(core::error::invalid_argument(parsed->ocr_pages == 0 && !limits.ocr
                                                  ? "no text found in the document (OCR is off)"
                                                  : "no text found in the document"));
  }
  if (auto st = set_state(file.info.id, sha, "embedding", 0.5); !st.ok()) return fail(st.err());

  rag::document_input doc;
  doc.document_id = file.info.id;
  const std::string title(
      core::utf8_prefix(parsed->title.empty() ? file.info.filename : parsed->title, 500));  // RAG's limit
  doc.title = title;
  doc.doc_type = parsed->format;
  doc.date = parsed->date;
  const std::size_t chunk_count = chunks.size();
  doc.chunks = std::move(chunks);

  // Replaced or deleted while we parsed: the new version's job does the work.
  if (keeper.lost()) return;
  if (!current(file.info.id, sha)) {
    (void)queue.complete(job.id, job.lease_token);
    return;
  }

  // The RAG call is a coroutine (the embedding model may be remote): run it on a
  // private io_context of this worker thread.
  asio::io_context ctx;
  std::optional<core::result<std::size_t>> indexed;
  asio::co_spawn(
      ctx,
      [](rag::rag_service& r, std::string space_id, rag::document_input d,
         std::optional<core::result<std::size_t>>& out) -> asio::awaitable<void> {
        auto done = co_await r.index_document(system_requester(), std::move(space_id), std::move(d));
        out.emplace(std::move(done));
      }(rag, file.info.space_id, std::move(doc), indexed),
      asio::detached);
  ctx.run();
  if (!indexed) return fail(core::error::internal("indexing did not run"));
  if (!*indexed) {
    // A chunk or document the RAG service refuses is the document's fault; a missing
    // space means the file's space was deleted.
    return fail(indexed->err());
  }
  if (auto st = set_state(file.info.id, sha, "indexing", 0.9); !st.ok()) return fail(st.err());

  // Still ours? A lost lease means another worker redoes the same (idempotent) work;
  // a deleted or replaced file means what we indexed must go.
  if (keeper.lost()) return;
  auto now = find("id = ?", {file.info.id});
  if (now && (!*now || (*now)->info.sha256 != sha)) {
    if (!*now) {
      (void)rag.delete_document(system_requester(), file.info.space_id, file.info.id);
    } else {
      // A newer version arrived while we indexed this one and may have been indexed
      // first: index the newer one once more, so the older chunks cannot stay.
      q::enqueue_options opts;
      opts.max_attempts = queue_cfg.max_attempts;
      opts.dedupe_key = file.info.id + ":" + (*now)->info.sha256 + ":again-" + core::random_hex(4);
      auto again = queue.enqueue(queue_name, job_payload(file.info.id, (*now)->info.sha256), opts);
      if (again) {
        (void)db.execute("UPDATE ingest_files SET job_id = ? WHERE id = ? AND sha256 = ?",
                         {*again, file.info.id, (*now)->info.sha256});
        wake_workers();
      }
    }
    (void)queue.complete(job.id, job.lease_token);
    return;
  }
  auto st = db.execute(
      "UPDATE ingest_files SET status = 'done', progress = 1, error = '', chunks = ?, pages = ?, ocr_pages = ?,"
      " format = ?, mime_type = ?, title = ?, attempts = ?, updated_at = ?, updated_ms = ?, version = version + 1"
      " WHERE id = ? AND sha256 = ?",
      {static_cast<std::int64_t>(chunk_count), static_cast<std::int64_t>(parsed->pages),
       static_cast<std::int64_t>(parsed->ocr_pages), parsed->format, parsed->mime_type, title,
       static_cast<std::int64_t>(job.attempts), core::utc_now_iso(), unix_ms(), file.info.id, sha});
  if (!st) return fail(st.err());
  changed();
  auto completed = queue.complete(job.id, job.lease_token);
  if (!completed.ok()) {
    core::log_warn("ingest: job done but not completed",
                   {{"file", file.info.id}, {"error", completed.err().message()}});
  }
}

void ingest_service::start_workers(int workers) {
  if (workers <= 0) return;
  if (auto n = requeue_orphans(); !n) {
    core::log_warn("ingest: cannot requeue orphaned files", {{"error", n.err().message()}});
  } else if (*n > 0) {
    core::log_info("ingest: requeued orphaned files", {{"files", *n}});
  }
  std::lock_guard lock(impl_->workers_mutex);
  impl_->stopping = false;
  for (int i = 0; i < workers; ++i) {
    const std::string worker_id = core::random_hex(4) + "-" + std::to_string(i);
    impl_->workers.emplace_back([this, worker_id] {
      while (true) {
        std::uint64_t seen = 0;
        {
          std::lock_guard l(impl_->workers_mutex);
          if (impl_->stopping) return;
          seen = impl_->submitted;
        }
        auto ran = impl_->run_one(worker_id);
        if (ran && *ran) continue;
        if (!ran) core::log_warn("ingest: claim failed", {{"error", ran.err().message()}});
        // Idle: poll the queue (other processes enqueue too), or wake on a local submit.
        std::unique_lock l(impl_->workers_mutex);
        impl_->work_cv.wait_for(l, std::chrono::milliseconds(idle_poll_ms),
                                [&] { return impl_->stopping || impl_->submitted != seen; });
      }
    });
  }
}

void ingest_service::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(impl_->workers_mutex);
    impl_->stopping = true;
    threads.swap(impl_->workers);
  }
  impl_->work_cv.notify_all();
  for (auto& t : threads) t.join();
}

}  // namespace wattos::streams::ingest
