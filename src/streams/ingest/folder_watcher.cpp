#include "streams/ingest/folder_watcher.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "core/clock.hpp"
#include "core/crypto.hpp"
#include "core/log.hpp"

namespace wattos::streams::ingest {
namespace {

namespace db = infra::db;
namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

constexpr std::size_t max_files_per_folder = 100'000;
constexpr std::uint32_t watch_mask =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB;

std::int64_t mtime_ms(const fs::path& p) {
  std::error_code ec;
  const auto t = fs::last_write_time(p, ec);
  if (ec) return 0;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

bool hidden(const fs::path& p) {
  const auto name = p.filename().string();
  return !name.empty() && name.front() == '.';
}

struct found_file {
  fs::path path;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
};

// Regular files of a tree, hidden ones and symbolic links left out.
core::result<std::vector<found_file>> scan(const fs::path& root, std::vector<fs::path>* dirs) {
  std::vector<found_file> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  if (ec) return core::error::unavailable("cannot read the folder " + root.string() + ": " + ec.message());
  if (dirs) dirs->push_back(root);
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return core::error::unavailable("cannot read the folder " + root.string() + ": " + ec.message());
    const auto& entry = *it;
    if (hidden(entry.path())) {
      if (entry.is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (entry.is_symlink(ec)) continue;
    if (entry.is_directory(ec)) {
      if (dirs) dirs->push_back(entry.path());
      continue;
    }
    if (!entry.is_regular_file(ec)) continue;
    if (out.size() >= max_files_per_folder) {
      return core::error::payload_too_large("the folder holds more than 100000 files");
    }
    out.push_back({entry.path(), entry.file_size(ec), mtime_ms(entry.path())});
  }
  return out;
}

}  // namespace

struct folder_watcher::impl {
  impl(db::database& database, ingest_service& ingest_svc, rag::rag_service& retrieval, int debounce)
      : db(database), ingest(ingest_svc), rag(retrieval), debounce_ms(debounce) {}

  db::database& db;
  ingest_service& ingest;
  rag::rag_service& rag;
  int debounce_ms;

  std::mutex mutex;                                 // guards the maps below and reconciling
  std::map<std::string, fs::path> watches;          // space id -> folder
  std::map<int, std::string> space_of_wd;           // inotify watch -> space id
  std::map<std::string, steady::time_point> dirty;  // space id -> last event
  int inotify_fd = -1;
  int wake_pipe[2] = {-1, -1};
  std::thread thread;

  core::result<std::optional<watch_info>> load(std::string_view space_id) {
    WATTOS_ASSIGN_OR_RETURN(
        auto rows, db.execute("SELECT space_id, path, created_by, created_at FROM ingest_watches WHERE space_id = ?",
                              {std::string(space_id)}));
    if (rows.rows.empty()) return std::optional<watch_info>{};
    watch_info w;
    WATTOS_ASSIGN_OR_RETURN(w.space_id, rows.rows[0].get_text(0));
    WATTOS_ASSIGN_OR_RETURN(w.path, rows.rows[0].get_text(1));
    WATTOS_ASSIGN_OR_RETURN(w.created_by, rows.rows[0].get_text(2));
    WATTOS_ASSIGN_OR_RETURN(w.created_at, rows.rows[0].get_text(3));
    return std::optional<watch_info>(std::move(w));
  }

  // Adds inotify watches for the directories of a space's tree (caller holds mutex).
  void watch_dirs(const std::string& space_id, const std::vector<fs::path>& dirs) {
    if (inotify_fd < 0) return;
    for (const auto& d : dirs) {
      const int wd = inotify_add_watch(inotify_fd, d.c_str(), watch_mask);
      if (wd >= 0) space_of_wd[wd] = space_id;
    }
  }

  void unwatch(const std::string& space_id) {  // caller holds mutex
    for (auto it = space_of_wd.begin(); it != space_of_wd.end();) {
      if (it->second == space_id) {
        if (inotify_fd >= 0) inotify_rm_watch(inotify_fd, it->first);
        it = space_of_wd.erase(it);
      } else {
        ++it;
      }
    }
    watches.erase(space_id);
    dirty.erase(space_id);
  }

  core::result<reconcile_report> reconcile(const std::string& space_id);
  void run();
};

core::result<reconcile_report> folder_watcher::impl::reconcile(const std::string& space_id) {
  std::lock_guard lock(mutex);
  auto it = watches.find(space_id);
  if (it == watches.end()) return core::error::not_found("this space has no watched folder");
  if (auto space = rag.get_space(ingest_service::system_requester(), space_id);
      !space && space.err().code() == core::errc::not_found) {
    unwatch(space_id);  // the space was deleted (with its stored watch)
    return core::error::not_found("the watched folder's space was deleted");
  }
  const fs::path root = it->second;
  std::vector<fs::path> dirs;
  WATTOS_ASSIGN_OR_RETURN(auto files, scan(root, &dirs));
  watch_dirs(space_id, dirs);
  WATTOS_ASSIGN_OR_RETURN(auto known, ingest.files_from_source(space_id, "watch"));

  std::map<std::string, file_info> by_path;
  for (auto& f : known) by_path.emplace(f.source_path, std::move(f));
  std::map<std::string, std::string> present;  // path -> "" (for the missing set)
  for (const auto& f : files) present.emplace(f.path.string(), "");
  // Files the store knows whose path is gone, by content: a new path with the same
  // content is a move, not a new document.
  std::multimap<std::string, file_info> missing;
  for (const auto& [path, f] : by_path) {
    if (!present.count(path)) missing.emplace(f.sha256, f);
  }

  reconcile_report report;
  const auto system = ingest_service::system_requester();
  for (const auto& f : files) {
    const std::string path = f.path.string();
    const std::string relative = fs::relative(f.path, root).string();
    auto known_it = by_path.find(path);
    if (known_it != by_path.end() && static_cast<std::uint64_t>(known_it->second.size_bytes) == f.size &&
        known_it->second.source_mtime_ms == f.mtime) {
      ++report.unchanged;
      continue;
    }
    if (known_it == by_path.end() && !missing.empty()) {
      auto sha = core::sha256_file_hex(path);
      if (sha) {
        auto m = missing.find(*sha);
        if (m != missing.end()) {
          if (ingest.move_source(m->second.id, path, relative, f.mtime).ok()) ++report.moved;
          missing.erase(m);
          continue;
        }
      }
    }
    submit_request req;
    req.space_id = space_id;
    req.path = f.path;
    req.filename = relative;
    req.source = "watch";
    req.source_path = path;
    req.source_mtime_ms = f.mtime;
    auto submitted = ingest.submit(system, req);
    if (!submitted) {
      ++report.failed;
      core::log_warn("watch: cannot ingest", {{"path", path}, {"error", submitted.err().message()}});
      continue;
    }
    if (submitted->duplicate) {
      // Touched but unchanged (or a copy of a file the space has): remember the time.
      if (submitted->source_path == path) (void)ingest.move_source(submitted->id, path, relative, f.mtime);
      ++report.unchanged;
    } else {
      ++report.submitted;
    }
  }
  for (const auto& [sha, f] : missing) {
    auto st = ingest.delete_file(system, space_id, f.id);
    if (st.ok()) {
      ++report.removed;
    } else {
      core::log_warn("watch: cannot remove", {{"path", f.source_path}, {"error", st.err().message()}});
    }
  }
  if (report.submitted + report.moved + report.removed > 0) {
    core::log_info("watch: folder reconciled", {{"space", space_id},
                                                {"submitted", report.submitted},
                                                {"moved", report.moved},
                                                {"removed", report.removed},
                                                {"unchanged", report.unchanged}});
  }
  return report;
}

void folder_watcher::impl::run() {
  std::array<char, std::size_t{64} * 1024> buffer{};
  while (true) {
    int timeout_ms = -1;
    std::vector<std::string> due;
    {
      std::lock_guard lock(mutex);
      const auto now = steady::now();
      for (auto it = dirty.begin(); it != dirty.end();) {
        const auto quiet = std::chrono::duration_cast<std::chrono::milliseconds>(now - it->second).count();
        if (quiet >= debounce_ms) {
          due.push_back(it->first);
          it = dirty.erase(it);
        } else {
          const int left = static_cast<int>(debounce_ms - quiet);
          timeout_ms = timeout_ms < 0 ? left : std::min(timeout_ms, left);
          ++it;
        }
      }
    }
    for (const auto& space : due) {
      auto r = reconcile(space);
      if (!r) core::log_warn("watch: reconcile failed", {{"space", space}, {"error", r.err().message()}});
    }
    if (!due.empty()) continue;
    pollfd fds[2] = {{inotify_fd, POLLIN, 0}, {wake_pipe[0], POLLIN, 0}};
    const int n = ::poll(fds, 2, timeout_ms);
    if (n < 0 && errno != EINTR) return;
    if (fds[1].revents & POLLIN) return;  // stop()
    if (!(fds[0].revents & POLLIN)) continue;
    const ssize_t len = ::read(inotify_fd, buffer.data(), buffer.size());
    if (len <= 0) continue;
    std::lock_guard lock(mutex);
    const auto now = steady::now();
    for (ssize_t off = 0; off < len;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buffer.data() + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      if (ev->mask & IN_Q_OVERFLOW) {  // events were lost: reconcile every folder
        for (const auto& [space, path] : watches) dirty[space] = now;
        continue;
      }
      auto it = space_of_wd.find(ev->wd);
      if (it == space_of_wd.end()) continue;
      if (ev->mask & IN_IGNORED) {
        dirty[it->second] = now;
        space_of_wd.erase(it);
        continue;
      }
      dirty[it->second] = now;
    }
  }
}

folder_watcher::folder_watcher(db::database& db, ingest_service& ingest, rag::rag_service& rag, int debounce_ms)
    : impl_(std::make_unique<impl>(db, ingest, rag, debounce_ms)) {}

folder_watcher::~folder_watcher() {
  stop();
}

core::result<watch_info> folder_watcher::set_watch(const rag::requester& who, std::string_view space_id,
                                                   const std::string& path) {
  if (!who.admin) return core::error::permission_denied("only an admin may watch a folder on the server");
  WATTOS_ASSIGN_OR_RETURN(auto space, impl_->rag.get_space(who, space_id));
  if (path.empty() || path.size() > 4096 || path.front() != '/') {
    return core::error::invalid_argument("path must be an absolute folder path");
  }
  std::error_code ec;
  const auto canonical = fs::canonical(path, ec);
  if (ec || !fs::is_directory(canonical, ec)) return core::error::invalid_argument("no such folder: " + path);
  watch_info w{space.id, canonical.string(), who.user_id, core::utc_now_iso()};
  WATTOS_RETURN_IF_ERROR(impl_->db.transaction([&](db::connection& c) -> core::status {
    WATTOS_RETURN_IF_ERROR(c.execute("DELETE FROM ingest_watches WHERE space_id = ?", {w.space_id}));
    WATTOS_RETURN_IF_ERROR(
        c.execute("INSERT INTO ingest_watches (space_id, path, created_by, created_at) VALUES (?, ?, ?, ?)",
                  {w.space_id, w.path, w.created_by, w.created_at}));
    return {};
  }));
  {
    std::lock_guard lock(impl_->mutex);
    impl_->unwatch(w.space_id);
    impl_->watches[w.space_id] = w.path;
  }
  WATTOS_RETURN_IF_ERROR(impl_->reconcile(w.space_id));
  return w;
}

core::status folder_watcher::remove_watch(const rag::requester& who, std::string_view space_id) {
  if (!who.admin) return core::error::permission_denied("only an admin may change watched folders");
  WATTOS_ASSIGN_OR_RETURN(auto space, impl_->rag.get_space(who, space_id));
  WATTOS_ASSIGN_OR_RETURN(auto removed, impl_->db.execute("DELETE FROM ingest_watches WHERE space_id = ?", {space.id}));
  if (removed.rows_affected == 0) return core::error::not_found("this space has no watched folder");
  std::lock_guard lock(impl_->mutex);
  impl_->unwatch(space.id);  // the files ingested so far stay
  return {};
}

core::result<std::optional<watch_info>> folder_watcher::get_watch(const rag::requester& who,
                                                                  std::string_view space_id) {
  WATTOS_ASSIGN_OR_RETURN(auto space, impl_->rag.get_space(who, space_id));
  return impl_->load(space.id);
}

core::status folder_watcher::start() {
  if (impl_->thread.joinable()) return {};
  impl_->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (impl_->inotify_fd < 0) return core::error::unavailable("inotify is not available");
  if (::pipe2(impl_->wake_pipe, O_CLOEXEC) != 0) return core::error::unavailable("cannot create a pipe");
  WATTOS_ASSIGN_OR_RETURN(auto rows, impl_->db.execute("SELECT space_id, path FROM ingest_watches", {}));
  std::vector<std::string> spaces;
  {
    std::lock_guard lock(impl_->mutex);
    for (const auto& r : rows.rows) {
      WATTOS_ASSIGN_OR_RETURN(auto space, r.get_text(0));
      WATTOS_ASSIGN_OR_RETURN(auto path, r.get_text(1));
      impl_->watches[space] = path;
      spaces.push_back(space);
    }
  }
  for (const auto& s : spaces) {
    auto r = impl_->reconcile(s);
    if (!r) core::log_warn("watch: reconcile failed", {{"space", s}, {"error", r.err().message()}});
  }
  impl_->thread = std::thread([this] { impl_->run(); });
  return {};
}

void folder_watcher::stop() {
  if (impl_->thread.joinable()) {
    const char byte = 1;
    (void)!::write(impl_->wake_pipe[1], &byte, 1);
    impl_->thread.join();
  }
  for (int* fd : {&impl_->inotify_fd, &impl_->wake_pipe[0], &impl_->wake_pipe[1]}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

core::result<reconcile_report> folder_watcher::reconcile(std::string_view space_id) {
  return impl_->reconcile(std::string(space_id));
}

}  // namespace wattos::streams::ingest
