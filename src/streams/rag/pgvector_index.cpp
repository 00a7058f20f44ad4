// The pgvector backend of vector_index: one table per space, (key BIGINT PRIMARY KEY,
// embedding vector(D)), with an HNSW index for cosine distance. Vectors travel as
// pgvector's text form ('[0.1,0.2,...]'); every call is one statement, so no
// transaction holds a connection (PGlite, used in tests, serialises connections).
#include <algorithm>
#include <charconv>
#include <cstdio>

#include "infra/db/database.hpp"
#include "streams/rag/vector_index.hpp"

namespace wattos::streams::rag {
namespace {

namespace db = infra::db;

std::string vector_text(const std::vector<float>& v) {
  std::string out = "[";
  char buf[32];
  for (std::size_t i = 0; i < v.size(); ++i) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v[i]);
    if (i > 0) out += ',';
    out.append(buf, end);
  }
  out += ']';
  return out;
}

std::vector<float> parse_vector_text(std::string_view text) {
  std::vector<float> out;
  std::size_t i = text.find('[');
  if (i == std::string_view::npos) return out;
  ++i;
  while (i < text.size() && text[i] != ']') {
    float x = 0;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), x);
    if (ec != std::errc()) return {};
    out.push_back(x);
    i = static_cast<std::size_t>(end - text.data());
    if (i < text.size() && text[i] == ',') ++i;
  }
  return out;
}

class pgvector_index final : public vector_index {
 public:
  pgvector_index(std::unique_ptr<db::database> database, std::string table, int dimensions)
      : db_(std::move(database)), table_(std::move(table)), dimensions_(dimensions) {}

  core::status open() {
    WATTOS_RETURN_IF_ERROR(db_->execute("CREATE EXTENSION IF NOT EXISTS vector", {}));
    WATTOS_RETURN_IF_ERROR(db_->execute("CREATE TABLE IF NOT EXISTS " + table_ +
                                            " (key BIGINT PRIMARY KEY, embedding vector(" +
                                            std::to_string(dimensions_) + ") NOT NULL)",
                                        {}));
    WATTOS_RETURN_IF_ERROR(db_->execute(
        "CREATE INDEX IF NOT EXISTS " + table_ + "_hnsw ON " + table_ + " USING hnsw (embedding vector_cosine_ops)",
        {}));
    // The column's declared dimensions must match (atttypmod holds them for vector).
    WATTOS_ASSIGN_OR_RETURN(
        auto rows,
        db_->execute("SELECT atttypmod FROM pg_attribute WHERE attrelid = ?::regclass AND attname = 'embedding'",
                     {table_}));
    if (!rows.rows.empty()) {
      WATTOS_ASSIGN_OR_RETURN(auto typmod, rows.rows.front().get_int(0));
      if (typmod != dimensions_) {
        return core::error::failed_precondition("vector table " + table_ + " holds " + std::to_string(typmod) +
                                                "-dimensional vectors, not " + std::to_string(dimensions_));
      }
    }
    return {};
  }

  int dimensions() const noexcept override { return dimensions_; }

  std::size_t size() const noexcept override {
    auto rows = db_->execute("SELECT COUNT(*) FROM " + table_, {});
    if (!rows || rows->rows.empty()) return 0;
    return static_cast<std::size_t>(rows->rows.front().get_int(0).value_or(0));
  }

  core::status upsert(std::uint64_t key, std::span<const float> vector) override {
    if (static_cast<int>(vector.size()) != dimensions_) {
      return core::error::invalid_argument("vector has " + std::to_string(vector.size()) + " dimensions, the index " +
                                           std::to_string(dimensions_));
    }
    std::vector<float> v(vector.begin(), vector.end());
    if (!normalize(v)) return core::error::invalid_argument("a zero or non-finite vector cannot be indexed");
    WATTOS_RETURN_IF_ERROR(db_->execute("INSERT INTO " + table_ +
                                            " (key, embedding) VALUES (?, ?::vector) "
                                            "ON CONFLICT (key) DO UPDATE SET embedding = EXCLUDED.embedding",
                                        {static_cast<std::int64_t>(key), vector_text(v)}));
    return {};
  }

  void remove(std::uint64_t key) override {
    (void)db_->execute("DELETE FROM " + table_ + " WHERE key = ?", {static_cast<std::int64_t>(key)});
  }

  bool contains(std::uint64_t key) const override {
    auto rows = db_->execute("SELECT 1 FROM " + table_ + " WHERE key = ?", {static_cast<std::int64_t>(key)});
    return rows && !rows->rows.empty();
  }

  std::vector<scored_key> search(std::span<const float> query, std::size_t k,
                                 const std::function<bool(std::uint64_t)>& allow) const override {
    if (static_cast<int>(query.size()) != dimensions_ || k == 0) return {};
    std::vector<float> q(query.begin(), query.end());
    if (!normalize(q)) return {};
    const std::string qt = vector_text(q);
    const auto fetch = static_cast<std::int64_t>(allow ? k * 4 : k);
    auto rows = db_->execute(
        "SELECT key, 1 - (embedding <=> ?::vector) FROM " + table_ + " ORDER BY embedding <=> ?::vector LIMIT ?",
        {qt, qt, fetch});
    std::vector<scored_key> out;
    if (!rows) return out;
    for (const auto& r : rows->rows) {
      const auto key = static_cast<std::uint64_t>(r.get_int(0).value_or(0));
      if (allow && !allow(key)) continue;
      out.push_back({key, r.get_double(1).value_or(0)});
    }
    if (allow && out.size() < k) {
      // A selective filter: score every allowed key exactly.
      out.clear();
      auto all = db_->execute("SELECT key, 1 - (embedding <=> ?::vector) FROM " + table_, {qt});
      if (!all) return out;
      for (const auto& r : all->rows) {
        const auto key = static_cast<std::uint64_t>(r.get_int(0).value_or(0));
        if (allow(key)) out.push_back({key, r.get_double(1).value_or(0)});
      }
      std::sort(out.begin(), out.end(), [](const scored_key& a, const scored_key& b) {
        return a.score != b.score ? a.score > b.score : a.key < b.key;
      });
    }
    if (out.size() > k) out.resize(k);
    return out;
  }

  std::vector<float> vector_of(std::uint64_t key) const override {
    auto rows =
        db_->execute("SELECT embedding::text FROM " + table_ + " WHERE key = ?", {static_cast<std::int64_t>(key)});
    if (!rows || rows->rows.empty()) return {};
    return parse_vector_text(rows->rows.front().get_text(0).value_or(""));
  }

  core::status save() override { return {}; }  // every write is already durable
  core::status drop() override {
    WATTOS_RETURN_IF_ERROR(db_->execute("DROP TABLE IF EXISTS " + table_, {}));
    return {};
  }

 private:
  std::unique_ptr<db::database> db_;
  std::string table_;
  int dimensions_;
};

}  // namespace

core::result<std::unique_ptr<vector_index>> open_pgvector_index(const std::string& postgres_url,
                                                                const std::string& table, int dimensions) {
  if (dimensions <= 0 || dimensions > 16000) return core::error::invalid_argument("dimensions out of range");
  if (table.empty() || table.size() > 60 || !std::all_of(table.begin(), table.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
      })) {
    return core::error::invalid_argument("vector table name may hold only letters, digits and _");
  }
  core::database_settings settings;
  settings.backend = "postgres";
  settings.postgres_url = postgres_url;
  settings.pool_size = 2;
  WATTOS_ASSIGN_OR_RETURN(auto database, db::database::open(settings));
  auto index = std::make_unique<pgvector_index>(std::move(database), table, dimensions);
  WATTOS_RETURN_IF_ERROR(index->open());
  return std::unique_ptr<vector_index>(std::move(index));
}

}  // namespace wattos::streams::rag
