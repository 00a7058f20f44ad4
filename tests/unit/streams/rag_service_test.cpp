// The RAG service against SQLite and PostgreSQL with the built-in embedder: spaces and
// their access rules (another user gets 404, a reader 403 on writes), indexing and
// replacing documents, filters, citations and snippets, context building, a vector
// index rebuilt from the store after it was lost or damaged (or caught up when it missed
// the last documents), and bad input.
#include "streams/rag/rag_service.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "core/id.hpp"
#include "db_backends.hpp"
#include "scripted_provider.hpp"

namespace wattos::streams::rag {
namespace {

namespace asio = boost::asio;

// Runs a coroutine to its end on a private io_context (tests/unit/net/test_client.hpp).
using net::testing::run_client;
template <typename T>
T run(asio::awaitable<T> op) {
  return run_client(std::move(op));
}

class rag_service_test : public infra::db::testing::backend_test {
 protected:
  void SetUp() override {
    backend_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(infra::db::migrate(db(), "llm", infra::llm::llm_gateway::migrations()).ok());
    ASSERT_TRUE(infra::db::migrate(db(), "rag", rag_service::migrations()).ok());
    data_dir_ = std::filesystem::temp_directory_path() / ("wattos-rag-" + core::random_hex(6));
    core::model_settings tiny;
    tiny.id = "tiny-embed";
    tiny.provider = "embedder";
    tiny.region = "local";
    tiny.external = false;
    tiny.capabilities = {"embeddings"};
    tiny.dimensions = 64;
    cfg_.models.push_back(tiny);
    core::model_settings reranker;
    reranker.id = "scripted-rerank";
    reranker.provider = "openai";
    reranker.endpoint = provider_.base_url();
    reranker.upstream_model = "rerank";
    reranker.capabilities = {"rerank"};
    cfg_.models.push_back(reranker);
    auto gw = infra::llm::llm_gateway::create(cfg_, db(), {});
    ASSERT_TRUE(gw.ok());
    llm_ = std::move(*gw);
    svc_ = std::make_unique<rag_service>(db(), *llm_, data_dir_);
  }
  void TearDown() override {
    svc_.reset();
    llm_.reset();
    std::filesystem::remove_all(data_dir_);
    backend_test::TearDown();
  }

  core::result<std::size_t> index(const requester& who, const std::string& space, document_input doc) {
    return run([](rag_service* s, requester w, std::string id,
                  document_input d) -> asio::awaitable<core::result<std::size_t>> {
      auto r = co_await s->index_document(w, std::move(id), std::move(d));
      co_return r;
    }(svc_.get(), who, space, std::move(doc)));
  }

  core::result<std::vector<search_hit>> search(const requester& who, search_request request) {
    return run(
        [](rag_service* s, requester w, search_request r) -> asio::awaitable<core::result<std::vector<search_hit>>> {
          auto hits = co_await s->search(w, std::move(r));
          co_return hits;
        }(svc_.get(), who, std::move(request)));
  }

  static document_input contract() {
    document_input d;
    d.document_id = "mv-1";
    d.title = "Mietvertrag.pdf";
    d.doc_type = "pdf";
    d.tags = {"miete"};
    d.date = "2024-03-01";
    d.chunks = {{"Die Kündigungsfrist beträgt drei Monate zum Monatsende.", 3, "§ 5 Kündigung", 100, 160},
                {"Haustiere sind nach Absprache mit dem Vermieter erlaubt.", 4, "§ 9 Tiere", 200, 260}};
    return d;
  }

  static document_input rules() {
    document_input d;
    d.document_id = "ho-1";
    d.title = "Hausordnung.pdf";
    d.doc_type = "pdf";
    d.tags = {"haus"};
    d.date = "2023-01-15";
    d.chunks = {
        {"Die Nachtruhe gilt von 22 bis 6 Uhr; die Kündigung des Stellplatzes ist monatlich möglich.", 1, "", 0, 90}};
    return d;
  }

  search_request ask(const std::string& space, std::string query) {
    search_request r;
    r.space_ids = {space};
    r.query = std::move(query);
    r.k = 5;
    return r;
  }

  core::config cfg_;
  infra::llm::testing::scripted_provider provider_;
  std::filesystem::path data_dir_;
  std::unique_ptr<infra::llm::llm_gateway> llm_;
  std::unique_ptr<rag_service> svc_;
  requester owner_{"user-owner", false, "r1"};
  requester reader_{"user-reader", false, "r2"};
  requester stranger_{"user-stranger", false, "r3"};
  requester admin_{"user-admin", true, "r4"};
};

TEST_P(rag_service_test, space_lifecycle_and_access_rules) {
  auto s = svc_->create_space(owner_, "Verträge", "Mietrecht", "");
  ASSERT_TRUE(s.ok()) << s.err().message();
  EXPECT_EQ(s->embedding_model, "wattos-embed");
  EXPECT_EQ(s->dimensions, 384);
  EXPECT_EQ(svc_->create_space(owner_, "Verträge", "", "").err().code(), core::errc::already_exists);

  // A stranger cannot see it (404, not 403: its existence is not revealed).
  EXPECT_EQ(svc_->get_space(stranger_, s->id).err().code(), core::errc::not_found);
  EXPECT_EQ(svc_->get_space(stranger_, "Verträge").err().code(), core::errc::not_found);
  EXPECT_TRUE(svc_->list_spaces(stranger_)->empty());
  EXPECT_EQ(search(stranger_, ask(s->id, "Frist")).err().code(), core::errc::not_found);
  EXPECT_EQ(index(stranger_, s->id, contract()).err().code(), core::errc::not_found);
  EXPECT_EQ(svc_->delete_space(stranger_, s->id).err().code(), core::errc::not_found);

  // A reader reads and searches, but may not write or manage.
  ASSERT_TRUE(svc_->set_member(owner_, s->id, reader_.user_id, "read").ok());
  EXPECT_EQ(svc_->get_space(reader_, s->id)->access, "read");
  EXPECT_EQ(index(reader_, s->id, contract()).err().code(), core::errc::permission_denied);
  EXPECT_EQ(svc_->set_member(reader_, s->id, stranger_.user_id, "read").err().code(), core::errc::permission_denied);
  EXPECT_EQ(svc_->delete_space(reader_, s->id).err().code(), core::errc::permission_denied);
  EXPECT_EQ(svc_->update_space(reader_, s->id, std::string("X"), std::nullopt).err().code(),
            core::errc::permission_denied);
  EXPECT_EQ(svc_->set_member(owner_, s->id, reader_.user_id, "boss").err().code(), core::errc::invalid_argument);
  // An admin sees every space.
  EXPECT_EQ(svc_->get_space(admin_, s->id)->access, "admin");
  EXPECT_EQ(svc_->list_spaces(admin_)->size(), 1u);

  auto renamed = svc_->update_space(owner_, s->id, std::string("Mietverträge"), std::nullopt);
  ASSERT_TRUE(renamed.ok());
  EXPECT_EQ(svc_->get_space(reader_, "Mietverträge")->id, s->id);
  ASSERT_EQ(svc_->list_members(owner_, s->id)->size(), 1u);
  ASSERT_TRUE(svc_->remove_member(owner_, s->id, reader_.user_id).ok());
  EXPECT_EQ(svc_->get_space(reader_, s->id).err().code(), core::errc::not_found);
  ASSERT_TRUE(svc_->delete_space(owner_, s->id).ok());
  EXPECT_EQ(svc_->get_space(owner_, s->id).err().code(), core::errc::not_found);
}

TEST_P(rag_service_test, index_search_cite_replace_and_delete) {
  auto s = svc_->create_space(owner_, "Wohnen", "", "");
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(*index(owner_, s->id, contract()), 2u);
  ASSERT_EQ(*index(owner_, s->id, rules()), 1u);
  for (auto mode : {search_mode::lexical, search_mode::vector, search_mode::hybrid}) {
    auto request = ask(s->id, "Wie lang ist die Kündigungsfrist?");
    request.mode = mode;
    auto hits = search(owner_, request);
    ASSERT_TRUE(hits.ok()) << hits.err().message();
    ASSERT_FALSE(hits->empty());
    const auto& top = hits->front();
    EXPECT_EQ(top.source.document_id, "mv-1") << search_mode_name(mode);
    EXPECT_EQ(top.source.page, 3);
    EXPECT_EQ(top.source.heading_path, "§ 5 Kündigung");
    EXPECT_EQ(top.source.char_start, 100);
    EXPECT_NE(top.source.snippet.find("**Kündigungsfrist**"), std::string::npos) << top.source.snippet;
  }
  // Filters by document, type, tag and date.
  auto request = ask(s->id, "Kündigung");
  request.filters.tags = {"haus"};
  auto hits = search(owner_, request);
  ASSERT_TRUE(hits.ok());
  ASSERT_FALSE(hits->empty());
  for (const auto& h : *hits) EXPECT_EQ(h.source.document_id, "ho-1");
  request.filters = {};
  request.filters.from_date = "2024-01-01";
  hits = search(owner_, request);
  for (const auto& h : *hits) EXPECT_EQ(h.source.document_id, "mv-1");

  // Re-indexing a document replaces its chunks.
  auto changed = contract();
  changed.chunks = {{"Die Kündigungsfrist beträgt sechs Wochen.", 2, "", 0, 40}};
  ASSERT_EQ(*index(owner_, s->id, changed), 1u);
  hits = search(owner_, ask(s->id, "Kündigungsfrist"));
  ASSERT_TRUE(hits.ok());
  for (const auto& h : *hits) EXPECT_EQ(h.text.find("drei Monate"), std::string::npos);
  EXPECT_EQ(svc_->get_space(owner_, s->id)->chunks, 2);

  ASSERT_EQ(*svc_->delete_document(owner_, s->id, "mv-1"), 1u);
  EXPECT_EQ(svc_->delete_document(owner_, s->id, "mv-1").err().code(), core::errc::not_found);
  hits = search(owner_, ask(s->id, "sechs Wochen"));
  for (const auto& h : *hits) EXPECT_NE(h.source.document_id, "mv-1");
}

TEST_P(rag_service_test, vector_index_is_rebuilt_from_the_store_when_lost_or_damaged) {
  auto s = svc_->create_space(owner_, "Wohnen", "", "");
  ASSERT_TRUE(index(owner_, s->id, contract()).ok());
  const auto file = data_dir_ / "vectors" / (s->id + ".hnsw");
  ASSERT_TRUE(std::filesystem::exists(file));
  for (int round = 0; round < 2; ++round) {
    svc_.reset();  // a restart
    if (round == 0) {
      std::filesystem::remove(file);
    } else {
      std::filesystem::resize_file(file, std::filesystem::file_size(file) / 3);  // a torn write
    }
    svc_ = std::make_unique<rag_service>(db(), *llm_, data_dir_);
    auto request = ask(s->id, "Haustiere");
    request.mode = search_mode::vector;
    auto hits = search(owner_, request);
    ASSERT_TRUE(hits.ok()) << hits.err().message();
    ASSERT_EQ(hits->size(), 2u);
    EXPECT_EQ(hits->front().source.page, 4);
  }
}

// The index file is saved paced, not after every document: after a crash it may lack
// the last documents (added back from the store) or still hold deleted ones (rebuilt).
TEST_P(rag_service_test, an_index_file_behind_the_store_catches_up_and_one_ahead_is_rebuilt) {
  auto s = svc_->create_space(owner_, "Wohnen", "", "");
  const auto file = data_dir_ / "vectors" / (s->id + ".hnsw");
  const std::filesystem::path meta = file.string() + ".meta";
  const auto keep = [&](const std::string& name) {
    std::filesystem::copy_file(file, data_dir_ / (name + ".hnsw"), std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(meta, data_dir_ / (name + ".meta"), std::filesystem::copy_options::overwrite_existing);
  };
  const auto crash_back_to = [&](const std::string& name) {
    svc_.reset();
    std::filesystem::copy_file(data_dir_ / (name + ".hnsw"), file, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(data_dir_ / (name + ".meta"), meta, std::filesystem::copy_options::overwrite_existing);
    svc_ = std::make_unique<rag_service>(db(), *llm_, data_dir_);
  };
  const auto vector_hits = [&] {
    auto request = ask(s->id, "Nachtruhe und Stellplatz");
    request.mode = search_mode::vector;
    auto hits = search(owner_, request);
    EXPECT_TRUE(hits.ok()) << hits.err().message();
    std::multiset<std::string> documents;
    if (hits.ok())
      for (const auto& h : *hits) documents.insert(h.source.document_id);
    return documents;
  };

  ASSERT_TRUE(index(owner_, s->id, contract()).ok());  // a space's first save comes at once
  keep("contract-only");
  ASSERT_TRUE(index(owner_, s->id, rules()).ok());
  crash_back_to("contract-only");
  EXPECT_EQ(vector_hits(), (std::multiset<std::string>{"ho-1", "mv-1", "mv-1"}));

  keep("with-rules");
  ASSERT_TRUE(svc_->delete_document(owner_, s->id, "ho-1").ok());
  crash_back_to("with-rules");
  EXPECT_EQ(vector_hits(), (std::multiset<std::string>{"mv-1", "mv-1"}));
}

TEST_P(rag_service_test, pgvector_backend_indexes_searches_and_drops) {
  const char* url = std::getenv("WATTOS_TEST_PGVECTOR_URL");
  if (url == nullptr) {
    const char* required = std::getenv("WATTOS_TEST_REQUIRE_SERVERS");
    if (required != nullptr && std::string_view(required) == "1") FAIL() << "WATTOS_TEST_PGVECTOR_URL is not set";
    GTEST_SKIP() << "pgvector backend: WATTOS_TEST_PGVECTOR_URL is not set (scripts/test.sh sets it)";
  }
  core::rag_settings settings;
  settings.vector_backend = "pgvector";
  settings.pgvector_url = url;
  svc_ = std::make_unique<rag_service>(db(), *llm_, data_dir_, settings);
  auto s = svc_->create_space(owner_, "Wohnen-" + core::random_hex(4), "", "");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(index(owner_, s->id, contract()).ok());
  auto request = ask(s->id, "Haustiere");
  request.mode = search_mode::vector;
  auto hits = search(owner_, request);
  ASSERT_TRUE(hits.ok()) << hits.err().message();
  ASSERT_EQ(hits->size(), 2u);
  EXPECT_EQ(hits->front().source.page, 4);
  // A restart finds the vectors in PostgreSQL.
  svc_ = std::make_unique<rag_service>(db(), *llm_, data_dir_, settings);
  hits = search(owner_, request);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 2u);
  EXPECT_FALSE(std::filesystem::exists(data_dir_ / "vectors" / (s->id + ".hnsw")));
  ASSERT_TRUE(svc_->delete_space(owner_, s->id).ok());
}

TEST_P(rag_service_test, context_has_numbered_sources_within_the_budget_without_duplicates) {
  std::vector<search_hit> hits(3);
  hits[0].text = "Die Frist beträgt drei Monate.";
  hits[0].source = {0, "s", "d1", "Vertrag.pdf", 3, "§ 5", 0, 30, ""};
  hits[1].text = "Die Frist beträgt drei Monate.";  // the same passage again, overlapping
  hits[1].source = {0, "s", "d1", "Vertrag.pdf", 3, "§ 5", 5, 30, ""};
  hits[2].text = "Haustiere sind erlaubt.";
  hits[2].source = {0, "s", "d2", "Hausordnung.pdf", 0, "", 0, 23, ""};
  auto ctx = rag_service::build_context(hits, 1000);
  ASSERT_EQ(ctx.citations.size(), 2u);
  EXPECT_EQ(
      ctx.text,
      "[1] Vertrag.pdf, Seite 3 (§ 5): Die Frist beträgt drei Monate.\n\n[2] Hausordnung.pdf: Haustiere sind erlaubt.");
  EXPECT_EQ(ctx.citations[1].number, 2);
  EXPECT_EQ(ctx.citations[1].document_id, "d2");
  auto tight = rag_service::build_context(hits, 16);
  EXPECT_EQ(tight.citations.size(), 1u);
  EXPECT_LE(tight.tokens, 16);
}

TEST_P(rag_service_test, bad_input_is_refused_with_nothing_written) {
  auto s = svc_->create_space(owner_, "Wohnen", "", "");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(svc_->create_space(owner_, "", "", "").err().code(), core::errc::invalid_argument);
  EXPECT_EQ(svc_->create_space(owner_, std::string(101, 'x'), "", "").err().code(), core::errc::invalid_argument);
  EXPECT_EQ(svc_->create_space(owner_, "Chat", "", "extractive").err().code(), core::errc::invalid_argument);
  EXPECT_EQ(svc_->create_space(owner_, "Ghost", "", "no-such-model").err().code(), core::errc::not_found);
  EXPECT_EQ(search(owner_, ask(s->id, "   ")).err().code(), core::errc::invalid_argument);
  EXPECT_EQ(search(owner_, ask(s->id, std::string(5000, 'a'))).err().code(), core::errc::payload_too_large);
  EXPECT_EQ(search(owner_, ask("no-such-space", "x")).err().code(), core::errc::not_found);
  auto zero_k = ask(s->id, "x");
  zero_k.k = 0;
  EXPECT_EQ(search(owner_, zero_k).err().code(), core::errc::invalid_argument);
  auto bad_date = ask(s->id, "x");
  bad_date.filters.from_date = "yesterday";
  EXPECT_EQ(search(owner_, bad_date).err().code(), core::errc::invalid_argument);
  auto empty_chunk = contract();
  empty_chunk.chunks.push_back({"", 0, "", 0, 0});
  EXPECT_EQ(index(owner_, s->id, empty_chunk).err().code(), core::errc::invalid_argument);
  EXPECT_EQ(svc_->get_space(owner_, s->id)->chunks, 0);  // nothing half-written
  // Searching an empty space finds nothing, without error.
  auto none = search(owner_, ask(s->id, "Frist"));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(rag_service_test, reembedding_switches_model_and_dimensions) {
  auto s = svc_->create_space(owner_, "Wohnen", "", "");
  ASSERT_TRUE(index(owner_, s->id, contract()).ok());
  EXPECT_EQ(run([](rag_service* r, requester w, std::string id) -> asio::awaitable<core::result<space_info>> {
              auto out = co_await r->reembed_space(w, std::move(id), "tiny-embed");
              co_return out;
            }(svc_.get(), reader_, s->id))
                .err()
                .code(),
            core::errc::not_found);
  auto changed = run([](rag_service* r, requester w, std::string id) -> asio::awaitable<core::result<space_info>> {
    auto out = co_await r->reembed_space(w, std::move(id), "tiny-embed");
    co_return out;
  }(svc_.get(), owner_, s->id));
  ASSERT_TRUE(changed.ok()) << changed.err().message();
  EXPECT_EQ(changed->dimensions, 64);
  EXPECT_EQ(svc_->get_space(owner_, s->id)->embedding_model, "tiny-embed");
  auto request = ask(s->id, "Haustiere");
  request.mode = search_mode::vector;
  auto hits = search(owner_, request);
  ASSERT_TRUE(hits.ok()) << hits.err().message();
  EXPECT_EQ(hits->front().source.page, 4);
  EXPECT_TRUE(index(owner_, s->id, rules()).ok());  // new documents use the new model
}

TEST_P(rag_service_test, a_rerank_model_reorders_the_candidates) {
  auto s = svc_->create_space(owner_, "Wohnen", "", "");
  ASSERT_TRUE(index(owner_, s->id, contract()).ok());
  ASSERT_TRUE(index(owner_, s->id, rules()).ok());
  // The scripted reranker scores a document 0.9 when it contains the query verbatim.
  auto request = ask(s->id, "Nachtruhe");
  request.mode = search_mode::vector;
  request.rerank_model = "scripted-rerank";
  auto hits = search(owner_, request);
  ASSERT_TRUE(hits.ok()) << hits.err().message();
  ASSERT_FALSE(hits->empty());
  EXPECT_EQ(hits->front().source.document_id, "ho-1");
  EXPECT_DOUBLE_EQ(hits->front().score, 0.9);
  request.rerank_model = "wattos-embed";  // cannot rerank
  EXPECT_EQ(search(owner_, request).err().code(), core::errc::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(backends, rag_service_test, ::testing::Values("sqlite", "postgres"),
                         infra::db::testing::backend_name);

}  // namespace
}  // namespace wattos::streams::rag
