// File: streams/rag/retriever.hpp
//
// One searchable collection (a knowledge space's chunks): a BM25 index over the
// analysed text and a vector index over the embeddings, searched in one of three
// modes: lexical, vector, or hybrid (both lists of `candidates`, fused by a convex
// combination of their min-max normalised scores, or by reciprocal rank). Embedding
// is the caller's job (through the LLM gateway), so this stays synchronous and
// testable.
//
// Thread safety: searches run concurrently; add/remove take an exclusive lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "streams/rag/analyzer.hpp"
#include "streams/rag/bm25.hpp"
#include "streams/rag/vector_index.hpp"

namespace wattos::streams::rag {

enum class search_mode { lexical, vector, hybrid };
// How hybrid search merges the lexical and the vector list (streams/rag/hybrid.hpp).
enum class fusion_method { convex, reciprocal_rank };

// "lexical", "vector", "hybrid"; invalid_argument otherwise.
core::result<search_mode> parse_search_mode(std::string_view name);
std::string_view search_mode_name(search_mode mode) noexcept;

struct retrieval_options {
  std::size_t candidates = 100;  // from each list before fusion
  fusion_method fusion = fusion_method::convex;
  // convex: the lexical list's weight; the vector list gets 1 - it. Equal by default
  // (no retriever is presumed the better one).
  double lexical_weight = 0.5;
  double rrf_k = 60.0;  // reciprocal_rank only
  // Pseudo-relevance feedback for the vector side (Rocchio): the query vector plus the
  // centroid of the top `prf_docs` lexical hits' vectors; 0 turns it off. It lifts a
  // weak lexical embedder (the built-in one) a lot: docs/rag.md has the figures.
  std::size_t prf_docs = 0;
};

struct retrieval_hit {
  std::uint64_t key = 0;
  double score = 0;                 // the mode's score (BM25, cosine, or fused)
  std::optional<int> lexical_rank;  // 1-based rank in each list, for explanations
  std::optional<int> vector_rank;
};

class retriever {
 public:
  explicit retriever(std::unique_ptr<vector_index> vectors) : vectors_(std::move(vectors)) {}

  core::status add(std::uint64_t key, std::string_view text, std::span<const float> embedding,
                   language lang = language::auto_detect);
  // Adds only the text (its vector is already in the loaded vector index).
  core::status add_lexical_only(std::uint64_t key, std::string_view text, language lang = language::auto_detect);
  void remove(std::uint64_t key);
  std::size_t size() const;
  int dimensions() const { return vectors_->dimensions(); }

  // Hybrid search runs its lexical and its vector search at the same time when a core
  // is spare (core/side_task.hpp), so `allow` must be safe to call from two threads.
  std::vector<retrieval_hit> search(std::string_view query, std::span<const float> query_embedding, search_mode mode,
                                    std::size_t k, const std::function<bool(std::uint64_t)>& allow = {},
                                    const retrieval_options& options = {}) const;

  // Matched query stems of a chunk (explanations).
  std::vector<std::string> matched_terms(std::uint64_t key, std::string_view query) const;
  std::vector<float> vector_of(std::uint64_t key) const;
  core::status save();
  core::status drop();

 private:
  analyzer analyzer_;
  mutable std::shared_mutex mutex_;
  bm25_index lexical_;
  std::unique_ptr<vector_index> vectors_;
};

}  // namespace wattos::streams::rag
