#include "streams/rag/vector_index.hpp"

#include <hnswlib/hnswlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <unordered_map>
#include <unordered_set>

#include "core/id.hpp"

namespace wattos::streams::rag {

bool normalize(std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  if (!(sum > 0) || !std::isfinite(sum)) return false;
  const float inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= inv;
  return true;
}

float dot(std::span<const float> a, std::span<const float> b) noexcept {
  float s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

namespace {

std::vector<scored_key> top_k(std::vector<scored_key> all, std::size_t k) {
  keep_best(all, k);
  return all;
}

core::result<std::vector<float>> prepared(std::span<const float> vector, int dimensions) {
  if (static_cast<int>(vector.size()) != dimensions) {
    return core::error::invalid_argument("vector has " + std::to_string(vector.size()) + " dimensions, the index " +
                                         std::to_string(dimensions));
  }
  std::vector<float> v(vector.begin(), vector.end());
  if (!normalize(v)) return core::error::invalid_argument("a zero or non-finite vector cannot be indexed");
  return v;
}

class exact_index final : public vector_index {
 public:
  explicit exact_index(int dimensions) : dimensions_(dimensions) {}
  int dimensions() const noexcept override { return dimensions_; }
  std::size_t size() const noexcept override { return vectors_.size(); }
  core::status upsert(std::uint64_t key, std::span<const float> vector) override {
    WATTOS_ASSIGN_OR_RETURN(auto v, prepared(vector, dimensions_));
    vectors_[key] = std::move(v);
    return {};
  }
  void remove(std::uint64_t key) override { vectors_.erase(key); }
  bool contains(std::uint64_t key) const override { return vectors_.count(key) != 0; }
  std::vector<scored_key> search(std::span<const float> query, std::size_t k,
                                 const std::function<bool(std::uint64_t)>& allow) const override {
    if (static_cast<int>(query.size()) != dimensions_ || k == 0) return {};
    std::vector<float> q(query.begin(), query.end());
    if (!normalize(q)) return {};
    std::vector<scored_key> all;
    all.reserve(vectors_.size());
    for (const auto& entry : vectors_) {
      if (allow && !allow(entry.first)) continue;
      all.push_back({entry.first, dot(q, entry.second)});
    }
    return top_k(std::move(all), k);
  }
  std::vector<float> vector_of(std::uint64_t key) const override {
    auto it = vectors_.find(key);
    return it == vectors_.end() ? std::vector<float>{} : it->second;
  }
  core::status save() override { return {}; }
  core::status drop() override {
    vectors_.clear();
    return {};
  }

 private:
  int dimensions_;
  std::unordered_map<std::uint64_t, std::vector<float>> vectors_;
};

class hnsw_index final : public vector_index {
 public:
  hnsw_index(std::filesystem::path path, int dimensions, hnsw_params params)
      : path_(std::move(path)),
        dimensions_(dimensions),
        params_(params),
        space_(static_cast<std::size_t>(dimensions)) {}

  // The sidecar "<index>.meta" names the dimensions and the exact size of the index
  // file it was written with: hnswlib trusts its input, so a file that does not match
  // is never handed to it.
  std::string meta_path() const { return path_.string() + ".meta"; }

  core::status check_meta() const {
    std::ifstream in(meta_path());
    std::string magic;
    int dims = 0;
    std::uintmax_t bytes = 0;
    if (!(in >> magic >> dims >> bytes) || magic != "wattos-hnsw-1") {
      return core::error::unavailable("vector index " + path_.filename().string() + " has no valid .meta file");
    }
    if (dims != dimensions_) {
      return core::error::failed_precondition("vector index " + path_.filename().string() + " holds " +
                                              std::to_string(dims) + "-dimensional vectors, not " +
                                              std::to_string(dimensions_));
    }
    std::error_code ec;
    if (std::filesystem::file_size(path_, ec) != bytes || ec) {
      return core::error::unavailable("vector index " + path_.filename().string() + " is truncated or altered");
    }
    return {};
  }

  core::status open() {
    std::error_code ec;
    try {
      if (!path_.empty() && std::filesystem::exists(path_, ec)) {
        WATTOS_RETURN_IF_ERROR(check_meta());
        graph_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(&space_, path_.string());
        for (const auto& entry : graph_->label_lookup_) {
          if (!graph_->isMarkedDeleted(entry.second)) live_.insert(entry.first);
        }
      } else {
        graph_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(&space_, params_.initial_capacity, params_.m,
                                                                   params_.ef_construction);
      }
      graph_->setEf(params_.ef_search);
    } catch (const std::exception& e) {
      return core::error::unavailable("vector index " + path_.filename().string() + " cannot be read: " + e.what());
    }
    return {};
  }

  int dimensions() const noexcept override { return dimensions_; }
  std::size_t size() const noexcept override { return live_.size(); }

  core::status upsert(std::uint64_t key, std::span<const float> vector) override {
    WATTOS_ASSIGN_OR_RETURN(auto v, prepared(vector, dimensions_));
    try {
      if (graph_->cur_element_count >= graph_->max_elements_ && graph_->label_lookup_.count(key) == 0) {
        graph_->resizeIndex(std::max<std::size_t>(graph_->max_elements_ * 2, 1024));
      }
      graph_->addPoint(v.data(), key);
    } catch (const std::exception& e) {
      return core::error::resource_exhausted(std::string("vector index: ") + e.what());
    }
    live_.insert(key);
    return {};
  }

  void remove(std::uint64_t key) override {
    if (live_.erase(key) == 0) return;
    try {
      graph_->markDelete(key);
    } catch (const std::exception&) {
      // Already deleted: nothing to do.
    }
  }

  bool contains(std::uint64_t key) const override { return live_.count(key) != 0; }

  std::vector<scored_key> search(std::span<const float> query, std::size_t k,
                                 const std::function<bool(std::uint64_t)>& allow) const override {
    if (static_cast<int>(query.size()) != dimensions_ || k == 0 || live_.empty()) return {};
    std::vector<float> q(query.begin(), query.end());
    if (!normalize(q)) return {};
    const std::size_t fetch = std::min(live_.size(), allow ? k * 4 : k);
    std::vector<scored_key> out;
    auto result = graph_->searchKnn(q.data(), fetch);
    while (!result.empty()) {
      const auto& top = result.top();
      if (!allow || allow(top.second)) out.push_back({top.second, 1.0 - top.first});  // inner-product distance
      result.pop();
    }
    if (allow && out.size() < k) {
      // A selective filter: score the allowed keys exactly.
      out.clear();
      for (std::uint64_t key : live_) {
        if (!allow(key)) continue;
        auto v = graph_->getDataByLabel<float>(key);
        out.push_back({key, dot(q, v)});
      }
    }
    return top_k(std::move(out), k);
  }

  core::status drop() override {
    live_.clear();
    if (path_.empty()) return {};
    std::error_code ec;
    std::filesystem::remove(path_, ec);
    std::filesystem::remove(meta_path(), ec);
    return {};
  }

  std::vector<float> vector_of(std::uint64_t key) const override {
    if (live_.count(key) == 0) return {};
    return graph_->getDataByLabel<float>(key);
  }

  core::status save() override {
    if (path_.empty()) return {};
    // A temp name of its own: another process (or a second index object of the same
    // space) may be saving the same index at the same moment.
    const auto tmp = path_.string() + ".tmp-" + core::random_hex(4);
    try {
      graph_->saveIndex(tmp);
    } catch (const std::exception& e) {
      return core::error::unavailable(std::string("vector index not saved: ") + e.what());
    }
    // fsync the data before the rename makes it the index.
    if (FILE* f = std::fopen(tmp.c_str(), "rb")) {
      fsync(fileno(f));
      std::fclose(f);
    }
    std::error_code ec;
    const auto bytes = std::filesystem::file_size(tmp, ec);
    if (ec) return core::error::unavailable("vector index not saved: " + ec.message());
    const auto meta_tmp = meta_path() + ".tmp-" + core::random_hex(4);
    {
      std::ofstream meta(meta_tmp, std::ios::trunc);
      meta << "wattos-hnsw-1 " << dimensions_ << " " << bytes << "\n";
      if (!meta.flush()) return core::error::unavailable("vector index not saved: cannot write its .meta file");
    }
    // Index first, then its meta: a crash in between leaves a pair that does not match,
    // which open() refuses, and the owner rebuilds from the SQL store.
    std::filesystem::rename(tmp, path_, ec);
    if (!ec) std::filesystem::rename(meta_tmp, meta_path(), ec);
    if (ec) {
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      std::filesystem::remove(meta_tmp, ignored);
      return core::error::unavailable("vector index not saved: " + ec.message());
    }
    return {};
  }

 private:
  std::filesystem::path path_;
  int dimensions_;
  hnsw_params params_;
  hnswlib::InnerProductSpace space_;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph_;
  std::unordered_set<std::uint64_t> live_;
};

}  // namespace

std::unique_ptr<vector_index> make_exact_index(int dimensions) {
  return std::make_unique<exact_index>(dimensions);
}

core::result<std::unique_ptr<vector_index>> open_hnsw_index(const std::filesystem::path& path, int dimensions,
                                                            hnsw_params params) {
  if (dimensions <= 0 || dimensions > 65536) return core::error::invalid_argument("dimensions out of range");
  auto index = std::make_unique<hnsw_index>(path, dimensions, params);
  WATTOS_RETURN_IF_ERROR(index->open());
  return std::unique_ptr<vector_index>(std::move(index));
}

}  // namespace wattos::streams::rag
