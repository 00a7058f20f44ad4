#include "streams/rag/bm25.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace wattos::streams::rag {

void bm25_index::add(std::uint64_t key, const std::vector<std::string>& terms) {
  if (ordinal_of_.count(key) != 0) remove(key);
  std::unordered_map<std::string, std::uint32_t> tf;
  for (const auto& t : terms) ++tf[t];
  const auto ordinal = static_cast<std::uint32_t>(docs_.size());
  doc_slot slot;
  slot.key = key;
  slot.length = static_cast<std::uint32_t>(terms.size());
  slot.alive = true;
  slot.terms.reserve(tf.size());
  for (auto& entry : tf) {
    postings_[entry.first].push_back({ordinal, entry.second});
    slot.terms.push_back(entry.first);
  }
  total_length_ += slot.length;
  docs_.push_back(std::move(slot));
  ordinal_of_.emplace(key, ordinal);
}

void bm25_index::remove(std::uint64_t key) {
  auto it = ordinal_of_.find(key);
  if (it == ordinal_of_.end()) return;
  auto& slot = docs_[it->second];
  ordinal_of_.erase(it);
  total_length_ -= slot.length;
  slot.alive = false;
  std::vector<std::string> terms = std::move(slot.terms);
  slot.terms.clear();
  for (const auto& t : terms) {
    auto& stale = ++stale_[t];
    auto list = postings_.find(t);
    if (list != postings_.end() && stale * 4 >= list->second.size()) compact(t);
  }
}

void bm25_index::compact(const std::string& term) {
  auto list = postings_.find(term);
  if (list != postings_.end()) {
    auto& v = list->second;
    v.erase(std::remove_if(v.begin(), v.end(), [&](const posting& p) { return !docs_[p.ordinal].alive; }), v.end());
    if (v.empty()) postings_.erase(list);
  }
  stale_.erase(term);
}

std::vector<scored_key> bm25_index::search(const std::vector<std::string>& query_terms, std::size_t k,
                                           const std::function<bool(std::uint64_t)>& allow) const {
  if (ordinal_of_.empty() || k == 0) return {};
  const double n = static_cast<double>(ordinal_of_.size());
  const double avg_length = static_cast<double>(total_length_) / n;
  // Per-thread scratch: scores by ordinal, and which ordinals were touched.
  thread_local std::vector<float> scores;
  thread_local std::vector<std::uint32_t> touched;
  if (scores.size() < docs_.size()) scores.resize(docs_.size(), 0.0f);
  touched.clear();
  std::unordered_set<std::string> seen;
  const double k1 = params_.k1;
  const double b = params_.b;
  for (const auto& term : query_terms) {
    if (!seen.insert(term).second) continue;
    auto list = postings_.find(term);
    if (list == postings_.end()) continue;
    auto stale = stale_.find(term);
    const double df = static_cast<double>(list->second.size() - (stale == stale_.end() ? 0 : stale->second));
    if (df <= 0) continue;
    const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
    for (const auto& p : list->second) {
      const auto& slot = docs_[p.ordinal];
      if (!slot.alive) continue;
      const double tf = p.tf;
      const double norm = k1 * (1.0 - b + b * slot.length / avg_length);
      if (scores[p.ordinal] == 0.0f) touched.push_back(p.ordinal);
      scores[p.ordinal] += static_cast<float>(idf * tf * (k1 + 1.0) / (tf + norm));
    }
  }
  std::vector<scored_key> out;
  out.reserve(touched.size());
  for (auto ordinal : touched) {
    const double score = scores[ordinal];
    scores[ordinal] = 0.0f;
    const std::uint64_t key = docs_[ordinal].key;
    if (allow && !allow(key)) continue;
    out.push_back({key, score});
  }
  auto better = [](const scored_key& a, const scored_key& c) {
    return a.score != c.score ? a.score > c.score : a.key < c.key;
  };
  if (out.size() > k) {
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(k), out.end(), better);
    out.resize(k);
  } else {
    std::sort(out.begin(), out.end(), better);
  }
  return out;
}

std::vector<std::string> bm25_index::matched_terms(std::uint64_t key, const std::vector<std::string>& query_terms) const {
  std::vector<std::string> out;
  auto it = ordinal_of_.find(key);
  if (it == ordinal_of_.end()) return out;
  const auto& terms = docs_[it->second].terms;
  for (const auto& t : query_terms) {
    if (std::find(terms.begin(), terms.end(), t) != terms.end() && std::find(out.begin(), out.end(), t) == out.end()) {
      out.push_back(t);
    }
  }
  return out;
}

}  // namespace wattos::streams::rag
