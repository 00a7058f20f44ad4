// File: bench/synthetic_text.hpp
//
// What rag_bench and bm25_bench share: chunk text of words drawn from a Zipf
// distribution over a 20,000-word vocabulary ("w0x", "w1x", ...; a few words in nearly
// every chunk, most rare, as in natural text), and the percentile of a sample.
#pragma once

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace wattos::bench {

class zipf_text {
 public:
  explicit zipf_text(std::mt19937_64& rng) : rng_(rng) {
    std::vector<double> weights;
    for (int i = 0; i < 20000; ++i) {
      std::string word = "w";  // appended, not "w" + ...: g++ 12 warns falsely (-Wrestrict) on that
      word += std::to_string(i);
      word += 'x';
      vocab_.push_back(std::move(word));
      weights.push_back(1.0 / static_cast<double>(i + 1));
    }
    zipf_ = std::discrete_distribution<std::size_t>(weights.begin(), weights.end());
  }

  // `count` words, each followed by a space.
  std::string words(std::size_t count) {
    std::string t;
    for (std::size_t i = 0; i < count; ++i) {
      t += vocab_[zipf_(rng_)];
      t += ' ';
    }
    return t;
  }

 private:
  std::mt19937_64& rng_;
  std::vector<std::string> vocab_;
  std::discrete_distribution<std::size_t> zipf_;
};

inline double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace wattos::bench
