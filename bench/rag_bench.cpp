// Retrieval at scale: builds a knowledge space of N synthetic chunks (text of 40 words
// drawn from a Zipf distribution over a 20,000-word vocabulary; a 384-d vector per
// chunk from a mixture of 1,000 Gaussian clusters, so that neighbourhoods exist), then
// reports the HNSW build rate, memory per million vectors, HNSW recall@10 against
// exact search, and p50/p95 latency of vector, lexical and hybrid search (k = 10).
// Usage: rag_bench N [QUERIES] [DIMENSIONS]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "streams/rag/retriever.hpp"
#include "synthetic_text.hpp"

#ifdef WATTOS_BENCH_FAISS
#include <faiss/IndexHNSW.h>
#include <omp.h>
#endif

using namespace wattos::streams::rag;
using clock_type = std::chrono::steady_clock;
using wattos::bench::percentile;

namespace {

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: rag_bench N [QUERIES] [DIMENSIONS]\n");
    return 2;
  }
  const std::size_t n = std::strtoull(argv[1], nullptr, 10);
  const std::size_t queries = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 200;
  const int dims = argc > 3 ? std::atoi(argv[3]) : 384;
  std::mt19937_64 rng(42);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<std::vector<float>> centers(1000, std::vector<float>(static_cast<std::size_t>(dims)));
  for (auto& c : centers)
    for (auto& x : c) x = gauss(rng);
  wattos::bench::zipf_text text(rng);
  std::uniform_int_distribution<std::size_t> pick_center(0, centers.size() - 1);
  auto make_vector = [&](std::size_t center) {
    std::vector<float> v(static_cast<std::size_t>(dims));
    for (std::size_t d = 0; d < v.size(); ++d) v[d] = centers[center][d] + 0.6f * gauss(rng);
    return v;
  };

  std::vector<std::vector<float>> vectors;
  std::vector<std::string> texts;
  vectors.reserve(n);
  texts.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    vectors.push_back(make_vector(pick_center(rng)));
    texts.push_back(text.words(40));
  }
  const long rss_before = rss_kib();
  auto hnsw = open_hnsw_index({}, dims);
  if (!hnsw) return 1;
  retriever space(std::move(*hnsw));
  const auto build_start = clock_type::now();
  for (std::size_t i = 0; i < n; ++i) (void)space.add(i, texts[i], vectors[i], language::english);
  const double build_s = std::chrono::duration<double>(clock_type::now() - build_start).count();
  const long rss_after = rss_kib();

  auto exact = make_exact_index(dims);
  for (std::size_t i = 0; i < n; ++i) (void)exact->upsert(i, vectors[i]);

  std::vector<double> vector_ms, lexical_ms, hybrid_ms;
  double recall = 0;
  for (std::size_t q = 0; q < queries; ++q) {
    auto qv = make_vector(pick_center(rng));
    auto qt = text.words(6);
    auto t0 = clock_type::now();
    auto approx = space.search(qt, qv, search_mode::vector, 10);
    auto t1 = clock_type::now();
    (void)space.search(qt, qv, search_mode::lexical, 10);
    auto t2 = clock_type::now();
    (void)space.search(qt, qv, search_mode::hybrid, 10);
    auto t3 = clock_type::now();
    vector_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    lexical_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    hybrid_ms.push_back(std::chrono::duration<double, std::milli>(t3 - t2).count());
    auto truth = exact->search(qv, 10);
    std::size_t found = 0;
    for (const auto& t : truth) {
      found += std::count_if(approx.begin(), approx.end(), [&](const retrieval_hit& h) { return h.key == t.key; });
    }
    recall += static_cast<double>(found) / static_cast<double>(truth.size());
  }
  recall /= static_cast<double>(queries);
  double faiss_build_per_s = 0, faiss_recall = 0;
  std::vector<double> faiss_ms;
#ifdef WATTOS_BENCH_FAISS
  // FAISS builds its HNSW at a few hundred vectors a second here: beyond 200,000 chunks
  // that would take hours, so the comparison stops there (its fields stay 0).
  if (n <= 200000) {
    // The same vectors, normalised, in FAISS's HNSW with the same parameters (M 16,
    // efConstruction 200, efSearch 128, inner product), one thread like ours.
    omp_set_num_threads(1);
    faiss::IndexHNSWFlat faiss_index(dims, 16, faiss::METRIC_INNER_PRODUCT);
    faiss_index.hnsw.efConstruction = 200;
    faiss_index.hnsw.efSearch = 128;
    std::vector<float> flat;
    flat.reserve(n * static_cast<std::size_t>(dims));
    for (const auto& v : vectors) {
      auto u = v;
      normalize(u);
      flat.insert(flat.end(), u.begin(), u.end());
    }
    const auto t0 = clock_type::now();
    faiss_index.add(static_cast<faiss::Index::idx_t>(n), flat.data());
    faiss_build_per_s = static_cast<double>(n) / std::chrono::duration<double>(clock_type::now() - t0).count();
    std::mt19937_64 qrng(7);
    for (std::size_t q = 0; q < queries; ++q) {
      std::vector<float> qv(static_cast<std::size_t>(dims));
      const auto& c = centers[qrng() % centers.size()];
      for (std::size_t d = 0; d < qv.size(); ++d) qv[d] = c[d] + 0.6f * gauss(qrng);
      normalize(qv);
      std::vector<float> distances(10);
      std::vector<faiss::Index::idx_t> labels(10);
      const auto s0 = clock_type::now();
      faiss_index.search(1, qv.data(), 10, distances.data(), labels.data());
      faiss_ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - s0).count());
      auto truth = exact->search(qv, 10);
      std::size_t found = 0;
      for (const auto& t : truth)
        found += std::count(labels.begin(), labels.end(), static_cast<faiss::Index::idx_t>(t.key));
      faiss_recall += static_cast<double>(found) / static_cast<double>(truth.size());
    }
    faiss_recall /= static_cast<double>(queries);
  }
#endif
  const double mib_per_million = static_cast<double>(rss_after - rss_before) / 1024.0 * (1e6 / static_cast<double>(n));
  std::printf(
      "chunks=%zu dims=%d build_per_s=%.0f mib_per_million=%.0f recall_at_10=%.3f "
      "vector_p50_ms=%.3f vector_p95_ms=%.3f lexical_p50_ms=%.3f lexical_p95_ms=%.3f "
      "hybrid_p50_ms=%.3f hybrid_p95_ms=%.3f faiss_build_per_s=%.0f faiss_recall_at_10=%.3f "
      "faiss_p50_ms=%.3f faiss_p95_ms=%.3f\n",
      n, dims, static_cast<double>(n) / build_s, mib_per_million, recall, percentile(vector_ms, 0.5),
      percentile(vector_ms, 0.95), percentile(lexical_ms, 0.5), percentile(lexical_ms, 0.95),
      percentile(hybrid_ms, 0.5), percentile(hybrid_ms, 0.95), faiss_build_per_s, faiss_recall,
      percentile(faiss_ms, 0.5), percentile(faiss_ms, 0.95));
  return 0;
}
