// File: streams/rag/bm25.hpp
//
// An in-memory BM25 index over analysed terms (Okapi BM25 with k1 = 0.9, b = 0.4,
// the Anserini/Lucene defaults used by the BEIR baselines), keyed by a 64-bit chunk
// key. Adding a key that exists replaces it; removing is immediate (postings of
// removed keys are skipped and compacted once they make up a quarter of a list).
//
// Thread safety: concurrent searches are safe; add/remove need exclusive access
// (the owner holds a shared_mutex).
//
// Example:
//   rag::bm25_index index;
//   index.add(42, analyzer.document_terms(chunk_text));
//   auto hits = index.search(analyzer.query_terms("Kündigungsfrist"), 10);
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

namespace wattos::streams::rag {

struct scored_key {
  std::uint64_t key = 0;
  double score = 0;
};

struct bm25_params {
  double k1 = 0.9;
  double b = 0.4;
};

class bm25_index {
 public:
  explicit bm25_index(bm25_params params = {}) : params_(params) {}

  void add(std::uint64_t key, const std::vector<std::string>& terms);
  void remove(std::uint64_t key);
  bool contains(std::uint64_t key) const { return ordinal_of_.count(key) != 0; }
  std::size_t size() const noexcept { return ordinal_of_.size(); }

  // The k best keys for the query terms (repeated query terms count once), best first;
  // `allow` (optional) filters keys.
  std::vector<scored_key> search(const std::vector<std::string>& query_terms, std::size_t k,
                                 const std::function<bool(std::uint64_t)>& allow = {}) const;

  // The query terms that occur in the chunk (for explanations and snippets).
  std::vector<std::string> matched_terms(std::uint64_t key, const std::vector<std::string>& query_terms) const;

 private:
  // Documents are numbered densely (ordinals), so a search accumulates scores in an
  // array instead of a hash map; removed ordinals stay dead until their postings are
  // compacted away.
  struct posting {
    std::uint32_t ordinal;
    std::uint32_t tf;
  };
  struct doc_slot {
    std::uint64_t key = 0;
    std::uint32_t length = 0;
    bool alive = false;
    std::vector<std::string> terms;  // distinct terms, for removal and matched_terms
  };
  void compact(const std::string& term);

  bm25_params params_;
  std::unordered_map<std::string, std::vector<posting>> postings_;
  std::unordered_map<std::string, std::size_t> stale_;  // removed postings per term, not yet compacted
  std::vector<doc_slot> docs_;                           // by ordinal
  std::unordered_map<std::uint64_t, std::uint32_t> ordinal_of_;
  std::uint64_t total_length_ = 0;
};

}  // namespace wattos::streams::rag
