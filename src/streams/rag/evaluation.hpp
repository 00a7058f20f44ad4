// File: streams/rag/evaluation.hpp
//
// Retrieval evaluation in the BEIR manner: a corpus, queries, and relevance
// judgements (qrels); each query is answered in a mode (lexical, vector, hybrid) and
// scored with nDCG@10, Recall@100 and MRR@10, with per-query latency percentiles.
// Readers for the BEIR files (corpus.jsonl, queries.jsonl, qrels TSV) and for the
// AllenAI SciFact CSVs (corpus with a printed-numpy `abstract`, claims with id and
// claim) live here too. `wattos eval retrieval` drives it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace wattos::streams::rag {

struct eval_document {
  std::string id;
  std::string title;
  std::string text;
};

struct eval_query {
  std::string id;
  std::string text;
};

using qrels = std::map<std::string, std::set<std::string>>;  // query id -> relevant document ids

// By extension: .jsonl (BEIR: _id, title, text) or .csv (doc_id, title, abstract).
core::result<std::vector<eval_document>> read_corpus(const std::filesystem::path& path);
// .jsonl (BEIR: _id, text) or .csv (id, claim); duplicate ids are read once.
core::result<std::vector<eval_query>> read_queries(const std::filesystem::path& path);
// TSV with a header: query-id, corpus-id, score (score > 0 is relevant).
core::result<qrels> read_qrels(const std::filesystem::path& path);

// Splits CSV text into records of fields (RFC 4180: quoted fields may hold commas,
// quotes as "" and newlines).
std::vector<std::vector<std::string>> parse_csv(std::string_view text);

struct query_scores {
  double ndcg_at_10 = 0;
  double recall_at_100 = 0;
  double mrr_at_10 = 0;
};
// Binary relevance; `ranked` best first.
query_scores score_ranking(const std::vector<std::string>& ranked, const std::set<std::string>& relevant);

struct eval_report {
  std::string mode;
  std::size_t queries = 0;
  double ndcg_at_10 = 0;
  double recall_at_100 = 0;
  double mrr_at_10 = 0;
  double latency_p50_ms = 0;
  double latency_p95_ms = 0;
  double latency_p99_ms = 0;
};

}  // namespace wattos::streams::rag
