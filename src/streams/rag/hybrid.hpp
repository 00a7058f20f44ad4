// File: streams/rag/hybrid.hpp
//
// Combining ranked lists: a convex combination of min-max normalised scores (the
// default of hybrid search), reciprocal rank fusion, and maximal marginal relevance
// (Carbonell & Goldstein 1998) to trade relevance for diversity when picking context.
//
// Why scores and not ranks: Bruch, Gai & Ingber ("An Analysis of Fusion Functions for
// Hybrid Retrieval", ACM TOIS 2023) find the convex combination better than RRF in and
// out of domain. RRF keeps only ranks, so a chunk BM25 puts first by a clear margin
// loses to one ranked 2nd by BM25 and 1st by vectors (1/61 + 1/63 < 1/62 + 1/61); on
// SciFact that was the largest class of queries where hybrid lost to lexical.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "streams/rag/bm25.hpp"

namespace wattos::streams::rag {

// Each list's scores are scaled to [0, 1] by its own best and worst score (a list of
// equal scores scales to 1); a key's fused score is the sum over the lists of
// weight * its scaled score there, 0 where a list lacks it. `weights` pairs with
// `lists` (a missing weight counts 1). Best first, ties by key, at most k.
std::vector<scored_key> convex_combination(const std::vector<std::vector<scored_key>>& lists,
                                           const std::vector<double>& weights, std::size_t k);

// Cormack, Clarke & Büttcher 2009: a key's score is the sum of 1 / (rrf_k + rank) over
// the lists it is in; needs no score calibration at all.
std::vector<scored_key> reciprocal_rank_fusion(const std::vector<std::vector<scored_key>>& lists, std::size_t k,
                                               double rrf_k = 60.0);

// Picks k of the candidates (best first by score): each next pick maximises
// lambda * relevance - (1 - lambda) * (its highest similarity to a pick so far), with
// relevance the candidate's score scaled to [0, 1].
std::vector<scored_key> maximal_marginal_relevance(
    const std::vector<scored_key>& candidates, std::size_t k, double lambda,
    const std::function<double(std::uint64_t, std::uint64_t)>& similarity);

}  // namespace wattos::streams::rag
