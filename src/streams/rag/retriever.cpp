#include "streams/rag/retriever.hpp"

#include <mutex>
#include <unordered_map>

#include "core/side_task.hpp"
#include "streams/rag/hybrid.hpp"

namespace wattos::streams::rag {

core::result<search_mode> parse_search_mode(std::string_view name) {
  if (name == "lexical") return search_mode::lexical;
  if (name == "vector") return search_mode::vector;
  if (name == "hybrid") return search_mode::hybrid;
  return core::error::invalid_argument("mode must be lexical, vector or hybrid");
}

std::string_view search_mode_name(search_mode mode) noexcept {
  switch (mode) {
    case search_mode::lexical:
      return "lexical";
    case search_mode::vector:
      return "vector";
    case search_mode::hybrid:
      return "hybrid";
  }
  return "hybrid";
}

core::status retriever::add(std::uint64_t key, std::string_view text, std::span<const float> embedding, language lang) {
  auto terms = analyzer_.document_terms(text, lang);
  std::unique_lock lock(mutex_);
  WATTOS_RETURN_IF_ERROR(vectors_->upsert(key, embedding));
  lexical_.add(key, terms);
  return {};
}

core::status retriever::add_lexical_only(std::uint64_t key, std::string_view text, language lang) {
  auto terms = analyzer_.document_terms(text, lang);
  std::unique_lock lock(mutex_);
  if (!vectors_->contains(key)) return core::error::failed_precondition("the vector index lacks this chunk");
  lexical_.add(key, terms);
  return {};
}

void retriever::remove(std::uint64_t key) {
  std::unique_lock lock(mutex_);
  lexical_.remove(key);
  vectors_->remove(key);
}

std::size_t retriever::size() const {
  std::shared_lock lock(mutex_);
  return lexical_.size();
}

std::vector<retrieval_hit> retriever::search(std::string_view query, std::span<const float> query_embedding,
                                             search_mode mode, std::size_t k,
                                             const std::function<bool(std::uint64_t)>& allow,
                                             const retrieval_options& options) const {
  const auto terms = analyzer_.query_terms(query);
  std::shared_lock lock(mutex_);
  std::vector<scored_key> lexical;
  std::vector<scored_key> vector;
  const std::size_t depth = mode == search_mode::hybrid ? std::max(k, options.candidates) : k;
  const bool use_vectors = mode != search_mode::lexical && !query_embedding.empty();
  const bool feedback = options.prf_docs > 0 && use_vectors;
  std::vector<float> query_vector;
  if (use_vectors) query_vector.assign(query_embedding.begin(), query_embedding.end());
  // The feedback hits are the exact top of the deeper lexical list below, found alone
  // first (a shallow search prunes hard) so that the two deep searches can overlap.
  const auto top = feedback ? lexical_.search(terms, options.prf_docs, allow) : std::vector<scored_key>{};
  if (!top.empty() && normalize(query_vector)) {
    for (const auto& hit : top) {
      const auto v = vectors_->vector_of(hit.key);
      if (v.size() != query_vector.size()) continue;
      for (std::size_t d = 0; d < v.size(); ++d) query_vector[d] += v[d] / static_cast<float>(top.size());
    }
  }
  if (use_vectors && mode == search_mode::hybrid) {
    // The two lists are independent: the lexical one on a spare core if there is one.
    // Which of the two takes longer depends on the corpus; handing one over costs a
    // thread's wake-up (0.1 to 0.2 ms here), and the caller takes it back if no helper
    // has started it by the time the vector search is done.
    core::side_task lexical_side([&] { lexical = lexical_.search(terms, depth, allow); });
    vector = vectors_->search(query_vector, depth, allow);
    lexical_side.wait();
  } else if (use_vectors) {
    vector = vectors_->search(query_vector, depth, allow);
  } else if (mode != search_mode::vector) {
    lexical = lexical_.search(terms, depth, allow);
  }
  std::vector<scored_key> ranked;
  if (mode == search_mode::lexical) {
    ranked = lexical;
  } else if (mode == search_mode::vector) {
    ranked = vector;
  } else if (options.fusion == fusion_method::reciprocal_rank) {
    ranked = reciprocal_rank_fusion({lexical, vector}, k, options.rrf_k);
  } else {
    ranked = convex_combination({lexical, vector}, {options.lexical_weight, 1.0 - options.lexical_weight}, k);
  }
  std::unordered_map<std::uint64_t, int> lexical_rank;
  std::unordered_map<std::uint64_t, int> vector_rank;
  for (std::size_t i = 0; i < lexical.size(); ++i) lexical_rank[lexical[i].key] = static_cast<int>(i + 1);
  for (std::size_t i = 0; i < vector.size(); ++i) vector_rank[vector[i].key] = static_cast<int>(i + 1);
  std::vector<retrieval_hit> out;
  for (std::size_t i = 0; i < std::min(k, ranked.size()); ++i) {
    retrieval_hit hit{ranked[i].key, ranked[i].score, std::nullopt, std::nullopt};
    if (auto it = lexical_rank.find(hit.key); it != lexical_rank.end()) hit.lexical_rank = it->second;
    if (auto it = vector_rank.find(hit.key); it != vector_rank.end()) hit.vector_rank = it->second;
    out.push_back(hit);
  }
  return out;
}

std::vector<std::string> retriever::matched_terms(std::uint64_t key, std::string_view query) const {
  const auto terms = analyzer_.query_terms(query);
  std::shared_lock lock(mutex_);
  return lexical_.matched_terms(key, terms);
}

std::vector<float> retriever::vector_of(std::uint64_t key) const {
  std::shared_lock lock(mutex_);
  return vectors_->vector_of(key);
}

core::status retriever::drop() {
  std::unique_lock lock(mutex_);
  return vectors_->drop();
}

core::status retriever::save() {
  std::unique_lock lock(mutex_);
  return vectors_->save();
}

}  // namespace wattos::streams::rag
