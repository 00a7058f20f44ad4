#include "app/eval_command.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "infra/llm/embedder.hpp"
#include "streams/rag/evaluation.hpp"
#include "streams/rag/retriever.hpp"

namespace wattos::app {

namespace rag = streams::rag;

namespace {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int eval_retrieval(const eval_retrieval_args& args) {
  auto corpus = rag::read_corpus(args.corpus);
  auto queries = rag::read_queries(args.queries);
  auto judgements = rag::read_qrels(args.qrels);
  const core::error* failed = !corpus       ? &corpus.err()
                              : !queries    ? &queries.err()
                              : !judgements ? &judgements.err()
                                            : nullptr;
  if (failed != nullptr) {
    std::fprintf(stderr, "eval: %s\n", failed->message().c_str());
    return 2;
  }
  std::vector<rag::search_mode> modes;
  for (const auto& name : args.modes) {
    auto mode = rag::parse_search_mode(name);
    if (!mode) {
      std::fprintf(stderr, "eval: %s\n", mode.err().message().c_str());
      return 2;
    }
    modes.push_back(*mode);
  }

  infra::llm::hashed_embedder embedder(args.dimensions);
  std::unique_ptr<rag::vector_index> index;
  if (args.index == "exact") {
    index = rag::make_exact_index(args.dimensions);
  } else {
    auto opened = rag::open_hnsw_index({}, args.dimensions);
    if (!opened) {
      std::fprintf(stderr, "eval: %s\n", opened.err().message().c_str());
      return 1;
    }
    index = std::move(*opened);
  }
  auto collection = std::make_unique<rag::retriever>(std::move(index));
  const auto build_start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < corpus->size(); ++i) {
    const auto& doc = (*corpus)[i];
    const std::string text = doc.title.empty() ? doc.text : doc.title + ". " + doc.text;
    auto v = embedder.embed(text);
    if (auto st = collection->add(i, text, v); !st.ok()) {
      // An empty document has no vector; it simply cannot be found.
      continue;
    }
  }
  // Document frequencies of the embedder's stems: queries are weighted by IDF.
  std::unordered_map<std::string, double> df;
  for (const auto& doc : *corpus) {
    for (auto& stem : infra::llm::hashed_embedder::word_stems(doc.title + ". " + doc.text)) df[stem] += 1;
  }
  const double n_docs = static_cast<double>(corpus->size());
  infra::llm::hashed_embedder::word_weight idf = [&](std::string_view stem) {
    auto it = df.find(std::string(stem));
    const double d = it == df.end() ? 0.0 : it->second;
    return std::log(1.0 + (n_docs - d + 0.5) / (d + 0.5));
  };
  const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - build_start).count();

  std::vector<rag::eval_report> reports;
  for (auto mode : modes) {
    rag::eval_report report;
    report.mode = std::string(rag::search_mode_name(mode));
    std::vector<double> latencies;
    for (const auto& q : *queries) {
      auto relevant = judgements->find(q.id);
      if (relevant == judgements->end()) continue;  // BEIR scores judged queries only
      const auto start = std::chrono::steady_clock::now();
      std::vector<float> qv;
      if (mode != rag::search_mode::lexical) qv = args.query_idf ? embedder.embed(q.text, idf) : embedder.embed(q.text);
      rag::retrieval_options options;
      options.prf_docs = static_cast<std::size_t>(args.prf_docs);
      auto hits = collection->search(q.text, qv, mode, 100, {}, options);
      latencies.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      std::vector<std::string> ranked;
      ranked.reserve(hits.size());
      for (const auto& h : hits) ranked.push_back((*corpus)[h.key].id);
      auto s = rag::score_ranking(ranked, relevant->second);
      report.ndcg_at_10 += s.ndcg_at_10;
      report.recall_at_100 += s.recall_at_100;
      report.mrr_at_10 += s.mrr_at_10;
      ++report.queries;
    }
    if (report.queries > 0) {
      const double n = static_cast<double>(report.queries);
      report.ndcg_at_10 /= n;
      report.recall_at_100 /= n;
      report.mrr_at_10 /= n;
    }
    report.latency_p50_ms = percentile(latencies, 0.50);
    report.latency_p95_ms = percentile(latencies, 0.95);
    report.latency_p99_ms = percentile(latencies, 0.99);
    reports.push_back(report);
  }

  if (args.json) {
    boost::json::array out;
    for (const auto& r : reports) {
      out.push_back(boost::json::object{{"mode", r.mode},
                                        {"queries", r.queries},
                                        {"ndcg_at_10", r.ndcg_at_10},
                                        {"recall_at_100", r.recall_at_100},
                                        {"mrr_at_10", r.mrr_at_10},
                                        {"latency_p50_ms", r.latency_p50_ms},
                                        {"latency_p95_ms", r.latency_p95_ms},
                                        {"latency_p99_ms", r.latency_p99_ms}});
    }
    std::printf("%s\n", boost::json::serialize(out).c_str());
    return 0;
  }
  std::printf(
      "corpus %zu documents, %zu queries judged; index %s (%d dimensions, wattos-embed), query IDF %s, "
      "vector feedback from %d lexical hits; built in %.1f s\n",
      corpus->size(), reports.empty() ? std::size_t{0} : reports.front().queries, args.index.c_str(), args.dimensions,
      args.query_idf ? "on" : "off", args.prf_docs, build_s);
  std::printf("| mode | nDCG@10 | Recall@100 | MRR@10 | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|---|---|\n");
  for (const auto& r : reports) {
    std::printf("| %s | %.3f | %.3f | %.3f | %.2f | %.2f | %.2f |\n", r.mode.c_str(), r.ndcg_at_10, r.recall_at_100,
                r.mrr_at_10, r.latency_p50_ms, r.latency_p95_ms, r.latency_p99_ms);
  }
  return 0;
}

}  // namespace wattos::app
