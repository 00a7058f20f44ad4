// File: streams/rag/bm25.hpp
//
// An in-memory BM25 index over analysed terms (Okapi BM25 with k1 = 0.9, b = 0.4,
// the Anserini/Lucene defaults used by the BEIR baselines), keyed by a 64-bit chunk
// key. Adding a key that exists replaces it; removing is immediate (postings of
// removed keys are skipped, compacted once they make up a quarter of a list, and the
// document numbers are reassigned once a quarter of them are dead, so churn does not
// grow memory).
//
// A posting carries the term frequency and the document's length (both saturate at
// 65,535, far above a chunk's size), so scoring a list reads it front to back and never
// looks a document up; a removed document's postings get tf 0 and are skipped.
//
// Search is exact top-k, document at a time, with Block-Max MaxScore pruning (Turtle &
// Flood 1995; Ding & Suel 2011; Chakrabarti et al. 2011). Every list is cut into blocks
// of 64 postings, and each block keeps its last ordinal and the best tf / (tf + norm) of
// its postings, computed at a reference average length. A search walks the lists in
// ordinal order while holding the k best so far:
//   - MaxScore: the lists whose whole-list bounds together cannot reach the k-th best
//     score are not walked; they are only looked up for documents found in the others;
//   - block-max: over a run of ordinals where every list stays in one block, the sum of
//     the block bounds is the most any document there can score; runs that cannot reach
//     the k-th best are skipped whole, and a document's lookups in the non-walked lists
//     stop once its exact partial score plus their block bounds falls short.
// A bound must never be below a real score, also when the average length moves: a
// term's score can then grow at most by the factor (average / reference), and the search
// scales the bounds by it. Once the average has moved by more than 5 % (and an eighth of
// the postings changed, to pay for it), every bound is recomputed at the new average.
// Removed documents leave their block bounds as they were (too high is safe). The block
// table costs 8 bytes per 64 postings (a list of one block has none). The result equals
// exhaustive scoring (`search_exhaustive`), bit for bit.
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

// Sorts best first (higher score; equal scores by lower key) and keeps at most k.
void keep_best(std::vector<scored_key>& out, std::size_t k);

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

  // The k best keys for the query terms (repeated query terms count once), best first
  // (ties by key); `allow` (optional) filters keys.
  std::vector<scored_key> search(const std::vector<std::string>& query_terms, std::size_t k,
                                 const std::function<bool(std::uint64_t)>& allow = {}) const;
  // The same answer by scoring every posting: the reference the pruned search is
  // tested and measured against.
  std::vector<scored_key> search_exhaustive(const std::vector<std::string>& query_terms, std::size_t k,
                                            const std::function<bool(std::uint64_t)>& allow = {}) const;

  // The query terms that occur in the chunk (for explanations and snippets).
  std::vector<std::string> matched_terms(std::uint64_t key, const std::vector<std::string>& query_terms) const;

  // Document slots held, live or dead (for tests of the slot reuse).
  std::size_t slots() const noexcept { return docs_.size(); }

 private:
  // Documents are numbered densely (ordinals), so a search accumulates scores in an
  // array instead of a hash map, and every posting list is sorted by ordinal, so a
  // list can be probed by galloping search. Terms are interned: a document keeps the
  // ids of its distinct terms (for removal and matched_terms), not their strings.
  struct posting {
    std::uint32_t ordinal;
    std::uint16_t tf;      // 0: the document was removed
    std::uint16_t length;  // the document's, in terms
  };
  // One per `block_size` postings of a list: the ordinal of its last posting and the
  // highest tf / (tf + fixed + per_length * length) among them at the reference average
  // length (rounded up to float).
  struct block_bound {
    std::uint32_t last;
    float ratio;
  };
  static constexpr std::size_t block_size = 64;
  struct term_list {
    std::vector<posting> postings;  // ascending ordinal
    // Empty while the list fits one block (most terms are rare: no table to allocate);
    // `max_ratio` is then the only block's bound.
    std::vector<block_bound> blocks;
    float max_ratio = 0;      // the highest block ratio (never lowered but by a rebuild)
    std::uint32_t stale = 0;  // postings of removed documents, not yet compacted
  };
  struct doc_slot {
    std::uint64_t key = 0;
    std::uint32_t length = 0;
    bool alive = false;
    std::vector<std::uint32_t> terms;  // distinct term ids
  };
  struct query_term {
    const term_list* list;
    double weight;       // idf * (k1 + 1)
    double upper;        // the most this term adds to any document's score
    double block_scale;  // a block's ratio times this bounds the term's score in the block
  };
  // k1 * (1 - b + b * length / avg_length) as fixed + per_length * length: a multiply
  // per posting instead of a division.
  struct length_norm {
    double fixed;
    double per_length;
  };

  std::vector<query_term> prepare(const std::vector<std::string>& query_terms) const;
  length_norm norm() const;
  // (tf, length) -> the block ratio at the reference average length.
  double reference_ratio(std::uint32_t tf, std::uint32_t length) const {
    const double f = tf;
    return f / (f + params_.k1 * (1.0 - params_.b) + params_.k1 * params_.b / reference_length_ * length);
  }
  void rebuild_blocks(term_list& list) const;
  void rebase_if_drifted();
  static double term_score(const query_term& term, std::uint32_t tf, std::uint32_t length, length_norm norm) {
    const double f = tf;
    return term.weight * f / (f + norm.fixed + norm.per_length * length);
  }
  void compact(term_list& list);
  void renumber();

  bm25_params params_;
  std::unordered_map<std::string, std::uint32_t> term_id_;
  std::vector<std::string> term_text_;  // by term id
  std::vector<term_list> lists_;        // by term id
  std::vector<doc_slot> docs_;          // by ordinal
  std::unordered_map<std::uint64_t, std::uint32_t> ordinal_of_;
  std::uint64_t total_length_ = 0;
  // The average length the block ratios were computed at, and the postings added or
  // removed since (a rebase recomputes every list: only worth it once enough changed).
  double reference_length_ = 0;
  std::size_t postings_ = 0;
  std::size_t changed_since_rebase_ = 0;
};

}  // namespace wattos::streams::rag
