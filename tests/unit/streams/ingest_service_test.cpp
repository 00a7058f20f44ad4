// The ingestion pipeline against SQLite and PostgreSQL with the SQL job queue and the
// built-in embedder: chunking (offsets, headings, pages, overlap), files from upload to
// search hit, idempotency by content, replacing a changed file, deleting with chunks and
// vectors, bad files failing at once without harming others, transient faults retried
// and dead-lettered, an admin's retry, a dead worker's job taken over after its lease,
// access rules, and watched folders (new, changed, moved, deleted files; restarts).
#include "streams/ingest/ingest_service.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "../net/test_client.hpp"
#include "core/id.hpp"
#include "core/utf8.hpp"
#include "db_backends.hpp"
#include "infra/llm/types.hpp"
#include "infra/queue/job_queue.hpp"
#include "streams/ingest/chunker.hpp"
#include "streams/ingest/folder_watcher.hpp"
#include "streams/ingest/parsers.hpp"

namespace wattos::streams::ingest {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------
// Chunking

parsed_document doc_of(std::vector<block> blocks) {
  parsed_document d;
  d.format = "txt";
  d.blocks = std::move(blocks);
  return d;
}

void expect_exact_slices(const parsed_document& doc, const std::vector<rag::chunk_input>& chunks) {
  const std::string text = document_text(doc);
  for (const auto& c : chunks) {
    ASSERT_LE(c.char_end, static_cast<std::int64_t>(text.size()));
    EXPECT_EQ(c.text,
              text.substr(static_cast<std::size_t>(c.char_start), static_cast<std::size_t>(c.char_end - c.char_start)));
  }
}

TEST(chunker, cuts_at_headings_and_keeps_the_heading_path) {
  auto doc = doc_of({{block_kind::heading, 1, "Mietvertrag", 0},
                     {block_kind::heading, 2, "Fristen", 0},
                     {block_kind::paragraph, 0, "Die Kündigungsfrist beträgt drei Monate.", 0},
                     {block_kind::heading, 2, "Miete", 0},
                     {block_kind::paragraph, 0, "Die Miete ist monatlich im Voraus zu zahlen.", 0}});
  auto chunks = chunk_document(doc, {256, 32});
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].heading_path, "Mietvertrag > Fristen");
  EXPECT_NE(chunks[0].text.find("Mietvertrag"), std::string::npos);  // headings without body join the next section
  EXPECT_NE(chunks[0].text.find("drei Monate"), std::string::npos);
  EXPECT_EQ(chunks[1].heading_path, "Mietvertrag > Miete");
  EXPECT_EQ(chunks[1].text.find("drei Monate"), std::string::npos);
  expect_exact_slices(doc, chunks);
}

TEST(chunker, starts_a_chunk_on_every_page) {
  auto doc = doc_of({{block_kind::paragraph, 0, "Seite eins.", 1},
                     {block_kind::paragraph, 0, "Seite zwei.", 2},
                     {block_kind::paragraph, 0, "Noch Seite zwei.", 2}});
  auto chunks = chunk_document(doc, {256, 32});
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].page, 1);
  EXPECT_EQ(chunks[1].page, 2);
  EXPECT_NE(chunks[1].text.find("Noch Seite zwei."), std::string::npos);
  expect_exact_slices(doc, chunks);
}

TEST(chunker, packs_sentences_to_the_target_size_with_overlap) {
  std::string paragraph;
  for (int i = 0; i < 200; ++i) paragraph += "Satz Nummer " + std::to_string(i) + " handelt von Fristen und Mieten. ";
  paragraph.pop_back();
  auto doc = doc_of({{block_kind::paragraph, 0, paragraph, 0}});
  auto chunks = chunk_document(doc, {64, 16});
  ASSERT_GT(chunks.size(), 10u);
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_LE(infra::llm::estimate_tokens(chunks[i].text), 64) << i;
    if (i > 0) {
      EXPECT_LT(chunks[i].char_start, chunks[i - 1].char_end) << "consecutive chunks overlap";
      EXPECT_GT(chunks[i].char_start, chunks[i - 1].char_start) << "every chunk moves on";
    }
  }
  EXPECT_EQ(chunks.front().char_start, 0);
  EXPECT_EQ(chunks.back().char_end, static_cast<std::int64_t>(paragraph.size()));
  expect_exact_slices(doc, chunks);
}

TEST(chunker, cuts_an_overlong_sentence_between_words_and_never_inside_a_character) {
  std::string sentence;
  for (int i = 0; i < 400; ++i) sentence += "Größenverhältnisse ";
  auto doc = doc_of({{block_kind::paragraph, 0, sentence, 0}});
  auto chunks = chunk_document(doc, {32, 0});
  ASSERT_GT(chunks.size(), 5u);
  for (const auto& c : chunks) {
    EXPECT_LE(infra::llm::estimate_tokens(c.text), 32);
    EXPECT_TRUE(core::is_valid_utf8(c.text));
  }
  expect_exact_slices(doc, chunks);
}

TEST(chunker, gives_nothing_for_a_document_without_text) {
  EXPECT_TRUE(chunk_document(doc_of({}), {256, 32}).empty());
  EXPECT_TRUE(chunk_document(doc_of({{block_kind::paragraph, 0, "", 1}}), {256, 32}).empty());
}

// ---------------------------------------------------------------------------------
// The pipeline

using net::testing::run_client;

class ingest_service_test : public infra::db::testing::backend_test {
 protected:
  void SetUp() override {
    backend_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(infra::db::migrate(db(), "llm", infra::llm::llm_gateway::migrations()).ok());
    ASSERT_TRUE(infra::db::migrate(db(), "rag", rag::rag_service::migrations()).ok());
    ASSERT_TRUE(infra::db::migrate(db(), "queue", infra::queue::sql_queue_migrations()).ok());
    ASSERT_TRUE(infra::db::migrate(db(), "ingest", ingest_service::migrations()).ok());
    dir_ = fs::temp_directory_path() / ("wattos-ingest-" + core::random_hex(6));
    fs::create_directories(dir_ / "in");
    core::model_settings broken;  // an embedding model nobody answers for: transient faults
    broken.id = "unreachable-embed";
    broken.provider = "openai";
    broken.endpoint = "http://127.0.0.1:9/v1";
    broken.capabilities = {"embeddings"};
    broken.dimensions = 8;
    broken.region = "eu";
    cfg_.models.push_back(broken);
    cfg_.llm.max_retries = 0;
    cfg_.llm.connect_timeout_ms = 500;
    auto gw = infra::llm::llm_gateway::create(cfg_, db(), {});
    ASSERT_TRUE(gw.ok()) << gw.err().message();
    llm_ = std::move(*gw);
    rag_ = std::make_unique<rag::rag_service>(db(), *llm_, dir_ / "data");
    queue_ = infra::queue::make_sql_queue(db());
    queue_cfg_.max_attempts = 3;
    queue_cfg_.retry_base_ms = 1;
    queue_cfg_.retry_max_ms = 5;
    queue_cfg_.lease_ms = 30000;
    ingest_cfg_.chunk_tokens = 64;
    ingest_cfg_.chunk_overlap_tokens = 8;
    ingest_cfg_.ocr = false;
    make_service();
    auto s = rag_->create_space(owner_, "Handbuch", "", "");
    ASSERT_TRUE(s.ok()) << s.err().message();
    space_ = s->id;
  }
  void TearDown() override {
    svc_.reset();
    queue_.reset();
    rag_.reset();
    llm_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
    backend_test::TearDown();
  }

  void make_service() {
    svc_.reset();
    svc_ = std::make_unique<ingest_service>(db(), *queue_, *rag_, ingest_cfg_, queue_cfg_, dir_ / "files");
  }

  fs::path write(const std::string& name, const std::string& content) {
    auto p = dir_ / "in" / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

  core::result<file_info> submit(const std::string& name, const std::string& content,
                                 const rag::requester* who = nullptr) {
    submit_request r;
    r.space_id = space_;
    r.path = write(name, content);
    r.filename = name;
    return svc_->submit(who ? *who : owner_, r);
  }

  // Runs jobs until none is ready.
  int drain() {
    int n = 0;
    while (true) {
      auto ran = svc_->run_one("test-worker");
      EXPECT_TRUE(ran.ok());
      if (!ran.ok() || !*ran) return n;
      ++n;
    }
  }

  // Runs jobs until `pred` holds for the file or the deadline passes (retries wait
  // for their backoff, a lost lease for its expiry).
  file_info run_until(const std::string& id, const std::function<bool(const file_info&)>& pred) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      (void)svc_->run_one("test-worker");
      auto f = svc_->get_file(owner_, space_, id);
      EXPECT_TRUE(f.ok());
      if (f.ok() && pred(*f)) return *f;
      std::this_thread::yield();
    }
    ADD_FAILURE() << "deadline passed for file " << id;
    return svc_->get_file(owner_, space_, id).value_or(file_info{});
  }

  std::vector<rag::search_hit> search(const std::string& query) {
    rag::search_request r;
    r.space_ids = {space_};
    r.query = query;
    r.mode = rag::search_mode::lexical;
    auto hits = run_client([](rag::rag_service* s, rag::requester w,
                              rag::search_request q) -> asio::awaitable<core::result<std::vector<rag::search_hit>>> {
      auto h = co_await s->search(w, std::move(q));
      co_return h;
    }(rag_.get(), owner_, std::move(r)));
    EXPECT_TRUE(hits.ok());
    return hits.ok() ? *hits : std::vector<rag::search_hit>{};
  }

  std::int64_t chunk_rows(const std::string& document_id) {
    auto rows = db().execute("SELECT COUNT(*) FROM rag_chunks WHERE document_id = ?", {document_id});
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? rows->rows[0].get_int(0).value_or(-1) : -1;
  }

  core::config cfg_;
  core::queue_settings queue_cfg_;
  core::ingest_settings ingest_cfg_;
  fs::path dir_;
  std::unique_ptr<infra::llm::llm_gateway> llm_;
  std::unique_ptr<rag::rag_service> rag_;
  std::unique_ptr<infra::queue::job_queue> queue_;
  std::unique_ptr<ingest_service> svc_;
  std::string space_;
  rag::requester owner_{"owner-1", false, "r1"};
  rag::requester reader_{"reader-1", false, "r2"};
  rag::requester stranger_{"stranger-1", false, "r3"};
};

const std::string handbook_text =
    "Urlaub\n\nJeder Mitarbeiter hat Anspruch auf dreißig Tage Urlaub im Jahr.\n\n"
    "Homeoffice\n\nHomeoffice ist an zwei Tagen der Woche möglich, nach Absprache mit der Leitung.";

TEST_P(ingest_service_test, a_file_goes_from_queued_to_searchable_with_citations) {
  auto f = submit("handbuch.txt", handbook_text);
  ASSERT_TRUE(f.ok()) << f.err().message();
  EXPECT_EQ(f->status, "queued");
  EXPECT_FALSE(f->duplicate);
  EXPECT_EQ(f->size_bytes, static_cast<std::int64_t>(handbook_text.size()));
  EXPECT_EQ(drain(), 1);
  auto done = svc_->get_file(owner_, space_, f->id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->status, "done");
  EXPECT_DOUBLE_EQ(done->progress, 1.0);
  EXPECT_EQ(done->attempts, 1);
  EXPECT_EQ(done->format, "txt");
  EXPECT_GT(done->chunks, 0);
  EXPECT_EQ(chunk_rows(f->id), done->chunks);
  auto hits = search("Urlaub Tage");
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits.front().source.document_id, f->id);
  EXPECT_NE(hits.front().text.find("dreißig"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir_ / "in" / "handbuch.txt"));  // submit copies unless told to move
}

TEST_P(ingest_service_test, the_same_content_is_ingested_once) {
  auto a = submit("a.txt", handbook_text);
  auto b = submit("b.txt", handbook_text);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(b->duplicate);
  EXPECT_EQ(a->id, b->id);
  EXPECT_EQ(drain(), 1);
  auto files = svc_->list_files(owner_, space_);
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->size(), 1u);
}

TEST_P(ingest_service_test, a_changed_file_replaces_its_chunks) {
  auto v1 = submit("regeln.txt", "Die Kantine öffnet um acht Uhr.");
  ASSERT_TRUE(v1.ok());
  drain();
  EXPECT_EQ(search("Kantine acht").size(), 1u);
  auto v2 = submit("regeln.txt", "Die Bibliothek öffnet um neun Uhr.");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->id, v1->id);
  EXPECT_NE(v2->sha256, v1->sha256);
  EXPECT_EQ(v2->status, "queued");
  drain();
  EXPECT_TRUE(search("Kantine").empty());
  ASSERT_EQ(search("Bibliothek").size(), 1u);
  EXPECT_EQ(search("Bibliothek").front().source.document_id, v1->id);
  EXPECT_EQ(chunk_rows(v1->id), 1);
}

TEST_P(ingest_service_test, deleting_a_file_removes_its_chunks_vectors_and_bytes) {
  auto f = submit("weg.txt", handbook_text);
  ASSERT_TRUE(f.ok());
  drain();
  ASSERT_FALSE(search("Homeoffice").empty());
  const auto stored = dir_ / "files" / space_ / f->sha256;
  EXPECT_TRUE(fs::exists(stored));
  ASSERT_TRUE(svc_->delete_file(owner_, space_, f->id).ok());
  EXPECT_TRUE(search("Homeoffice").empty());
  EXPECT_EQ(chunk_rows(f->id), 0);
  EXPECT_FALSE(fs::exists(stored));
  EXPECT_EQ(svc_->get_file(owner_, space_, f->id).err().code(), core::errc::not_found);
  // The same content can come back afterwards.
  auto again = submit("weg.txt", handbook_text);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->duplicate);
}

TEST_P(ingest_service_test, deleting_the_space_removes_its_files_jobs_and_bytes) {
  rag_->on_space_deleted([this](const std::string& id) { ASSERT_TRUE(svc_->purge_space(id).ok()); });
  auto done = submit("bleibt.txt", handbook_text);
  auto waiting = submit("wartet.txt", "Noch nicht verarbeitet.");
  ASSERT_TRUE(done.ok() && waiting.ok());
  ASSERT_TRUE(svc_->run_one("test-worker").ok());  // one is done, one still queued
  ASSERT_TRUE(fs::exists(dir_ / "files" / space_));
  ASSERT_TRUE(rag_->delete_space(owner_, space_).ok());
  auto rows = db().execute("SELECT COUNT(*) FROM ingest_files WHERE space_id = ?", {space_});
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->rows[0].get_int(0).value_or(-1), 0);
  EXPECT_FALSE(fs::exists(dir_ / "files" / space_));
  auto counts = queue_->counts("ingest");
  ASSERT_TRUE(counts.ok()) << counts.err().message();
  EXPECT_EQ(counts->waiting + counts->delayed, 0);
  EXPECT_EQ(drain(), 0);
}

TEST_P(ingest_service_test, a_file_deleted_before_its_job_runs_leaves_nothing_behind) {
  auto f = submit("kurz.txt", handbook_text);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(svc_->delete_file(owner_, space_, f->id).ok());
  drain();
  EXPECT_EQ(chunk_rows(f->id), 0);
}

TEST_P(ingest_service_test, bad_files_fail_at_once_and_do_not_harm_the_others) {
  std::string binary;
  for (int i = 0; i < 4096; ++i) binary.push_back(static_cast<char>((i * 7919 + 13) % 256));
  auto bad = submit("kaputt.pdf", "%PDF-1.7\n1 0 obj << /Type /Catalog >>\n% truncated here");
  auto noise = submit("rauschen.bin", binary);
  auto empty = submit("leer.txt", "");
  auto good = submit("gut.txt", handbook_text);
  ASSERT_TRUE(bad.ok() && noise.ok() && empty.ok() && good.ok());
  drain();
  for (const auto* f : {&*bad, &*noise, &*empty}) {
    auto now = svc_->get_file(owner_, space_, f->id);
    ASSERT_TRUE(now.ok());
    EXPECT_EQ(now->status, "failed") << f->filename;
    EXPECT_EQ(now->attempts, 1) << f->filename << ": a bad file is not retried";
    EXPECT_FALSE(now->error.empty()) << f->filename;
  }
  auto ok = svc_->get_file(owner_, space_, good->id);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, "done");
}

TEST_P(ingest_service_test, transient_faults_are_retried_then_dead_lettered_and_an_admin_can_retry) {
  auto s = rag_->create_space(owner_, "Kaputtes Modell", "", "unreachable-embed");
  ASSERT_TRUE(s.ok()) << s.err().message();
  space_ = s->id;
  auto f = submit("x.txt", handbook_text);
  ASSERT_TRUE(f.ok());
  auto failed = run_until(f->id, [](const file_info& i) { return i.status == "failed"; });
  EXPECT_EQ(failed.attempts, 3);
  EXPECT_FALSE(failed.error.empty());
  auto counts = queue_->counts("ingest");
  ASSERT_TRUE(counts.ok()) << counts.err().message();
  EXPECT_EQ(counts->dead, 1);

  auto retried = svc_->retry_file(owner_, space_, f->id);
  ASSERT_TRUE(retried.ok()) << retried.err().message();
  EXPECT_EQ(retried->status, "queued");
  EXPECT_EQ(retried->attempts, 0);
  EXPECT_EQ(svc_->retry_file(owner_, space_, f->id).err().code(), core::errc::failed_precondition);
  auto again = run_until(f->id, [](const file_info& i) { return i.status == "failed"; });
  EXPECT_EQ(again.attempts, 3);
}

TEST_P(ingest_service_test, a_dead_workers_job_is_taken_over_after_its_lease) {
  auto f = submit("lease.txt", handbook_text);
  ASSERT_TRUE(f.ok());
  // A worker claims the job and dies (never extends, completes or fails it).
  auto claimed = queue_->claim("ingest", "dead-worker", 50);
  ASSERT_TRUE(claimed.ok());
  ASSERT_TRUE(claimed->has_value());
  auto done = run_until(f->id, [](const file_info& i) { return i.status == "done"; });
  EXPECT_EQ(done.attempts, 2);
  EXPECT_EQ(chunk_rows(f->id), done.chunks);
  // The dead worker's late word is refused.
  EXPECT_FALSE(queue_->complete((*claimed)->id, (*claimed)->lease_token).ok());
}

TEST_P(ingest_service_test, access_follows_the_space) {
  ASSERT_TRUE(rag_->set_member(owner_, space_, reader_.user_id, "read").ok());
  auto f = submit("intern.txt", handbook_text);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(submit("leser.txt", "Text", &reader_).err().code(), core::errc::permission_denied);
  EXPECT_EQ(submit("fremd.txt", "Text", &stranger_).err().code(), core::errc::not_found);
  EXPECT_TRUE(svc_->list_files(reader_, space_).ok());
  EXPECT_EQ(svc_->list_files(stranger_, space_).err().code(), core::errc::not_found);
  EXPECT_EQ(svc_->get_file(stranger_, space_, f->id).err().code(), core::errc::not_found);
  EXPECT_EQ(svc_->delete_file(reader_, space_, f->id).err().code(), core::errc::permission_denied);
}

TEST_P(ingest_service_test, bad_submissions_are_refused_and_leave_nothing) {
  ingest_cfg_.max_file_bytes = 10;
  make_service();
  EXPECT_EQ(submit("gross.txt", std::string(11, 'x')).err().code(), core::errc::payload_too_large);
  EXPECT_EQ(submit("", "x").err().code(), core::errc::invalid_argument);
  submit_request missing;
  missing.space_id = space_;
  missing.path = dir_ / "nope";
  missing.filename = "nope";
  EXPECT_EQ(svc_->submit(owner_, missing).err().code(), core::errc::invalid_argument);
  auto files = svc_->list_files(owner_, space_);
  ASSERT_TRUE(files.ok());
  EXPECT_TRUE(files->empty());
  EXPECT_EQ(drain(), 0);
}

TEST_P(ingest_service_test, changes_report_every_step) {
  const auto start_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  const auto gen = svc_->change_generation();
  auto f = submit("feed.txt", handbook_text);
  ASSERT_TRUE(f.ok());
  EXPECT_NE(svc_->change_generation(), gen);
  drain();
  auto changed = svc_->changes(owner_, space_, start_ms - 1000);
  ASSERT_TRUE(changed.ok());
  ASSERT_EQ(changed->size(), 1u);
  EXPECT_EQ(changed->front().status, "done");
  EXPECT_GT(changed->front().version, f->version);
}

TEST_P(ingest_service_test, workers_in_threads_process_everything_once) {
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    auto f = submit("doc" + std::to_string(i) + ".txt", "Dokument Nummer " + std::to_string(i) + " über Fristen.");
    ASSERT_TRUE(f.ok());
    ids.push_back(f->id);
  }
  svc_->start_workers(3);
  for (const auto& id : ids) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (svc_->get_file(owner_, space_, id)->status != "done" && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);  // polling the store for the workers' result, with a deadline
    }
    EXPECT_EQ(svc_->get_file(owner_, space_, id)->status, "done");
    EXPECT_EQ(chunk_rows(id), 1);
  }
  svc_->stop();
  auto counts = queue_->counts("ingest");
  ASSERT_TRUE(counts.ok()) << counts.err().message();
  EXPECT_EQ(counts->completed, 20);
  EXPECT_EQ(counts->waiting + counts->active + counts->delayed + counts->dead, 0);
}

TEST_P(ingest_service_test, a_real_pdf_is_indexed_with_pages) {
  const fs::path pdf = fs::path(WATTOS_SHARED_DATA) / "docs" / "de" / "docspell_letter-de.pdf";
  ASSERT_TRUE(fs::exists(pdf)) << pdf;
  submit_request r;
  r.space_id = space_;
  r.path = pdf;
  r.filename = "brief.pdf";
  auto f = svc_->submit(owner_, r);
  ASSERT_TRUE(f.ok()) << f.err().message();
  EXPECT_TRUE(fs::exists(pdf)) << "the source file is copied, not moved";
  drain();
  auto done = svc_->get_file(owner_, space_, f->id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->status, "done") << done->error;
  EXPECT_EQ(done->format, "pdf");
  EXPECT_GE(done->pages, 1);
  auto hits = search("Kündigung");
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits.front().source.page, 1);
}

// ---------------------------------------------------------------------------------
// Watched folders

TEST_P(ingest_service_test, a_watched_folder_follows_new_changed_moved_and_deleted_files) {
  const rag::requester admin{"admin-1", true, "r9"};
  const auto folder = dir_ / "watched";
  fs::create_directories(folder / "sub");
  std::ofstream(folder / "a.txt") << "Alpha handelt vom Datenschutz.";
  std::ofstream(folder / "sub" / "b.md") << "# Beta\n\nBeta handelt von Reisekosten.";
  std::ofstream(folder / ".hidden.txt") << "nicht ingestieren";
  auto watcher = std::make_unique<folder_watcher>(db(), *svc_, *rag_, 0);
  EXPECT_EQ(watcher->set_watch(owner_, space_, folder.string()).err().code(), core::errc::permission_denied);
  EXPECT_EQ(watcher->set_watch(admin, space_, (dir_ / "missing").string()).err().code(), core::errc::invalid_argument);
  ASSERT_TRUE(watcher->set_watch(admin, space_, folder.string()).ok());
  drain();
  auto files = svc_->files_from_source(space_, "watch");
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ(search("Datenschutz").size(), 1u);

  // Changed: replaced in place. Moved: same document, new path. Deleted: gone.
  std::ofstream(folder / "a.txt") << "Alpha handelt jetzt von Arbeitszeit.";
  fs::rename(folder / "sub" / "b.md", folder / "b-neu.md");
  auto report = watcher->reconcile(space_);
  ASSERT_TRUE(report.ok()) << report.err().message();
  EXPECT_EQ(report->submitted, 1);
  EXPECT_EQ(report->moved, 1);
  drain();
  EXPECT_TRUE(search("Datenschutz").empty());
  EXPECT_EQ(search("Arbeitszeit").size(), 1u);
  EXPECT_EQ(search("Reisekosten").size(), 1u);
  fs::remove(folder / "a.txt");
  report = watcher->reconcile(space_);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->removed, 1);
  EXPECT_TRUE(search("Arbeitszeit").empty());

  // A restart ingests nothing that did not change.
  watcher.reset();
  watcher = std::make_unique<folder_watcher>(db(), *svc_, *rag_, 0);
  ASSERT_TRUE(watcher->start().ok());
  EXPECT_EQ(drain(), 0);
  report = watcher->reconcile(space_);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->submitted + report->moved + report->removed, 0);
  EXPECT_EQ(report->unchanged, 1);

  // A file written while watching is found by inotify.
  std::ofstream(folder / "c.txt") << "Gamma handelt von Dienstwagen.";
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (search("Dienstwagen").empty() && std::chrono::steady_clock::now() < deadline) {
    (void)svc_->run_one("test-worker");
    std::this_thread::sleep_for(20ms);  // polling for the watcher thread's result, with a deadline
  }
  EXPECT_EQ(search("Dienstwagen").size(), 1u);
  watcher->stop();
}

INSTANTIATE_TEST_SUITE_P(backends, ingest_service_test, ::testing::Values("sqlite", "postgres"),
                         infra::db::testing::backend_name);

}  // namespace
}  // namespace wattos::streams::ingest
