#include "streams/rag/hybrid.hpp"

#include <algorithm>
#include <unordered_map>

namespace wattos::streams::rag {

namespace {

std::vector<scored_key> best_first(const std::unordered_map<std::uint64_t, double>& fused, std::size_t k) {
  std::vector<scored_key> out;
  out.reserve(fused.size());
  for (const auto& entry : fused) out.push_back({entry.first, entry.second});
  keep_best(out, k);
  return out;
}

}  // namespace

std::vector<scored_key> convex_combination(const std::vector<std::vector<scored_key>>& lists,
                                           const std::vector<double>& weights, std::size_t k) {
  std::unordered_map<std::uint64_t, double> fused;
  for (std::size_t l = 0; l < lists.size(); ++l) {
    const auto& list = lists[l];
    if (list.empty()) continue;
    const double weight = l < weights.size() ? weights[l] : 1.0;
    double lo = list.front().score;
    double hi = lo;
    for (const auto& entry : list) {
      lo = std::min(lo, entry.score);
      hi = std::max(hi, entry.score);
    }
    const double span = hi - lo;
    for (const auto& entry : list) {
      const double scaled = span > 0 ? (entry.score - lo) / span : 1.0;
      fused[entry.key] += weight * scaled;
    }
  }
  return best_first(fused, k);
}

std::vector<scored_key> reciprocal_rank_fusion(const std::vector<std::vector<scored_key>>& lists, std::size_t k,
                                               double rrf_k) {
  std::unordered_map<std::uint64_t, double> fused;
  for (const auto& list : lists) {
    for (std::size_t rank = 0; rank < list.size(); ++rank) {
      fused[list[rank].key] += 1.0 / (rrf_k + static_cast<double>(rank + 1));
    }
  }
  return best_first(fused, k);
}

std::vector<scored_key> maximal_marginal_relevance(
    const std::vector<scored_key>& candidates, std::size_t k, double lambda,
    const std::function<double(std::uint64_t, std::uint64_t)>& similarity) {
  if (candidates.empty() || k == 0) return {};
  double lo = candidates.front().score;
  double hi = lo;
  for (const auto& c : candidates) {
    lo = std::min(lo, c.score);
    hi = std::max(hi, c.score);
  }
  const double span = hi > lo ? hi - lo : 1.0;
  std::vector<scored_key> picked;
  std::vector<bool> used(candidates.size(), false);
  std::vector<double> max_sim(candidates.size(), 0.0);
  while (picked.size() < std::min(k, candidates.size())) {
    std::size_t best = candidates.size();
    double best_value = 0;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      if (used[i]) continue;
      const double relevance = (candidates[i].score - lo) / span;
      const double value = lambda * relevance - (1.0 - lambda) * max_sim[i];
      if (best == candidates.size() || value > best_value) {
        best = i;
        best_value = value;
      }
    }
    used[best] = true;
    picked.push_back(candidates[best]);
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      if (!used[i]) max_sim[i] = std::max(max_sim[i], similarity(candidates[i].key, candidates[best].key));
    }
  }
  return picked;
}

}  // namespace wattos::streams::rag
