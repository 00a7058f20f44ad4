#include "streams/rag/bm25.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace wattos::streams::rag {

void bm25_index::add(std::uint64_t key, const std::vector<std::string>& terms) {
  if (docs_.count(key) != 0) remove(key);
  std::unordered_map<std::string, std::uint32_t> tf;
  for (const auto& t : terms) ++tf[t];
  doc_info info;
  info.length = static_cast<std::uint32_t>(terms.size());
  info.terms.reserve(tf.size());
  for (auto& entry : tf) {
    postings_[entry.first].push_back({key, entry.second});
    info.terms.push_back(entry.first);
  }
  total_length_ += info.length;
  docs_.emplace(key, std::move(info));
}

void bm25_index::remove(std::uint64_t key) {
  auto it = docs_.find(key);
  if (it == docs_.end()) return;
  total_length_ -= it->second.length;
  std::vector<std::string> terms = std::move(it->second.terms);
  docs_.erase(it);
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
    v.erase(std::remove_if(v.begin(), v.end(), [&](const posting& p) { return docs_.count(p.key) == 0; }), v.end());
    if (v.empty()) postings_.erase(list);
  }
  stale_.erase(term);
}

std::vector<scored_key> bm25_index::search(const std::vector<std::string>& query_terms, std::size_t k,
                                           const std::function<bool(std::uint64_t)>& allow) const {
  if (docs_.empty() || k == 0) return {};
  const double n = static_cast<double>(docs_.size());
  const double avg_length = static_cast<double>(total_length_) / n;
  std::unordered_map<std::uint64_t, double> scores;
  std::unordered_set<std::string> seen;
  for (const auto& term : query_terms) {
    if (!seen.insert(term).second) continue;
    auto list = postings_.find(term);
    if (list == postings_.end()) continue;
    auto stale = stale_.find(term);
    const double df = static_cast<double>(list->second.size() - (stale == stale_.end() ? 0 : stale->second));
    if (df <= 0) continue;
    const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
    for (const auto& p : list->second) {
      auto doc = docs_.find(p.key);
      if (doc == docs_.end()) continue;
      const double tf = p.tf;
      const double norm = params_.k1 * (1.0 - params_.b + params_.b * doc->second.length / avg_length);
      scores[p.key] += idf * tf * (params_.k1 + 1.0) / (tf + norm);
    }
  }
  std::vector<scored_key> out;
  out.reserve(scores.size());
  for (const auto& entry : scores) {
    if (allow && !allow(entry.first)) continue;
    out.push_back({entry.first, entry.second});
  }
  auto better = [](const scored_key& a, const scored_key& b) {
    return a.score != b.score ? a.score > b.score : a.key < b.key;
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
  auto doc = docs_.find(key);
  if (doc == docs_.end()) return out;
  for (const auto& t : query_terms) {
    if (std::find(doc->second.terms.begin(), doc->second.terms.end(), t) != doc->second.terms.end() &&
        std::find(out.begin(), out.end(), t) == out.end()) {
      out.push_back(t);
    }
  }
  return out;
}

}  // namespace wattos::streams::rag
