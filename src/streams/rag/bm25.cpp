#include "streams/rag/bm25.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace wattos::streams::rag {
namespace {

// The average length may move this far from the reference of the block ratios before
// they are recomputed (the bounds are loosened by as much meanwhile).
constexpr double rebase_drift = 1.05;

// A double rounded up to float: a block ratio must not shrink by rounding.
float round_up(double x) {
  float f = static_cast<float>(x);
  if (static_cast<double>(f) < x) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  return f;
}

// Scores are summed in float: allow for rounding when comparing them with bounds.
double with_slack(double bound) {
  return bound * (1.0 + 1e-5) + 1e-6;
}

bool better(const scored_key& a, const scored_key& c) {
  return a.score != c.score ? a.score > c.score : a.key < c.key;
}

// Per-thread scratch of the exhaustive search: scores by ordinal (all zero between
// searches) and the ordinals a search touched.
struct scratch {
  std::vector<float> scores;
  std::vector<std::uint32_t> touched;
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
  if (reference_length_ == 0) reference_length_ = std::max<double>(1.0, slot.length);
  for (const auto& [id, count] : tf) {
    auto& list = lists_[id];
    const auto stored_tf = static_cast<std::uint16_t>(std::min(count, saturated));
    list.postings.push_back({ordinal, stored_tf, static_cast<std::uint16_t>(slot.length)});
    const float ratio = round_up(reference_ratio(stored_tf, slot.length));
    list.max_ratio = std::max(list.max_ratio, ratio);
    if (list.postings.size() == block_size + 1) {
      rebuild_blocks(list);  // the second block: the list gets its table
    } else if (list.postings.size() > block_size + 1) {
      if ((list.postings.size() - 1) % block_size == 0) list.blocks.push_back({ordinal, 0.0f});
      list.blocks.back().last = ordinal;
      list.blocks.back().ratio = std::max(list.blocks.back().ratio, ratio);
    }
    slot.terms.push_back(id);
  }
  postings_ += slot.terms.size();
  changed_since_rebase_ += slot.terms.size();
  total_length_ += slot.length;
  docs_.push_back(std::move(slot));
  ordinal_of_.emplace(key, ordinal);
  rebase_if_drifted();
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
  // The postings get tf 0; their blocks keep their bounds (too high is safe).
  for (auto id : ids) {
    auto& list = lists_[id];
    auto p = std::lower_bound(list.postings.begin(), list.postings.end(), ordinal,
                              [](const posting& q, std::uint32_t o) { return q.ordinal < o; });
    if (p != list.postings.end() && p->ordinal == ordinal) p->tf = 0;
    if (++list.stale * std::size_t{4} >= list.postings.size()) compact(list);
  }
  changed_since_rebase_ += ids.size();
  const std::size_t dead = docs_.size() - ordinal_of_.size();
  if (dead >= 1024 && dead * 4 >= docs_.size()) {
    renumber();
  } else {
    rebase_if_drifted();
  }
}

void bm25_index::compact(term_list& list) {
  auto& v = list.postings;
  postings_ -= list.stale;
  v.erase(std::remove_if(v.begin(), v.end(), [](const posting& p) { return p.tf == 0; }), v.end());
  if (v.capacity() > 2 * v.size() + 16) v.shrink_to_fit();
  list.stale = 0;
  rebuild_blocks(list);  // block boundaries moved
}

void bm25_index::rebuild_blocks(term_list& list) const {
  list.blocks.clear();
  list.max_ratio = 0;
  const auto& v = list.postings;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const float ratio = v[i].tf == 0 ? 0.0f : round_up(reference_ratio(v[i].tf, v[i].length));
    list.max_ratio = std::max(list.max_ratio, ratio);
    if (v.size() <= block_size) continue;
    if (i % block_size == 0) list.blocks.push_back({v[i].ordinal, 0.0f});
    list.blocks.back().last = v[i].ordinal;
    list.blocks.back().ratio = std::max(list.blocks.back().ratio, ratio);
  }
  if (list.blocks.empty() || list.blocks.capacity() > 2 * list.blocks.size() + 4) list.blocks.shrink_to_fit();
}

void bm25_index::rebase_if_drifted() {
  if (ordinal_of_.empty() || changed_since_rebase_ * 8 < postings_) return;
  const double drift = static_cast<double>(total_length_) / static_cast<double>(ordinal_of_.size()) / reference_length_;
  if (drift <= rebase_drift && drift * rebase_drift >= 1.0) return;
  reference_length_ = std::max(1.0, static_cast<double>(total_length_) / static_cast<double>(ordinal_of_.size()));
  for (auto& list : lists_) rebuild_blocks(list);
  changed_since_rebase_ = 0;
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
  // Every list's blocks moved: rebuild them all, at the current average.
  postings_ = 0;
  for (const auto& list : lists_) postings_ += list.postings.size();
  if (!ordinal_of_.empty())
    reference_length_ = std::max(1.0, static_cast<double>(total_length_) / static_cast<double>(ordinal_of_.size()));
  for (auto& list : lists_) rebuild_blocks(list);
  changed_since_rebase_ = 0;
}

std::vector<bm25_index::query_term> bm25_index::prepare(const std::vector<std::string>& query_terms) const {
  std::vector<query_term> out;
  const double n = static_cast<double>(ordinal_of_.size());
  // Since the block ratios were computed the average length may have grown, which lets a
  // score grow by at most the same factor (the length part of the norm shrinks by it).
  const double avg_length = static_cast<double>(total_length_) / n;
  const double drift = std::max(1.0, avg_length / reference_length_);
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
    query_term term{&list, idf * (params_.k1 + 1.0), 0.0, 0.0};
    term.block_scale = term.weight * drift;
    term.upper = term.block_scale * list.max_ratio;
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
  const std::size_t n = terms.size();
  // remaining[i]: the most terms i.. can add to one document.
  std::vector<double> remaining(n + 1, 0.0);
  for (std::size_t i = n; i-- > 0;) remaining[i] = remaining[i + 1] + terms[i].upper;

  // A list's position, and the block it is known to be in: block b holds the postings
  // [b * block_size, (b + 1) * block_size). A list without a table is its own block.
  struct cursor {
    const posting* first;
    const posting* at;
    const posting* end;
    const block_bound* blocks;
    const block_bound* block;
    const block_bound* blocks_end;
    block_bound whole;
    double bound = 0;  // of the current block's postings (0 once past the last block)
    const posting* block_begin() const { return first + (block - blocks) * static_cast<std::ptrdiff_t>(block_size); }
    const posting* block_stop() const { return std::min(block_begin() + block_size, end); }
  };
  std::vector<cursor> cursors(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& list = *terms[i].list;
    auto& c = cursors[i];
    c.first = c.at = list.postings.data();
    c.end = c.first + list.postings.size();
    c.whole = {list.postings.back().ordinal, list.max_ratio};
    c.blocks = list.blocks.empty() ? &c.whole : list.blocks.data();
    c.blocks_end = c.blocks + (list.blocks.empty() ? 1 : list.blocks.size());
    c.block = c.blocks;
  }
  // Moves the block to the one that would hold `ordinal` (its bound is then valid up to
  // the block's last ordinal).
  auto shallow = [&](std::size_t i, std::uint32_t ordinal) {
    auto& c = cursors[i];
    while (c.block != c.blocks_end && c.block->last < ordinal) ++c.block;
    c.bound = c.block == c.blocks_end ? 0.0 : terms[i].block_scale * c.block->ratio;
  };
  // Moves the position to the first posting >= ordinal (after shallow(i, ordinal)).
  auto deep = [&](std::size_t i, std::uint32_t ordinal) {
    auto& c = cursors[i];
    if (c.block == c.blocks_end) {
      c.at = c.end;
      return;
    }
    c.at = std::lower_bound(std::max(c.at, c.block_begin()), c.block_stop(), ordinal,
                            [](const posting& p, std::uint32_t o) { return p.ordinal < o; });
  };

  // The k best so far as a heap with the worst on top; `threshold` is its score once
  // full: a document must beat it (or tie with a lower key) to enter.
  std::vector<scored_key> top;
  top.reserve(std::min(k, ordinal_of_.size()));
  double threshold = -std::numeric_limits<double>::infinity();
  // Terms [essential, n) together cannot reach the threshold: their lists are not walked.
  std::size_t essential = n;
  std::vector<double> contribution(n, 0.0);
  std::uint32_t run_end = 0;  // the block bounds of all lists hold up to this ordinal
  bool in_run = false;
  for (;;) {
    std::uint32_t d = std::numeric_limits<std::uint32_t>::max();
    bool any = false;
    for (std::size_t i = 0; i < essential; ++i) {
      if (cursors[i].at != cursors[i].end) {
        d = std::min(d, cursors[i].at->ordinal);
        any = true;
      }
    }
    if (!any) break;
    if (!in_run || d > run_end) {
      double run_bound = 0;
      run_end = std::numeric_limits<std::uint32_t>::max();
      for (std::size_t i = 0; i < n; ++i) {
        shallow(i, d);
        if (cursors[i].block == cursors[i].blocks_end) continue;
        run_bound += cursors[i].bound;
        run_end = std::min(run_end, cursors[i].block->last);
      }
      in_run = true;
      // d is an essential list's posting, so its block is not past the end: run_end >= d.
      if (threshold > with_slack(run_bound)) {
        if (run_end == std::numeric_limits<std::uint32_t>::max()) break;
        for (std::size_t i = 0; i < essential; ++i) {
          shallow(i, run_end + 1);
          deep(i, run_end + 1);
        }
        in_run = false;
        continue;
      }
    }
    // The walked lists at d, exactly; then the others while they can still lift d above
    // the threshold, judged by their block bounds.
    double partial = 0;
    for (std::size_t i = 0; i < essential; ++i) {
      auto& c = cursors[i];
      contribution[i] = 0;
      if (c.at == c.end || c.at->ordinal != d) continue;
      if (c.at->tf != 0) contribution[i] = term_score(terms[i], c.at->tf, c.at->length, length_norm);
      partial += contribution[i];
      ++c.at;
    }
    double rest = 0;
    for (std::size_t i = essential; i < n; ++i) rest += cursors[i].bound;
    bool short_of_it = false;
    for (std::size_t i = essential; i < n; ++i) {
      if (threshold > with_slack(partial + rest)) {
        short_of_it = true;
        break;
      }
      rest -= cursors[i].bound;
      contribution[i] = 0;
      if (cursors[i].bound == 0) continue;
      deep(i, d);
      const auto& c = cursors[i];
      if (c.at != c.end && c.at->ordinal == d && c.at->tf != 0) {
        contribution[i] = term_score(terms[i], c.at->tf, c.at->length, length_norm);
        partial += contribution[i];
      }
    }
    if (short_of_it || partial == 0) continue;  // partial 0: a removed document
    // Summed in float in term order, as the exhaustive search sums.
    float score = 0.0f;
    for (std::size_t i = 0; i < n; ++i) score += static_cast<float>(contribution[i]);
    const scored_key hit{docs_[d].key, score};
    if (top.size() == k && !better(hit, top.front())) continue;
    if (allow && !allow(hit.key)) continue;
    if (top.size() == k) {
      std::pop_heap(top.begin(), top.end(), better);
      top.back() = hit;
    } else {
      top.push_back(hit);
    }
    std::push_heap(top.begin(), top.end(), better);
    if (top.size() == k) {
      threshold = top.front().score;
      while (essential > 0 && threshold > with_slack(remaining[essential - 1])) --essential;
    }
  }
  keep_best(top, k);
  return top;
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
