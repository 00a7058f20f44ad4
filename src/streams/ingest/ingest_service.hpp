// File: streams/ingest/ingest_service.hpp
//
// The ingestion service: files (uploads, watched folders, the CLI) become indexed
// documents of a knowledge space through durable jobs on the job queue
// (infra/queue/job_queue.hpp):
//
//   queued -> parsing -> chunking -> embedding -> indexing -> done
//                        (any step) -> queued again (retry with backoff) ... -> failed
//
// Each file is one row of ingest_files (status, progress 0..1, attempts, last error,
// chunks, pages) and its bytes are kept under `files_dir`/<space>/<sha256>. The file's
// id is the RAG document id of its chunks.
//
// Guarantees:
//   - Idempotent: the same content (SHA-256) in the same space is stored and indexed
//     once; submitting it again answers the existing file (duplicate = true).
//   - A changed file (same name for uploads, same path for watched folders) replaces
//     its chunks atomically when its new version is indexed (RAG swaps a document's
//     chunks in one transaction); until then the old version stays searchable.
//   - Bad input never harms other work: a file that cannot be parsed (corrupt,
//     truncated, encrypted, too large, a zip bomb, empty, unsupported) fails at once
//     with a clear error; transient faults (store, embedding model) are retried with
//     exponential backoff and full jitter, then dead-lettered as failed, where
//     retry_file() starts it again with fresh attempts.
//   - A worker that dies mid-job loses its lease; another worker takes the job over
//     after the lease runs out, and the replaced chunks make the result the same.
//   - Deleting a file removes its job, its stored bytes, its chunks and its vectors.
//
// Access: reading a file needs read access to its space, everything else write access
// (checked through the RAG service; a space the caller cannot read is not_found).
//
// Threading: methods may be called from any thread; they block on the store and the
// queue (call them off the I/O threads: infra/db/offload.hpp). Workers are threads of
// their own (start_workers), each running the embedding coroutine on a private
// io_context.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"
#include "infra/db/database.hpp"
#include "infra/db/migrations.hpp"
#include "infra/queue/job_queue.hpp"
#include "streams/ingest/isolated_parse.hpp"
#include "streams/ingest/parsed_document.hpp"
#include "streams/rag/rag_service.hpp"

namespace wattos::streams::ingest {

struct file_info {
  std::string id;  // also the RAG document id
  std::string space_id;
  std::string filename;     // as uploaded, or the path relative to the watched folder
  std::string source;       // upload, watch, cli
  std::string source_path;  // watched files: the absolute path; else empty
  std::string owner_id;
  std::string format;  // detected from the content once parsed
  std::string mime_type;
  std::string sha256;
  std::int64_t size_bytes = 0;
  std::string status;   // queued, parsing, chunking, embedding, indexing, done, failed
  double progress = 0;  // 0..1
  int attempts = 0;
  std::string error;  // the last failure's message (kept while a retry waits)
  std::int64_t chunks = 0;
  int pages = 0;
  int ocr_pages = 0;
  std::string title;
  std::string job_id;
  std::string created_at;
  std::string updated_at;
  std::int64_t version = 0;  // grows with every change of the row (for change feeds)
  std::int64_t updated_ms = 0;
  std::int64_t source_mtime_ms = 0;  // watched files: the modification time last ingested
  bool duplicate = false;            // submit(): the same content was already there
};

struct submit_request {
  std::string space_id;
  std::filesystem::path path;  // the file to ingest
  std::string filename;
  std::string source = "upload";
  std::string source_path;  // watched files
  std::int64_t source_mtime_ms = 0;
  bool move = false;  // true: the file is ours to move into the store (uploads)
};

class ingest_service {
 public:
  static const std::vector<infra::db::migration>& migrations();

  ingest_service(infra::db::database& db, infra::queue::job_queue& queue, rag::rag_service& rag,
                 core::ingest_settings ingest, core::queue_settings queue_settings, std::filesystem::path files_dir);
  ~ingest_service();  // stops the workers
  ingest_service(const ingest_service&) = delete;
  ingest_service& operator=(const ingest_service&) = delete;

  core::result<file_info> submit(const rag::requester& who, const submit_request& request);
  core::result<std::vector<file_info>> list_files(const rag::requester& who, std::string_view space_id,
                                                  std::string_view status = {});
  core::result<file_info> get_file(const rag::requester& who, std::string_view space_id, std::string_view file_id);
  // Files of a space whose row changed at or after `since_ms` (unix ms of the writer's
  // clock), oldest change first, at most `limit`. A change feed polls this with an
  // overlap and drops what it has seen by (id, version).
  core::result<std::vector<file_info>> changes(const rag::requester& who, std::string_view space_id,
                                               std::int64_t since_ms, std::size_t limit = 500);
  core::status delete_file(const rag::requester& who, std::string_view space_id, std::string_view file_id);
  core::result<file_info> retry_file(const rag::requester& who, std::string_view space_id, std::string_view file_id);

  // Waits until some file changed after `seen` (a value of change_generation()) or the
  // timeout passed; changes made by other processes are seen by polling changes().
  boost::asio::awaitable<void> wait_for_change(std::uint64_t seen, std::chrono::milliseconds timeout);
  std::uint64_t change_generation() const noexcept;

  // Parse in child processes of this executable (the `wattos parse` command) from now
  // on; call before start_workers. Without it, files are parsed in this process.
  void isolate_parsers(isolation_settings isolation);

  // Claims and runs one job; false when the queue had none ready. For tests and the CLI.
  core::result<bool> run_one(std::string_view worker_id);
  // Worker threads claiming jobs until stop(); `workers` of them (0: none).
  void start_workers(int workers);
  void stop();

  // Files left queued without a live job (the enqueue after their row failed, or a
  // queue that was wiped) get their job again. Called by start_workers.
  core::result<int> requeue_orphans();

  // Everything ingestion keeps of a deleted space: rows, jobs, stored bytes, watch.
  // The RAG service calls it after deleting the space (rag_service::on_space_deleted).
  core::status purge_space(const std::string& space_id);

  // For the folder watcher (no access check: it acts for the operator): the files of
  // a space from one source, and a watched file that moved keeps its document.
  core::result<std::vector<file_info>> files_from_source(std::string_view space_id, std::string_view source);
  core::status move_source(std::string_view file_id, std::string_view source_path, std::string_view filename,
                           std::int64_t source_mtime_ms);

  // The operator's view (CLI, watcher): every space, admin rights.
  static rag::requester system_requester();

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

// parse_limits from the configuration's ingest.* keys.
parse_limits limits_from(const core::ingest_settings& settings);

}  // namespace wattos::streams::ingest
