#include "streams/rag/bm25.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

namespace wattos::streams::rag {
namespace {

// The score of a document the filter refused: stays negative whatever is added.
constexpr float excluded = -std::numeric_limits<float>::infinity();

// Scores are summed in float: allow for rounding when comparing them with bounds.
double with_slack(double bound) {
  return bound * (1.0 + 1e-5) + 1e-6;
}

// The first position at or after `pos` whose ordinal is >= target (exponential, then
// binary search: cheap when the targets are sparse in a long list).
template <typename Postings>
std::size_t gallop(const Postings& list, std::size_t pos, std::uint32_t target) {
  if (pos >= list.size() || list[pos].ordinal >= target) return pos;
  std::size_t below = pos;  // list[below].ordinal < target
  std::size_t step = 1;
  std::size_t probe = pos + 1;
  while (probe < list.size() && list[probe].ordinal < target) {
    below = probe;
    step *= 2;
    probe = pos + step;
  }
  const std::size_t end = std::min(probe + 1, list.size());
  auto it = std::lower_bound(list.begin() + static_cast<std::ptrdiff_t>(below + 1),
                             list.begin() + static_cast<std::ptrdiff_t>(end), target,
                             [](const auto& p, std::uint32_t t) { return p.ordinal < t; });
  return static_cast<std::size_t>(it - list.begin());
}

bool better(const scored_key& a, const scored_key& c) {
  return a.score != c.score ? a.score > c.score : a.key < c.key;
}

// Per-thread scratch: scores by ordinal (all zero between searches) and the ordinals
// a search touched.
struct scratch {
  std::vector<float> scores;
  std::vector<std::uint32_t> touched;
  std::vector<float> kth;
};
scratch& thread_scratch(std::size_t slots) {
  thread_local scratch s;
  if (s.scores.size() < slots) s.scores.resize(slots, 0.0f);
  s.touched.clear();
  return s;
}

}  // namespace

void keep_best(std::vector<scored_key>& out, std::size_t k) {
  if (out.size() > k) {
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(k), out.end(), better);
    out.resize(k);
  } else {
    std::sort(out.begin(), out.end(), better);
  }
}

void bm25_index::add(std::uint64_t key, const std::vector<std::string>& terms) {
  if (ordinal_of_.count(key) != 0) remove(key);
  constexpr std::uint32_t saturated = std::numeric_limits<std::uint16_t>::max();
  std::unordered_map<std::uint32_t, std::uint32_t> tf;
  for (const auto& t : terms) {
    auto [it, inserted] = term_id_.try_emplace(t, static_cast<std::uint32_t>(term_text_.size()));
    if (inserted) {
      term_text_.push_back(t);
      lists_.emplace_back();
    }
    ++tf[it->second];
  }
  const auto ordinal = static_cast<std::uint32_t>(docs_.size());
  doc_slot slot;
  slot.key = key;
  slot.length = static_cast<std::uint32_t>(std::min<std::size_t>(terms.size(), saturated));
  slot.alive = true;
  slot.terms.reserve(tf.size());
  for (const auto& [id, count] : tf) {
    auto& list = lists_[id];
    const auto stored_tf = static_cast<std::uint16_t>(std::min(count, saturated));
    list.postings.push_back({ordinal, stored_tf, static_cast<std::uint16_t>(slot.length)});
    list.max_tf = std::max<std::uint32_t>(list.max_tf, stored_tf);
    list.min_length = std::min(list.min_length, slot.length);
    slot.terms.push_back(id);
  }
  total_length_ += slot.length;
  docs_.push_back(std::move(slot));
  ordinal_of_.emplace(key, ordinal);
}

void bm25_index::remove(std::uint64_t key) {
  auto it = ordinal_of_.find(key);
  if (it == ordinal_of_.end()) return;
  const std::uint32_t ordinal = it->second;
  auto& slot = docs_[ordinal];
  ordinal_of_.erase(it);
  total_length_ -= slot.length;
  slot.alive = false;
  const std::vector<std::uint32_t> ids = std::move(slot.terms);
  slot.terms.clear();
  for (auto id : ids) {
    auto& list = lists_[id];
    auto p = std::lower_bound(list.postings.begin(), list.postings.end(), ordinal,
                              [](const posting& q, std::uint32_t o) { return q.ordinal < o; });
    if (p != list.postings.end() && p->ordinal == ordinal) p->tf = 0;
    if (++list.stale * std::size_t{4} >= list.postings.size()) compact(list);
  }
  const std::size_t dead = docs_.size() - ordinal_of_.size();
  if (dead >= 1024 && dead * 4 >= docs_.size()) renumber();
}

void bm25_index::compact(term_list& list) {
  auto& v = list.postings;
  v.erase(std::remove_if(v.begin(), v.end(), [](const posting& p) { return p.tf == 0; }), v.end());
  if (v.capacity() > 2 * v.size() + 16) v.shrink_to_fit();
  list.stale = 0;
}

void bm25_index::renumber() {
  constexpr auto gone = std::numeric_limits<std::uint32_t>::max();
  std::vector<std::uint32_t> new_ordinal(docs_.size(), gone);
  std::vector<doc_slot> live;
  live.reserve(ordinal_of_.size());
  for (std::size_t i = 0; i < docs_.size(); ++i) {
    if (!docs_[i].alive) continue;
    const auto ordinal = static_cast<std::uint32_t>(live.size());
    new_ordinal[i] = ordinal;
    ordinal_of_[docs_[i].key] = ordinal;
    live.push_back(std::move(docs_[i]));
  }
  // Live documents keep their relative order, so every list stays sorted.
  for (auto& list : lists_) {
    std::size_t kept = 0;
    for (const auto& p : list.postings) {
      if (new_ordinal[p.ordinal] != gone) list.postings[kept++] = {new_ordinal[p.ordinal], p.tf, p.length};
    }
    list.postings.resize(kept);
    if (list.postings.capacity() > 2 * kept + 16) list.postings.shrink_to_fit();
    list.stale = 0;
  }
  docs_ = std::move(live);
}

std::vector<bm25_index::query_term> bm25_index::prepare(const std::vector<std::string>& query_terms) const {
  std::vector<query_term> out;
  const double n = static_cast<double>(ordinal_of_.size());
  const length_norm length_norm = norm();
  std::vector<std::uint32_t> seen;
  for (const auto& text : query_terms) {
    auto id = term_id_.find(text);
    if (id == term_id_.end()) continue;
    if (std::find(seen.begin(), seen.end(), id->second) != seen.end()) continue;
    seen.push_back(id->second);
    const auto& list = lists_[id->second];
    const double df = static_cast<double>(list.postings.size() - list.stale);
    if (df <= 0) continue;
    const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
    query_term term{&list, idf * (params_.k1 + 1.0), 0.0};
    // The score of a document with the list's highest tf at its shortest length.
    term.upper = term_score(term, list.max_tf, list.min_length, length_norm);
    out.push_back(term);
  }
  // Best possible contribution first: the order pruning needs, and one fixed order of
  // summation, so the pruned and the exhaustive search produce the same floats.
  std::stable_sort(out.begin(), out.end(), [](const query_term& a, const query_term& c) { return a.upper > c.upper; });
  return out;
}

bm25_index::length_norm bm25_index::norm() const {
  const double avg_length = static_cast<double>(total_length_) / static_cast<double>(ordinal_of_.size());
  return {params_.k1 * (1.0 - params_.b), params_.k1 * params_.b / avg_length};
}

std::vector<scored_key> bm25_index::search_exhaustive(const std::vector<std::string>& query_terms, std::size_t k,
                                                      const std::function<bool(std::uint64_t)>& allow) const {
  if (ordinal_of_.empty() || k == 0) return {};
  const auto terms = prepare(query_terms);
  const length_norm length_norm = norm();
  auto& s = thread_scratch(docs_.size());
  for (const auto& term : terms) {
    for (const auto& p : term.list->postings) {
      if (p.tf == 0) continue;
      if (s.scores[p.ordinal] == 0.0f) s.touched.push_back(p.ordinal);
      s.scores[p.ordinal] += static_cast<float>(term_score(term, p.tf, p.length, length_norm));
    }
  }
  std::vector<scored_key> out;
  out.reserve(s.touched.size());
  for (auto ordinal : s.touched) {
    const double score = s.scores[ordinal];
    s.scores[ordinal] = 0.0f;
    const std::uint64_t key = docs_[ordinal].key;
    if (allow && !allow(key)) continue;
    out.push_back({key, score});
  }
  keep_best(out, k);
  return out;
}

std::vector<scored_key> bm25_index::search(const std::vector<std::string>& query_terms, std::size_t k,
                                           const std::function<bool(std::uint64_t)>& allow) const {
  if (ordinal_of_.empty() || k == 0) return {};
  const auto terms = prepare(query_terms);
  if (terms.empty()) return {};
  const length_norm length_norm = norm();
  // remaining[i]: the most terms i.. can add to one document.
  std::vector<double> remaining(terms.size() + 1, 0.0);
  for (std::size_t i = terms.size(); i-- > 0;) remaining[i] = remaining[i + 1] + terms[i].upper;

  auto& s = thread_scratch(docs_.size());
  auto& scores = s.scores;
  auto& touched = s.touched;
  // Documents are put through the filter before they count towards the threshold.
  std::size_t filtered = 0;
  auto filter_new = [&] {
    if (!allow) return;
    for (; filtered < touched.size(); ++filtered) {
      if (!allow(docs_[touched[filtered]].key)) scores[touched[filtered]] = excluded;
    }
  };
  // The k-th best score among `ordinals` (a lower bound of the final k-th best), or
  // nothing while fewer than k documents scored.
  auto kth_best = [&](const std::vector<std::uint32_t>& ordinals) -> std::optional<double> {
    s.kth.clear();
    for (auto o : ordinals) {
      if (scores[o] >= 0.0f) s.kth.push_back(scores[o]);
    }
    if (s.kth.size() < k) return std::nullopt;
    std::nth_element(s.kth.begin(), s.kth.begin() + static_cast<std::ptrdiff_t>(k - 1), s.kth.end(), std::greater<>());
    return s.kth[k - 1];
  };

  // Scoring term at a time while an unseen document could still reach the top k.
  std::size_t next = 0;
  std::optional<double> threshold;
  for (; next < terms.size(); ++next) {
    if (threshold && *threshold > with_slack(remaining[next])) break;
    for (const auto& p : terms[next].list->postings) {
      if (p.tf == 0) continue;
      if (scores[p.ordinal] == 0.0f) touched.push_back(p.ordinal);
      scores[p.ordinal] += static_cast<float>(term_score(terms[next], p.tf, p.length, length_norm));
    }
    if (next + 1 < terms.size()) {
      filter_new();
      threshold = kth_best(touched);
    }
  }
  filter_new();
  // The rest only for the documents that can still make it, probed in ordinal order.
  std::vector<std::uint32_t> candidates;
  const std::vector<std::uint32_t>* finalists = &touched;
  if (next < terms.size()) {
    for (auto o : touched) {
      if (scores[o] >= 0.0f && scores[o] + with_slack(remaining[next]) >= *threshold) candidates.push_back(o);
    }
    std::sort(candidates.begin(), candidates.end());
    for (; next < terms.size(); ++next) {
      const auto& list = terms[next].list->postings;
      std::size_t pos = 0;
      for (auto o : candidates) {
        pos = gallop(list, pos, o);
        if (pos == list.size()) break;
        const posting& p = list[pos];
        if (p.ordinal == o && p.tf != 0)
          scores[o] += static_cast<float>(term_score(terms[next], p.tf, p.length, length_norm));
      }
      if (next + 1 < terms.size()) {
        if (auto better_threshold = kth_best(candidates)) {
          const double bar = *better_threshold;
          std::erase_if(candidates, [&](std::uint32_t o) { return scores[o] + with_slack(remaining[next + 1]) < bar; });
        }
      }
    }
    finalists = &candidates;
  }
  std::vector<scored_key> out;
  out.reserve(finalists->size());
  for (auto o : *finalists) {
    if (scores[o] >= 0.0f) out.push_back({docs_[o].key, scores[o]});
  }
  for (auto o : touched) scores[o] = 0.0f;
  keep_best(out, k);
  return out;
}

std::vector<std::string> bm25_index::matched_terms(std::uint64_t key,
                                                   const std::vector<std::string>& query_terms) const {
  std::vector<std::string> out;
  auto it = ordinal_of_.find(key);
  if (it == ordinal_of_.end()) return out;
  const auto& ids = docs_[it->second].terms;
  for (const auto& t : query_terms) {
    auto id = term_id_.find(t);
    if (id == term_id_.end() || std::find(ids.begin(), ids.end(), id->second) == ids.end()) continue;
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  return out;
}

}  // namespace wattos::streams::rag
