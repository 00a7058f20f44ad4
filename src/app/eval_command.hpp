// File: app/eval_command.hpp
//
// `wattos eval retrieval`: runs a BEIR-style retrieval evaluation (see
// streams/rag/evaluation.hpp) with the platform's own analyzer, BM25, vector index
// and built-in embedder, and prints nDCG@10, Recall@100, MRR@10 and latency per mode.
#pragma once

#include <string>
#include <vector>

namespace wattos::app {

struct eval_retrieval_args {
  std::string corpus;
  std::string queries;
  std::string qrels;
  std::vector<std::string> modes = {"lexical", "vector", "hybrid"};
  std::string index = "hnsw";  // hnsw or exact
  int dimensions = 384;
  bool json = false;
  bool query_idf = true;  // weight query embeddings by the corpus' IDF (built-in embedder)
  int prf_docs = 3;       // vector-side pseudo-relevance feedback (0: off)
};

int eval_retrieval(const eval_retrieval_args& args);

}  // namespace wattos::app
