// File: streams/rag/hybrid.hpp
//
// Combining ranked lists: reciprocal rank fusion (Cormack et al. 2009: a key's score
// is the sum of 1 / (k + rank) over the lists it is in, k = 60), which needs no score
// calibration between BM25 and cosine similarity; and maximal marginal relevance
// (Carbonell & Goldstein 1998) to trade relevance for diversity when picking context.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "streams/rag/bm25.hpp"

namespace wattos::streams::rag {

std::vector<scored_key> reciprocal_rank_fusion(const std::vector<std::vector<scored_key>>& lists, std::size_t k,
                                               double rrf_k = 60.0);

// Picks k of the candidates (best first by score): each next pick maximises
// lambda * relevance - (1 - lambda) * (its highest similarity to a pick so far), with
// relevance the candidate's score scaled to [0, 1].
std::vector<scored_key> maximal_marginal_relevance(const std::vector<scored_key>& candidates, std::size_t k,
                                                   double lambda,
                                                   const std::function<double(std::uint64_t, std::uint64_t)>& similarity);

}  // namespace wattos::streams::rag
