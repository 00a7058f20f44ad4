// File: streams/ingest/folder_watcher.hpp
//
// Watched folders: each knowledge space may have one folder on the server whose files
// are ingested into it. New and changed files are ingested (a changed file replaces
// its chunks), moved files keep their document (found again by content), and deleted
// files are removed with their chunks. Watches are stored (ingest_watches), so they
// survive restarts, and a restart ingests nothing that did not change: a file whose
// size and modification time match what was ingested is skipped, and one whose content
// matches (SHA-256) is not ingested again.
//
// How: inotify watches every directory of a watched tree; any event marks the space
// dirty, and once the folder has been quiet for `debounce_ms` the whole folder is
// reconciled against the store. Reconciling (also at start and on set_watch) is the
// one code path for every kind of change, so a missed or overflowing event queue
// cannot lose one. Hidden files (".name") and symbolic links are skipped; at most
// 100,000 files per folder.
//
// Threading: one thread of its own reads inotify and reconciles; the other methods may
// be called from any thread (they block on the store).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "infra/db/database.hpp"
#include "streams/ingest/ingest_service.hpp"

namespace wattos::streams::ingest {

struct watch_info {
  std::string space_id;
  std::string path;
  std::string created_by;
  std::string created_at;
};

struct reconcile_report {
  int submitted = 0;  // new or changed files handed to ingestion
  int moved = 0;
  int removed = 0;
  int unchanged = 0;
  int failed = 0;  // files that could not be submitted (too large, unreadable); logged
};

class folder_watcher {
 public:
  folder_watcher(infra::db::database& db, ingest_service& ingest, rag::rag_service& rag, int debounce_ms);
  ~folder_watcher();  // stops the thread
  folder_watcher(const folder_watcher&) = delete;
  folder_watcher& operator=(const folder_watcher&) = delete;

  // Admins only: the folder is on the server. set_watch reconciles the folder at once.
  core::result<watch_info> set_watch(const rag::requester& who, std::string_view space_id, const std::string& path);
  core::status remove_watch(const rag::requester& who, std::string_view space_id);
  core::result<std::optional<watch_info>> get_watch(const rag::requester& who, std::string_view space_id);

  // Loads the stored watches, reconciles each, then follows changes until stop().
  core::status start();
  void stop();

  // Compares the folder with the store and submits, moves or removes files.
  core::result<reconcile_report> reconcile(std::string_view space_id);

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace wattos::streams::ingest
