// File: infra/llm/embedder.hpp
//
// The built-in offline embedding model (`wattos-embed`): deterministic, no model
// files. Features are folded word unigrams (stemmed, stop words dropped), word
// bigrams and character 3- to 5-grams of each word (with boundary marks), each
// weighted by sublinear term frequency and by a per-kind weight, hashed (signed
// feature hashing, 64-bit FNV-1a) into `dimensions` buckets and L2-normalised. Texts
// sharing words and word parts therefore get a high cosine similarity, across
// inflections and German compounds ("Mietvertrag" ~ "Vertrag").
//
// Example:
//   llm::hashed_embedder embedder(384);
//   std::vector<float> v = embedder.embed("Wie kündige ich den Mietvertrag?");
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace wattos::infra::llm {

class hashed_embedder {
 public:
  explicit hashed_embedder(int dimensions = 384);
  int dimensions() const noexcept { return dimensions_; }
  // A unit vector (all zeros for text without any word).
  std::vector<float> embed(std::string_view text) const;

  // As embed(), with each word's features (its unigram and character n-grams; a
  // bigram gets the geometric mean of its words) multiplied by `weight(stem)`, the
  // stem as word_stems() gives it. Used to weight a query by the collection's inverse
  // document frequencies (SMART lnc.ltc: documents plain, queries IDF-weighted).
  using word_weight = std::function<double(std::string_view stem)>;
  std::vector<float> embed(std::string_view text, const word_weight& weight) const;

  // The distinct stems the embedder makes of a text (stop words dropped), for
  // document-frequency statistics.
  static std::vector<std::string> word_stems(std::string_view text);

 private:
  int dimensions_;
};

// Cosine similarity of two vectors of equal size (0 when either is zero).
float cosine_similarity(const std::vector<float>& a, const std::vector<float>& b) noexcept;

}  // namespace wattos::infra::llm
