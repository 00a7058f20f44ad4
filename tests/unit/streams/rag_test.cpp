// Retrieval building blocks: analysis, BM25, the vector index conformance suite (run
// against the exact and the HNSW index), fusion, and the evaluation readers/metrics.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "core/id.hpp"
#include "infra/llm/embedder.hpp"
#include "streams/rag/analyzer.hpp"
#include "streams/rag/bm25.hpp"
#include "streams/rag/compounds.hpp"
#include "streams/rag/evaluation.hpp"
#include "streams/rag/hybrid.hpp"
#include "streams/rag/retriever.hpp"
#include "streams/rag/vector_index.hpp"

namespace wattos::streams::rag {
namespace {

TEST(analyzer, folds_drops_stop_words_and_stems_by_language) {
  analyzer a(nullptr);  // compounds kept whole (tested below)
  auto de = a.document_terms("Die Kündigungsfristen der Mietverträge", language::german);
  EXPECT_EQ(de, (std::vector<std::string>{"kundigungsfrist", "mietvertrag"}));
  EXPECT_EQ(stem("maeuse", language::german), stem("maus", language::german));
  // Spelled with or without umlauts, a word meets itself.
  EXPECT_EQ(a.document_terms("Kuendigungsfristen", language::german),
            a.document_terms("Kündigungsfristen", language::german));
  auto en = a.document_terms("The running patients were treated", language::english);
  EXPECT_EQ(en, (std::vector<std::string>{"run", "patient", "treat"}));
  // Auto-detection picks German for German text.
  EXPECT_EQ(a.document_terms("Die Verträge und die Fristen sind gültig"),
            a.document_terms("Die Verträge und die Fristen sind gültig", language::german));
  // A query gets both languages' stems.
  auto q = a.query_terms("Verträge");
  EXPECT_NE(std::find(q.begin(), q.end(), "vertrag"), q.end());
  EXPECT_TRUE(a.query_terms("the and der die").empty());
}

TEST(compounds, splits_at_linking_elements_and_keeps_known_words_whole) {
  auto splitter = compound_splitter::from_words({"Kündigung", "Frist", "Fristen", "Miete", "Vertrag", "Verträge",
                                                 "Verb", "Raucher", "Verbraucher", "Schutz", "Gesetz", "Arbeit", "Bund",
                                                 "Land", "Kündigungsfrist", "Haus", "Tür"});
  EXPECT_EQ(splitter->split("kuendigungsfristen"), (std::vector<std::string>{"kuendigung", "fristen"}));
  // Known whole, but marked by the linking -s: split.
  EXPECT_EQ(splitter->split("kuendigungsfrist"), (std::vector<std::string>{"kuendigung", "frist"}));
  EXPECT_EQ(splitter->split("mietvertraege"), (std::vector<std::string>{"miete", "vertraege"}));  // Miet(e)-
  EXPECT_EQ(splitter->split("bundesland"), (std::vector<std::string>{"bund", "land"}));
  // Three parts: the modifier is split once more.
  EXPECT_EQ(splitter->split("verbraucherschutzgesetz"), (std::vector<std::string>{"verbraucher", "schutz", "gesetz"}));
  // A known word whose only split is unmarked with a short part stays whole.
  EXPECT_TRUE(splitter->split("verbraucher").empty());
  // Too short, unknown parts, or not a compound.
  EXPECT_EQ(splitter->split("haustuer"), (std::vector<std::string>{"haus", "tuer"}));
  EXPECT_TRUE(splitter->split("haustor").empty());  // under 8 letters
  EXPECT_TRUE(splitter->split("quantenphysik").empty());
  EXPECT_TRUE(splitter->split("").empty());
  EXPECT_TRUE(splitter->split(std::string(500, 'a')).empty());

  // In the analyzer: German documents and all queries get the parts' stems too.
  analyzer a(splitter.get());
  auto doc = a.document_terms("Die Kündigungsfristen der Mietverträge", language::german);
  // (Snowball stems the part "Kündigung" as it stems the word alone: "kundig".)
  EXPECT_EQ(doc, (std::vector<std::string>{"kundigungsfrist", "kundig", "frist", "mietvertrag", "miet", "vertrag"}));
  auto english = a.document_terms("Kündigungsfristen apply", language::english);  // English text: kept whole
  EXPECT_EQ(std::count(english.begin(), english.end(), "frist"), 0);
  auto query = a.query_terms("Frist Kündigung");
  bm25_index index;
  index.add(1, doc);
  index.add(2, a.document_terms("Die Miete wird monatlich gezahlt", language::german));
  auto hits = index.search(query, 10);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].key, 1u);
}

// Debian's German word list (wngerman, installed by scripts/deps.sh): the splitter
// finds the parts of real compounds and leaves ordinary words alone.
TEST(compounds, splits_real_compounds_with_the_debian_word_list) {
  auto splitter = compound_splitter::from_word_list("/usr/share/dict/ngerman");
  ASSERT_TRUE(splitter) << splitter.err().message() << " (scripts/deps.sh installs wngerman)";
  EXPECT_GT((*splitter)->size(), 100000u);
  EXPECT_EQ((*splitter)->split("kuendigungsfristen"), (std::vector<std::string>{"kuendigung", "fristen"}));
  // The modifier is a word of its own: not split further.
  EXPECT_EQ((*splitter)->split("datenschutzbeauftragte"), (std::vector<std::string>{"datenschutz", "beauftragte"}));
  EXPECT_EQ((*splitter)->split("arbeitsvertrag"), (std::vector<std::string>{"arbeit", "vertrag"}));
  EXPECT_TRUE((*splitter)->split("verbraucher").empty());
  EXPECT_TRUE((*splitter)->split("vereinbarung").empty());
  EXPECT_TRUE((*splitter)->split("information").empty());
}

TEST(bm25, ranks_by_term_rarity_and_handles_replace_and_remove) {
  analyzer a;
  bm25_index index;
  index.add(1, a.document_terms("cats purr and cats sleep", language::english));
  index.add(2, a.document_terms("dogs bark loudly", language::english));
  index.add(3, a.document_terms("cats and dogs are pets", language::english));
  auto hits = index.search(a.query_terms("purrs cats"), 10);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].key, 1u);
  EXPECT_EQ(hits[1].key, 3u);
  EXPECT_EQ(index.matched_terms(1, a.query_terms("purrs cats")), (std::vector<std::string>{"purr", "cat"}));

  index.add(1, a.document_terms("birds sing", language::english));  // replaced
  hits = index.search(a.query_terms("cats"), 10);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].key, 3u);
  index.remove(3);
  EXPECT_TRUE(index.search(a.query_terms("cats"), 10).empty());
  EXPECT_EQ(index.size(), 2u);
  // A filter keeps only allowed keys; k bounds the answer.
  hits = index.search(a.query_terms("dogs birds"), 1, [](std::uint64_t k) { return k == 1; });
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].key, 1u);
}

TEST(bm25, many_removals_compact_the_postings_without_changing_results) {
  bm25_index index;
  for (std::uint64_t k = 0; k < 200; ++k) index.add(k, {"common", "t" + std::to_string(k % 10)});
  for (std::uint64_t k = 0; k < 190; ++k) index.remove(k);
  auto hits = index.search({"common"}, 100);
  EXPECT_EQ(hits.size(), 10u);
  for (const auto& h : hits) EXPECT_GE(h.key, 190u);
}

// Runs `queries` through the pruned and the exhaustive search at several depths, with
// and without a filter, and expects the same keys, order and scores; returns how many
// hits were compared.
std::size_t expect_pruned_equals_exhaustive(const bm25_index& index,
                                            const std::vector<std::vector<std::string>>& queries,
                                            const std::string& context) {
  std::size_t compared = 0;
  for (std::size_t q = 0; q < queries.size(); ++q) {
    for (std::size_t k : {1u, 10u, 100u, 1000u}) {
      std::function<bool(std::uint64_t)> allow;
      if (q % 3 == 1) allow = [](std::uint64_t key) { return key % 5 != 0; };
      const auto pruned = index.search(queries[q], k, allow);
      const auto exhaustive = index.search_exhaustive(queries[q], k, allow);
      EXPECT_EQ(pruned.size(), exhaustive.size()) << context << " query " << q << " k " << k;
      if (pruned.size() != exhaustive.size()) return compared;
      for (std::size_t i = 0; i < pruned.size(); ++i) {
        EXPECT_EQ(pruned[i].key, exhaustive[i].key) << context << " query " << q << " k " << k << " rank " << i;
        EXPECT_EQ(pruned[i].score, exhaustive[i].score) << context << " query " << q << " k " << k << " rank " << i;
        if (pruned[i].key != exhaustive[i].key || pruned[i].score != exhaustive[i].score) return compared;
        if (allow) {
          EXPECT_TRUE(allow(pruned[i].key));
        }
      }
      compared += pruned.size();
    }
  }
  return compared;
}

// Words over a skewed vocabulary: a few terms in nearly every document (lists of many
// blocks), most rare (lists of one block).
class zipf_words {
 public:
  zipf_words(std::uint64_t seed, std::size_t vocabulary) : rng_(seed) {
    std::vector<double> weights(vocabulary);
    for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = 1.0 / static_cast<double>(i + 1);
    zipf_ = std::discrete_distribution<std::size_t>(weights.begin(), weights.end());
  }
  std::vector<std::string> operator()(std::size_t n) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n; ++i) out.push_back("t" + std::to_string(zipf_(rng_)));
    return out;
  }
  std::size_t uniform(std::size_t low, std::size_t high) {
    return std::uniform_int_distribution<std::size_t>(low, high)(rng_);
  }

 private:
  std::mt19937_64 rng_;
  std::discrete_distribution<std::size_t> zipf_;
};

// Queries of 1 to 8 words; some repeat a word (it counts once) or hold unknown words.
std::vector<std::vector<std::string>> random_queries(zipf_words& words, std::size_t count) {
  std::vector<std::vector<std::string>> out;
  for (std::size_t q = 0; q < count; ++q) {
    auto query = words(1 + q % 8);
    if (q % 4 == 0) query.push_back(query.front());
    if (q % 5 == 0) query.insert(query.begin() + static_cast<std::ptrdiff_t>(q % query.size()), "unknownword");
    out.push_back(std::move(query));
  }
  return out;
}

// The pruned search must answer exactly what scoring every posting answers: random
// documents, random queries, filters, removals, replacements and re-adds, k up to 1000.
TEST(bm25, pruned_search_equals_exhaustive_scoring) {
  zipf_words words(7, 2000);
  bm25_index index;
  for (std::uint64_t key = 0; key < 6000; ++key) index.add(key, words(words.uniform(1, 60)));
  for (std::uint64_t key = 0; key < 6000; key += 7) index.remove(key);
  for (std::uint64_t key = 3; key < 6000; key += 11) index.add(key, words(words.uniform(1, 60)));  // replaced
  for (std::uint64_t key = 0; key < 6000; key += 49) index.add(key, words(words.uniform(1, 60)));  // re-added
  const auto queries = random_queries(words, 300);
  EXPECT_GT(expect_pruned_equals_exhaustive(index, queries, "churned"), 100000u);  // the queries found something
  EXPECT_TRUE(index.search({"unknownword"}, 10).empty());
  EXPECT_TRUE(index.search({}, 10).empty());
  EXPECT_TRUE(index.search(queries[1], 0).empty());
}

// Block bounds are computed at a reference average length; documents that raise the
// average (here long ones of one repeated word: few postings, so no recomputation
// is due) let every other document's term scores grow past them. The search must
// allow for that, and again after the bounds were recomputed.
TEST(bm25, block_bounds_hold_while_the_average_length_grows) {
  zipf_words words(11, 500);
  bm25_index index;
  for (std::uint64_t key = 0; key < 3000; ++key) index.add(key, words(words.uniform(20, 40)));
  auto queries = random_queries(words, 200);
  queries.push_back({"padding"});
  queries.push_back({"t3", "padding", "t40"});
  const std::vector<std::string> padding(6000, "padding");
  std::uint64_t pad_key = 1'000'000;
  for (int round = 1; round <= 30; ++round) {
    index.add(pad_key++, padding);  // the average grows by about 7 % of its start each
    if (round % 10 == 0) expect_pruned_equals_exhaustive(index, queries, "round " + std::to_string(round));
  }
  // Many postings later the bounds are recomputed at the grown average.
  for (std::uint64_t key = 3000; key < 4000; ++key) index.add(key, words(words.uniform(20, 40)));
  expect_pruned_equals_exhaustive(index, queries, "after new documents");
  // The average falls back: the scores shrink below the bounds.
  while (pad_key-- > 1'000'000) index.remove(pad_key);
  EXPECT_GT(expect_pruned_equals_exhaustive(index, queries, "padding removed"), 10000u);
}

// Lists of many blocks under churn: compaction and renumbering move the block
// boundaries, and stale bounds of removed documents stay on until then.
TEST(bm25, pruned_search_equals_exhaustive_through_compaction_and_renumbering) {
  zipf_words words(13, 300);
  bm25_index index;
  for (std::uint64_t key = 0; key < 4000; ++key) index.add(key, words(words.uniform(5, 30)));
  const auto queries = random_queries(words, 60);
  // A fifth removed: below the renumbering mark, so their postings stay with tf 0 (or
  // are compacted where a list lost a quarter).
  for (std::uint64_t key = 0; key < 4000; key += 5) index.remove(key);
  EXPECT_EQ(index.slots(), 4000u);
  expect_pruned_equals_exhaustive(index, queries, "removed a fifth");
  for (std::uint64_t key = 1; key < 4000; key += 5) index.remove(key);  // renumbers
  EXPECT_LT(index.slots(), 4000u);
  expect_pruned_equals_exhaustive(index, queries, "renumbered");
  for (std::uint64_t key = 0; key < 4000; key += 2) index.add(key, words(words.uniform(5, 30)));
  EXPECT_GT(expect_pruned_equals_exhaustive(index, queries, "re-added"), 10000u);
}

// Postings keep tf and length in 16 bits: a chunk far beyond any real one saturates
// them and still ranks consistently (its score bound holds, pruned = exhaustive).
TEST(bm25, oversized_chunks_saturate_their_tf_and_length) {
  bm25_index index;
  std::vector<std::string> huge(70000, "flood");
  huge.push_back("rare");
  index.add(1, huge);
  index.add(2, {"flood", "rare", "other"});
  for (std::uint64_t key = 3; key < 50; ++key) index.add(key, {"filler", "t" + std::to_string(key)});
  for (const auto& query : {std::vector<std::string>{"flood"}, std::vector<std::string>{"rare", "flood"}}) {
    const auto pruned = index.search(query, 1);
    const auto exhaustive = index.search_exhaustive(query, 1);
    ASSERT_EQ(pruned.size(), 1u);
    ASSERT_EQ(exhaustive.size(), 1u);
    EXPECT_EQ(pruned[0].key, exhaustive[0].key);
    EXPECT_EQ(pruned[0].score, exhaustive[0].score);
    EXPECT_GT(pruned[0].score, 0.0);
  }
  // The short chunk with both terms outranks the long one with a saturated tf.
  EXPECT_EQ(index.search({"rare", "flood"}, 1)[0].key, 2u);
  index.remove(1);
  EXPECT_EQ(index.search({"flood"}, 10).size(), 1u);
}

// Churn does not grow the index: dead document slots are reclaimed.
TEST(bm25, replacing_documents_reuses_their_slots) {
  bm25_index index;
  for (int round = 0; round < 50; ++round) {
    for (std::uint64_t key = 0; key < 1000; ++key) index.add(key, {"common", "t" + std::to_string((key + round) % 50)});
  }
  EXPECT_EQ(index.size(), 1000u);
  EXPECT_LE(index.slots(), 2500u);
  auto hits = index.search({"t7"}, 1000);
  EXPECT_EQ(hits.size(), 20u);  // keys with (key + 49) % 50 == 7
  for (const auto& h : hits) EXPECT_EQ((h.key + 49) % 50, 7u);
  EXPECT_EQ(index.matched_terms(hits[0].key, {"t7", "common", "absent"}), (std::vector<std::string>{"t7", "common"}));
}

// The vector index conformance suite: every backend passes the same cases.
class vector_index_conformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "pgvector" && std::getenv("WATTOS_TEST_PGVECTOR_URL") == nullptr) {
      const char* required = std::getenv("WATTOS_TEST_REQUIRE_SERVERS");
      if (required != nullptr && std::string_view(required) == "1") {
        FAIL() << "WATTOS_TEST_PGVECTOR_URL is not set but WATTOS_TEST_REQUIRE_SERVERS=1";
      }
      GTEST_SKIP() << "pgvector backend: WATTOS_TEST_PGVECTOR_URL is not set (scripts/test.sh sets it)";
    }
    dir_ = std::filesystem::temp_directory_path() / ("wattos-vec-" + core::random_hex(6));
    std::filesystem::create_directories(dir_);
    index_ = open(4);
  }
  void TearDown() override {
    index_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<vector_index> open(int dims) {
    if (GetParam() == "exact") return make_exact_index(dims);
    if (GetParam() == "pgvector") {
      const char* url = std::getenv("WATTOS_TEST_PGVECTOR_URL");
      if (table_.empty()) table_ = "vec_" + core::random_hex(6);
      auto opened = open_pgvector_index(url, table_, dims);
      if (!opened) throw std::runtime_error(opened.err().message());
      return std::move(*opened);
    }
    auto opened = open_hnsw_index(dir_ / "space.hnsw", dims, hnsw_params{.initial_capacity = 2});
    if (!opened) throw std::runtime_error(opened.err().message());
    return std::move(*opened);
  }
  std::filesystem::path dir_;
  std::string table_;
  std::unique_ptr<vector_index> index_;
};

TEST_P(vector_index_conformance, nearest_first_with_cosine_scores) {
  ASSERT_TRUE(index_->upsert(1, std::vector<float>{1, 0, 0, 0}).ok());
  ASSERT_TRUE(index_->upsert(2, std::vector<float>{0, 2, 0, 0}).ok());  // normalised on insert
  ASSERT_TRUE(index_->upsert(3, std::vector<float>{1, 1, 0, 0}).ok());
  auto hits = index_->search(std::vector<float>{0, 1, 0, 0}, 2);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].key, 2u);
  EXPECT_NEAR(hits[0].score, 1.0, 1e-5);
  EXPECT_EQ(hits[1].key, 3u);
  EXPECT_NEAR(hits[1].score, std::sqrt(0.5), 1e-5);
  EXPECT_EQ(index_->size(), 3u);
  EXPECT_NEAR(index_->vector_of(2)[1], 1.0f, 1e-6);
}

TEST_P(vector_index_conformance, replace_remove_and_filter) {
  // Vectors spread over the sphere (a graph index needs no adversarial help).
  auto spread = [](std::uint64_t k) {
    const double x = static_cast<double>(k);
    return std::vector<float>{static_cast<float>(std::sin(x)), static_cast<float>(std::cos(x)),
                              static_cast<float>(std::sin(2.3 * x)), static_cast<float>(std::cos(1.7 * x))};
  };
  for (std::uint64_t k = 0; k < 50; ++k) ASSERT_TRUE(index_->upsert(k, spread(k)).ok());  // grows past capacity
  const auto target = spread(1000);
  ASSERT_TRUE(index_->upsert(7, target).ok());  // replaced
  auto hits = index_->search(target, 1);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].key, 7u);
  EXPECT_NEAR(hits[0].score, 1.0, 1e-4);
  index_->remove(7);
  EXPECT_FALSE(index_->contains(7));
  hits = index_->search(target, 3);
  for (const auto& h : hits) EXPECT_NE(h.key, 7u);
  // A selective filter still yields k results, best first.
  hits = index_->search(std::vector<float>{1, 0, 0, 0}, 2, [](std::uint64_t k) { return k == 40 || k == 41; });
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].key + hits[1].key, 81u);
  EXPECT_GE(hits[0].score, hits[1].score);
  // Removed then re-added.
  ASSERT_TRUE(index_->upsert(7, spread(7)).ok());
  EXPECT_TRUE(index_->contains(7));
  EXPECT_EQ(index_->size(), 50u);
}

TEST_P(vector_index_conformance, bad_vectors_are_refused) {
  EXPECT_EQ(index_->upsert(1, std::vector<float>{1, 0, 0}).err().code(), core::errc::invalid_argument);
  EXPECT_EQ(index_->upsert(1, std::vector<float>{0, 0, 0, 0}).err().code(), core::errc::invalid_argument);
  EXPECT_TRUE(index_->search(std::vector<float>{1, 0}, 3).empty());
  EXPECT_TRUE(index_->search(std::vector<float>{1, 0, 0, 0}, 3).empty());
}

TEST_P(vector_index_conformance, persists_across_reopen) {
  if (GetParam() == "exact") GTEST_SKIP() << "the exact index is in memory only, by design";
  if (GetParam() == "pgvector") {
    ASSERT_TRUE(index_->upsert(1, std::vector<float>{1, 0, 0, 0}).ok());
    index_ = open(4);  // durable at each write
    EXPECT_TRUE(index_->contains(1));
    const char* url = std::getenv("WATTOS_TEST_PGVECTOR_URL");
    auto wrong = open_pgvector_index(url, table_, 8);
    ASSERT_FALSE(wrong.ok());
    EXPECT_EQ(wrong.err().code(), core::errc::failed_precondition);
    EXPECT_EQ(open_pgvector_index(url, "bad-name; DROP", 4).err().code(), core::errc::invalid_argument);
    return;
  }
  ASSERT_TRUE(index_->upsert(1, std::vector<float>{1, 0, 0, 0}).ok());
  ASSERT_TRUE(index_->upsert(2, std::vector<float>{0, 1, 0, 0}).ok());
  index_->remove(2);
  ASSERT_TRUE(index_->save().ok());
  index_ = open(4);
  EXPECT_EQ(index_->size(), 1u);
  EXPECT_TRUE(index_->contains(1));
  EXPECT_FALSE(index_->contains(2));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "space.hnsw.tmp"));
  // A file of other dimensions is reported, not misread.
  auto wrong = open_hnsw_index(dir_ / "space.hnsw", 8);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.err().code(), core::errc::failed_precondition);
  // A truncated file is refused before hnswlib reads it.
  index_.reset();
  std::filesystem::resize_file(dir_ / "space.hnsw", std::filesystem::file_size(dir_ / "space.hnsw") / 2);
  auto truncated = open_hnsw_index(dir_ / "space.hnsw", 4);
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.err().code(), core::errc::unavailable);
}

INSTANTIATE_TEST_SUITE_P(backends, vector_index_conformance, ::testing::Values("exact", "hnsw", "pgvector"),
                         [](const auto& param_info) { return param_info.param; });

TEST(hybrid, reciprocal_rank_fusion_rewards_agreement) {
  std::vector<scored_key> lexical{{1, 9}, {2, 8}, {3, 7}};
  std::vector<scored_key> vector{{3, 0.9}, {4, 0.8}, {2, 0.7}};
  auto fused = reciprocal_rank_fusion({lexical, vector}, 4);
  ASSERT_EQ(fused.size(), 4u);
  EXPECT_EQ(fused[0].key, 3u);  // 1/63 + 1/61
  EXPECT_EQ(fused[1].key, 2u);  // 1/62 + 1/63
  EXPECT_NEAR(fused[0].score, 1.0 / 63 + 1.0 / 61, 1e-12);
}

TEST(hybrid, convex_combination_keeps_a_clear_lexical_margin_that_ranks_lose) {
  // BM25 puts 1 first by a clear margin; the vector list has 2, 3, 1 almost tied. By
  // ranks alone 2 wins (1/62 + 1/61 > 1/61 + 1/63); by normalised scores 1 does.
  std::vector<scored_key> lexical{{1, 10}, {2, 6}, {3, 5}, {4, 0}};
  std::vector<scored_key> vector{{2, 0.80}, {3, 0.79}, {1, 0.78}, {4, 0.10}};
  EXPECT_EQ(reciprocal_rank_fusion({lexical, vector}, 4)[0].key, 2u);
  auto fused = convex_combination({lexical, vector}, {0.5, 0.5}, 4);
  ASSERT_EQ(fused.size(), 4u);
  EXPECT_EQ(fused[0].key, 1u);
  EXPECT_NEAR(fused[0].score, 0.5 * 1.0 + 0.5 * (0.78 - 0.10) / 0.70, 1e-12);
  EXPECT_EQ(fused[1].key, 2u);
  EXPECT_NEAR(fused[1].score, 0.5 * 0.6 + 0.5 * 1.0, 1e-12);
  EXPECT_EQ(fused[3].key, 4u);
  EXPECT_NEAR(fused[3].score, 0.0, 1e-12);  // the worst of both lists scales to 0
}

TEST(hybrid, convex_combination_weights_missing_keys_and_degenerate_lists) {
  std::vector<scored_key> lexical{{1, 3}, {2, 1}};
  std::vector<scored_key> vector{{3, 0.9}, {2, 0.5}};
  // Weight 1 on one list: its order; keys only in the other list score 0 and come after.
  auto lexical_only = convex_combination({lexical, vector}, {1.0, 0.0}, 3);
  ASSERT_EQ(lexical_only.size(), 3u);
  EXPECT_EQ(lexical_only[0].key, 1u);
  EXPECT_NEAR(lexical_only[0].score, 1.0, 1e-12);
  // 2 and 3 tie at 0: broken by key.
  EXPECT_EQ(lexical_only[1].key, 2u);
  EXPECT_EQ(lexical_only[2].key, 3u);
  // A key missing from a list gets nothing from it: 2 (last in both) scores 0, 1 and 3
  // get their own list's weight.
  auto fused = convex_combination({lexical, vector}, {0.7, 0.3}, 2);
  ASSERT_EQ(fused.size(), 2u);  // at most k
  EXPECT_EQ(fused[0].key, 1u);
  EXPECT_NEAR(fused[0].score, 0.7, 1e-12);
  EXPECT_EQ(fused[1].key, 3u);
  EXPECT_NEAR(fused[1].score, 0.3, 1e-12);
  // A list of one score (or of equal scores) scales to 1; an empty list adds nothing;
  // a missing weight counts 1.
  auto single = convex_combination({{{7, 0.2}}, {}}, {}, 5);
  ASSERT_EQ(single.size(), 1u);
  EXPECT_EQ(single[0].key, 7u);
  EXPECT_NEAR(single[0].score, 1.0, 1e-12);
  EXPECT_TRUE(convex_combination({}, {}, 3).empty());
}

TEST(retriever, hybrid_fusion_method_and_lexical_weight) {
  infra::llm::hashed_embedder embedder(256);
  retriever r(make_exact_index(256));
  const std::vector<std::string> texts = {"Die Kündigungsfrist beträgt drei Monate.", "Kündigung per Brief.",
                                          "Fristen und Monate im Kalender."};
  for (std::size_t i = 0; i < texts.size(); ++i) ASSERT_TRUE(r.add(i, texts[i], embedder.embed(texts[i])).ok());
  const std::string query = "Kündigungsfrist drei Monate";
  const auto qv = embedder.embed(query);
  const auto lexical = r.search(query, qv, search_mode::lexical, 3);
  const auto vector = r.search(query, qv, search_mode::vector, 3);
  ASSERT_FALSE(lexical.empty());
  ASSERT_FALSE(vector.empty());
  retrieval_options only_lexical;
  only_lexical.lexical_weight = 1.0;
  auto hybrid = r.search(query, qv, search_mode::hybrid, 3, {}, only_lexical);
  ASSERT_FALSE(hybrid.empty());
  EXPECT_EQ(hybrid[0].key, lexical[0].key);
  EXPECT_NEAR(hybrid[0].score, 1.0, 1e-12);
  retrieval_options only_vector;
  only_vector.lexical_weight = 0.0;
  EXPECT_EQ(r.search(query, qv, search_mode::hybrid, 3, {}, only_vector)[0].key, vector[0].key);
  retrieval_options ranks;
  ranks.fusion = fusion_method::reciprocal_rank;
  auto by_rank = r.search(query, qv, search_mode::hybrid, 3, {}, ranks);
  ASSERT_FALSE(by_rank.empty());
  EXPECT_LT(by_rank[0].score, 2.0 / 61 + 1e-12);  // reciprocal-rank scores, not normalised ones
}

TEST(hybrid, mmr_skips_near_duplicates) {
  std::vector<scored_key> candidates{{1, 1.0}, {2, 0.99}, {3, 0.5}};
  auto sim = [](std::uint64_t a, std::uint64_t b) { return (a <= 2 && b <= 2) ? 0.99 : 0.0; };
  auto picked = maximal_marginal_relevance(candidates, 2, 0.5, sim);
  ASSERT_EQ(picked.size(), 2u);
  EXPECT_EQ(picked[0].key, 1u);
  EXPECT_EQ(picked[1].key, 3u);                                               // 2 is a near-duplicate of 1
  EXPECT_EQ(maximal_marginal_relevance(candidates, 2, 1.0, sim)[1].key, 2u);  // lambda 1: relevance only
}

TEST(retriever, modes_find_by_words_and_by_vectors) {
  infra::llm::hashed_embedder embedder(256);
  retriever r(make_exact_index(256));
  const std::vector<std::string> texts = {"Die Kündigungsfrist beträgt drei Monate zum Monatsende.",
                                          "Haustiere sind in der Wohnung erlaubt.",
                                          "The notice period is three months."};
  for (std::size_t i = 0; i < texts.size(); ++i) ASSERT_TRUE(r.add(i, texts[i], embedder.embed(texts[i])).ok());
  for (auto mode : {search_mode::lexical, search_mode::vector, search_mode::hybrid}) {
    auto hits = r.search("Kündigungsfrist", embedder.embed("Kündigungsfrist"), mode, 2);
    ASSERT_FALSE(hits.empty()) << search_mode_name(mode);
    EXPECT_EQ(hits[0].key, 0u) << search_mode_name(mode);
  }
  auto hybrid = r.search("Haustiere erlaubt", embedder.embed("Haustiere erlaubt"), search_mode::hybrid, 3);
  ASSERT_FALSE(hybrid.empty());
  EXPECT_EQ(hybrid[0].key, 1u);
  EXPECT_EQ(hybrid[0].lexical_rank, 1);
  EXPECT_EQ(hybrid[0].vector_rank, 1);
  EXPECT_EQ(r.matched_terms(1, "Haustiere erlaubt").size(), 2u);
  r.remove(1);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_FALSE(parse_search_mode("fuzzy").ok());
}

TEST(retriever, vector_feedback_brings_neighbours_of_the_top_lexical_hit) {
  infra::llm::hashed_embedder embedder(512);
  retriever r(make_exact_index(512));
  const std::vector<std::string> texts = {"Kündigungsfrist Mietvertrag Vermieter Wohnung",  // the lexical hit
                                          "Mietvertrag Vermieter Wohnung Nebenkosten",      // its neighbour
                                          "Fahrrad Keller Schlüssel Treppenhaus"};          // unrelated
  for (std::size_t i = 0; i < texts.size(); ++i) ASSERT_TRUE(r.add(i, texts[i], embedder.embed(texts[i])).ok());
  const auto q = embedder.embed("Kündigungsfrist");
  retrieval_options plain;
  auto without = r.search("Kündigungsfrist", q, search_mode::vector, 3, {}, plain);
  retrieval_options feedback;
  feedback.prf_docs = 1;
  auto with = r.search("Kündigungsfrist", q, search_mode::vector, 3, {}, feedback);
  ASSERT_EQ(with.size(), 3u);
  EXPECT_EQ(with[0].key, 0u);
  EXPECT_EQ(with[1].key, 1u);  // the neighbour now outranks the unrelated chunk clearly
  auto score_of = [](const std::vector<retrieval_hit>& hits, std::uint64_t key) {
    for (const auto& h : hits) {
      if (h.key == key) return h.score;
    }
    return -1.0;
  };
  EXPECT_GT(score_of(with, 1), score_of(without, 1) + 0.1);
  EXPECT_FALSE(with[0].lexical_rank.has_value());  // vector mode reports no lexical ranking
}

TEST(evaluation, csv_with_quotes_newlines_and_numpy_abstracts) {
  auto rows = parse_csv("a,b\n1,\"x, \"\"y\"\"\nz\"\n2,plain\r\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1][1], "x, \"y\"\nz");
  EXPECT_EQ(rows[2][1], "plain");

  auto dir = std::filesystem::temp_directory_path() / ("wattos-eval-" + core::random_hex(6));
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "corpus.csv")
        << "doc_id,title,abstract,structured\n"
           "7,Title A,\"['First sentence.'\n 'Second one.' \"\"It's third.\"\"]\",False\n";
    std::ofstream(dir / "claims.csv") << "id,claim,cited_doc_ids\n1,A claim,[7]\n1,A claim,[7]\n2,Other,[]\n";
    std::ofstream(dir / "qrels.tsv") << "query-id\tcorpus-id\tscore\n1\t7\t1\n";
  }
  auto corpus = read_corpus(dir / "corpus.csv");
  ASSERT_TRUE(corpus.ok()) << corpus.err().message();
  ASSERT_EQ(corpus->size(), 1u);
  EXPECT_EQ((*corpus)[0].text, "First sentence. Second one. It's third.");
  auto queries = read_queries(dir / "claims.csv");
  ASSERT_TRUE(queries.ok());
  EXPECT_EQ(queries->size(), 2u);  // the duplicate claim is read once
  auto judged = read_qrels(dir / "qrels.tsv");
  ASSERT_TRUE(judged.ok());
  EXPECT_EQ(judged->at("1"), std::set<std::string>{"7"});
  std::filesystem::remove_all(dir);
}

TEST(evaluation, metrics_match_hand_computed_values) {
  auto s = score_ranking({"a", "x", "b"}, {"a", "b"});
  const double idcg = 1.0 + 1.0 / std::log2(3.0);
  EXPECT_NEAR(s.ndcg_at_10, (1.0 + 1.0 / std::log2(4.0)) / idcg, 1e-12);
  EXPECT_DOUBLE_EQ(s.mrr_at_10, 1.0);
  EXPECT_DOUBLE_EQ(s.recall_at_100, 1.0);
  auto none = score_ranking({"x", "y"}, {"a"});
  EXPECT_EQ(none.ndcg_at_10, 0.0);
  EXPECT_EQ(none.mrr_at_10, 0.0);
  EXPECT_EQ(score_ranking({"x", "a"}, {"a"}).mrr_at_10, 0.5);
}

}  // namespace
}  // namespace wattos::streams::rag
