// File: streams/rag/vector_index.hpp
//
// Nearest-neighbour search over chunk embeddings, behind one interface with one
// conformance suite (tests/unit/streams/vector_index_test.cpp):
//   exact  brute force over all vectors; the reference, and fine up to ~100k vectors
//   hnsw   hnswlib's HNSW graph (M 16, ef_construction 200, ef_search 128), persisted
//          to a file per space (written to a temporary file and renamed, so a crash
//          leaves the old file or the new one, never half of one); deletes mark the
//          point; a file that cannot be read is reported, and the caller rebuilds
//          the index from the vectors in the SQL store.
//   pgvector  a table per space in PostgreSQL with the pgvector extension and an HNSW
//          index (vector_cosine_ops): durable and shared by every process.
// Vectors are L2-normalised on insert; scores are cosine similarities. A filter
// (`allow`) is applied to candidates; when it leaves fewer than k of the HNSW
// candidates, the search falls back to an exact scan of the allowed keys.
//
// Thread safety: searches may run concurrently; upsert/remove/save need exclusive
// access (the owner holds a shared_mutex).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/error.hpp"
#include "streams/rag/bm25.hpp"

namespace wattos::streams::rag {

class vector_index {
 public:
  virtual ~vector_index() = default;
  virtual int dimensions() const noexcept = 0;
  virtual std::size_t size() const noexcept = 0;
  // Inserts or replaces; invalid_argument on a dimension mismatch or a zero vector.
  virtual core::status upsert(std::uint64_t key, std::span<const float> vector) = 0;
  virtual void remove(std::uint64_t key) = 0;
  virtual bool contains(std::uint64_t key) const = 0;
  // Best first.
  virtual std::vector<scored_key> search(std::span<const float> query, std::size_t k,
                                         const std::function<bool(std::uint64_t)>& allow = {}) const = 0;
  // The stored (normalised) vector of a key, empty when absent.
  virtual std::vector<float> vector_of(std::uint64_t key) const = 0;
  // Persists the index (a no-op for in-memory indexes).
  virtual core::status save() = 0;
  // Deletes the index and its storage (files, table); the object is unusable after.
  virtual core::status drop() = 0;
};

struct hnsw_params {
  std::size_t m = 16;
  std::size_t ef_construction = 200;
  std::size_t ef_search = 128;
  std::size_t initial_capacity = 1024;  // grows by doubling
};

std::unique_ptr<vector_index> make_exact_index(int dimensions);

// Opens the index file at `path` when it exists (its dimensions must match), or starts
// an empty one that save() will write there.
core::result<std::unique_ptr<vector_index>> open_hnsw_index(const std::filesystem::path& path, int dimensions,
                                                            hnsw_params params = {});

// A pgvector-backed index in table `table` (letters, digits and _ only), created with
// its HNSW index when missing; a table of other dimensions is failed_precondition.
core::result<std::unique_ptr<vector_index>> open_pgvector_index(const std::string& postgres_url,
                                                                const std::string& table, int dimensions);

// Normalises in place; false for a zero (or non-finite) vector.
bool normalize(std::vector<float>& v);
float dot(std::span<const float> a, std::span<const float> b) noexcept;

}  // namespace wattos::streams::rag
