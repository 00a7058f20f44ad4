// Lexical retrieval at scale: N synthetic chunks (40 words each, drawn from a Zipf
// distribution over a 20,000-word vocabulary, as in rag_bench) in WattOS's BM25 index and,
// as the peer, in Xapian (a glass database on disk, BM25 with the same k1 and b), fed the
// same analysed terms. Queries are 6 Zipf words, so most hold common terms with long
// posting lists: the hard case for pruning. Reports p50/p95/p99 of the top 10 and the top
// 100 (the depth hybrid search asks for), the exhaustive scoring as the unpruned
// reference (the pruned top 100 must equal it in every key and score), and how much of
// Xapian's top 10 ours shares (its idf formula differs a little, so a share near 1 says
// both rank alike).
// Usage: bm25_bench N [QUERIES] [--no-peer]   (--no-peer: ours only, for profiling)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "streams/rag/analyzer.hpp"
#include "streams/rag/bm25.hpp"
#include "synthetic_text.hpp"

#ifdef WATTOS_BENCH_XAPIAN
#include <xapian.h>
#endif

using namespace wattos::streams::rag;
using clock_type = std::chrono::steady_clock;
using wattos::bench::percentile;

namespace {

template <typename F>
double time_ms(F&& f) {
  const auto t0 = clock_type::now();
  f();
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

void report(const char* name, const std::vector<double>& ms) {
  std::printf("%s_p50_ms=%.3f %s_p95_ms=%.3f %s_p99_ms=%.3f ", name, percentile(ms, 0.5), name, percentile(ms, 0.95),
              name, percentile(ms, 0.99));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bm25_bench N [QUERIES] [--no-peer]\n");
    return 2;
  }
  const std::size_t n = std::strtoull(argv[1], nullptr, 10);
  const std::size_t queries = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 500;
  [[maybe_unused]] const bool with_peer = !(argc > 3 && std::string(argv[3]) == "--no-peer");
  std::mt19937_64 rng(42);
  wattos::bench::zipf_text text(rng);
  analyzer text_analyzer(nullptr);

  bm25_index index;
  double build_s = 0;
#ifdef WATTOS_BENCH_XAPIAN
  const auto xapian_dir = std::filesystem::temp_directory_path() / ("bm25_bench_xapian_" + std::to_string(getpid()));
  double xapian_build_s = 0;
  {
    Xapian::WritableDatabase db(xapian_dir.string(), Xapian::DB_CREATE_OR_OVERWRITE);
#endif
    for (std::size_t i = 0; i < n; ++i) {
      const auto terms = text_analyzer.document_terms(text.words(40), language::english);
      build_s += time_ms([&] { index.add(i, terms); }) / 1000.0;
#ifdef WATTOS_BENCH_XAPIAN
      if (with_peer)
        xapian_build_s += time_ms([&] {
                            Xapian::Document doc;
                            for (const auto& t : terms) doc.add_term(t);
                            doc.add_value(0, std::to_string(i));
                            db.add_document(doc);
                          }) /
                          1000.0;
#endif
    }
#ifdef WATTOS_BENCH_XAPIAN
    xapian_build_s += time_ms([&] { db.commit(); }) / 1000.0;
  }
  Xapian::Database xapian_db(xapian_dir.string());
  Xapian::Enquire enquire(xapian_db);
  enquire.set_weighting_scheme(Xapian::BM25Weight(0.9, 0, 1, 0.4, 0.5));
#endif

  std::vector<double> top10_ms, top100_ms, exhaustive_ms, xapian10_ms, xapian100_ms;
  [[maybe_unused]] double shared_with_xapian = 0;  // read only when built with Xapian
  std::size_t mismatches = 0;
  for (std::size_t q = 0; q < queries; ++q) {
    const auto terms = text_analyzer.query_terms(text.words(6));
    std::vector<scored_key> top10, top100, reference;
    top10_ms.push_back(time_ms([&] { top10 = index.search(terms, 10); }));
    top100_ms.push_back(time_ms([&] { top100 = index.search(terms, 100); }));
    exhaustive_ms.push_back(time_ms([&] { reference = index.search_exhaustive(terms, 100); }));
    if (top100.size() != reference.size() ||
        !std::equal(top100.begin(), top100.end(), reference.begin(),
                    [](const scored_key& a, const scored_key& b) { return a.key == b.key && a.score == b.score; }))
      ++mismatches;
#ifdef WATTOS_BENCH_XAPIAN
    if (!with_peer) continue;
    const Xapian::Query query(Xapian::Query::OP_OR, terms.begin(), terms.end());
    enquire.set_query(query);
    Xapian::MSet mset10;
    xapian10_ms.push_back(time_ms([&] { mset10 = enquire.get_mset(0, 10); }));
    xapian100_ms.push_back(time_ms([&] { (void)enquire.get_mset(0, 100); }));
    std::unordered_set<std::uint64_t> ours;
    for (const auto& h : top10) ours.insert(h.key);
    std::size_t shared = 0;
    for (auto it = mset10.begin(); it != mset10.end(); ++it)
      shared += ours.count(std::stoull(it.get_document().get_value(0)));
    shared_with_xapian += mset10.empty() ? 1.0 : static_cast<double>(shared) / static_cast<double>(mset10.size());
#endif
  }
  std::printf("chunks=%zu queries=%zu build_per_s=%.0f ", n, queries, static_cast<double>(n) / build_s);
  report("top10", top10_ms);
  report("top100", top100_ms);
  report("exhaustive100", exhaustive_ms);
#ifdef WATTOS_BENCH_XAPIAN
  if (with_peer) {
    std::printf("xapian_build_per_s=%.0f ", static_cast<double>(n) / xapian_build_s);
    report("xapian10", xapian10_ms);
    report("xapian100", xapian100_ms);
    std::printf("top10_shared_with_xapian=%.3f ", shared_with_xapian / static_cast<double>(queries));
  }
  std::filesystem::remove_all(xapian_dir);
#endif
  std::printf("pruned_differs_from_exhaustive=%zu\n", mismatches);
  return mismatches == 0 ? 0 : 1;
}
