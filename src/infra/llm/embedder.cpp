#include "infra/llm/embedder.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>

#include "infra/llm/text.hpp"

namespace wattos::infra::llm {
namespace {

constexpr int min_dimensions = 8;
constexpr double unigram_weight = 1.0;
constexpr double bigram_weight = 0.5;
// Per word, shared by all its character n-grams (see add_char_ngrams).
constexpr double char_ngram_weight = 0.3;

// FNV-1a, 64 bit: fixed across compilers and platforms, unlike std::hash.
std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 14695981039346656037ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

// Occurrences and summed per-occurrence weight of one feature.
struct feature_stats {
  int count = 0;
  double weight_sum = 0.0;
};

// Ordered map: the summation order, and so the float result, is the same on every run.
using feature_map = std::map<std::string, feature_stats>;

void add_feature(feature_map& features, std::string key, double weight) {
  auto& f = features[std::move(key)];
  ++f.count;
  f.weight_sum += weight;
}

// Character 3- to 5-grams of "<word>" (byte-wise; folded words are mostly ASCII). The
// word's n-gram weight is spread so that their squared weights add up to weight²: a long
// word thus weighs no more in the vector than a short one.
void add_char_ngrams(feature_map& features, const std::string& word, double word_weight) {
  const std::string marked = "<" + word + ">";
  std::vector<std::string> grams;
  for (std::size_t n = 3; n <= 5; ++n) {
    for (std::size_t i = 0; i + n <= marked.size(); ++i) grams.push_back("c:" + marked.substr(i, n));
  }
  if (grams.empty()) return;
  const double each = char_ngram_weight * word_weight / std::sqrt(static_cast<double>(grams.size()));
  for (auto& g : grams) add_feature(features, std::move(g), each);
}

}  // namespace

hashed_embedder::hashed_embedder(int dimensions) : dimensions_(std::max(dimensions, min_dimensions)) {}

std::vector<std::string> hashed_embedder::word_stems(std::string_view text) {
  std::vector<std::string> stems;
  for (const auto& t : word_tokens(text)) {
    if (!is_stop_word(t)) stems.push_back(light_stem(t));
  }
  std::sort(stems.begin(), stems.end());
  stems.erase(std::unique(stems.begin(), stems.end()), stems.end());
  return stems;
}

std::vector<float> hashed_embedder::embed(std::string_view text) const {
  return embed(text, word_weight{});
}

std::vector<float> hashed_embedder::embed(std::string_view text, const word_weight& weight) const {
  std::vector<float> out(static_cast<std::size_t>(dimensions_), 0.0f);
  const auto tokens = word_tokens(text);
  std::vector<std::string> stems;
  for (const auto& t : tokens) {
    if (!is_stop_word(t)) stems.push_back(light_stem(t));
  }
  // A text of stop words only ("Was ist das?") still deserves a vector.
  if (stems.empty()) {
    for (const auto& t : tokens) stems.push_back(light_stem(t));
  }
  if (stems.empty()) return out;

  std::vector<double> weights(stems.size(), 1.0);
  if (weight) {
    for (std::size_t i = 0; i < stems.size(); ++i) weights[i] = std::max(0.0, weight(stems[i]));
  }
  feature_map features;
  for (std::size_t i = 0; i < stems.size(); ++i) {
    add_feature(features, "w:" + stems[i], unigram_weight * weights[i]);
    if (i + 1 < stems.size()) {
      add_feature(features, "b:" + stems[i] + " " + stems[i + 1],
                  bigram_weight * std::sqrt(weights[i] * weights[i + 1]));
    }
    add_char_ngrams(features, stems[i], weights[i]);
  }

  std::vector<double> acc(out.size(), 0.0);
  for (const auto& [key, f] : features) {
    const double tf = 1.0 + std::log(static_cast<double>(f.count));
    const double value = f.weight_sum / f.count * tf;
    const std::uint64_t h = fnv1a(key);
    // The top bit picks the sign so that collisions cancel out on average instead of piling up.
    const double sign = (h >> 63) != 0 ? -1.0 : 1.0;
    acc[h % static_cast<std::uint64_t>(acc.size())] += sign * value;
  }
  double norm = 0.0;
  for (double v : acc) norm += v * v;
  norm = std::sqrt(norm);
  if (norm == 0.0) return out;
  for (std::size_t i = 0; i < acc.size(); ++i) out[i] = static_cast<float>(acc[i] / norm);
  return out;
}

float cosine_similarity(const std::vector<float>& a, const std::vector<float>& b) noexcept {
  if (a.size() != b.size() || a.empty()) return 0.0f;
  double dot = 0.0;
  double na = 0.0;
  double nb = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += static_cast<double>(b[i]) * b[i];
  }
  if (na == 0.0 || nb == 0.0) return 0.0f;
  return static_cast<float>(dot / (std::sqrt(na) * std::sqrt(nb)));
}

}  // namespace wattos::infra::llm
