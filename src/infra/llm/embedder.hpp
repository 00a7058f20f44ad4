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

#include <string_view>
#include <vector>

namespace wattos::infra::llm {

class hashed_embedder {
 public:
  explicit hashed_embedder(int dimensions = 384);
  int dimensions() const noexcept { return dimensions_; }
  // A unit vector (all zeros for text without any word).
  std::vector<float> embed(std::string_view text) const;

 private:
  int dimensions_;
};

// Cosine similarity of two vectors of equal size (0 when either is zero).
float cosine_similarity(const std::vector<float>& a, const std::vector<float>& b) noexcept;

}  // namespace wattos::infra::llm
