#include "streams/rag/rag_service.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/clock.hpp"
#include "core/id.hpp"
#include "core/log.hpp"
#include "infra/llm/text.hpp"
#include "streams/rag/compounds.hpp"
#include "streams/rag/hybrid.hpp"

namespace wattos::streams::rag {

namespace asio = boost::asio;
namespace db = infra::db;

namespace {

constexpr std::size_t max_name_bytes = 100;
constexpr std::size_t max_description_bytes = 2000;
constexpr std::size_t max_chunk_bytes = std::size_t{64} * 1024;
constexpr std::size_t max_chunks_per_document = 20000;
constexpr std::size_t max_query_bytes = 4096;
constexpr std::size_t max_k = 100;
constexpr std::size_t embed_batch = 64;

std::uint64_t new_chunk_key() {
  const std::string hex = core::random_hex(8);
  std::uint64_t key = 0;
  std::from_chars(hex.data(), hex.data() + hex.size(), key, 16);
  return (key & 0x7fffffffffffffffULL) | 1;  // positive in a signed BIGINT, never 0
}

db::blob to_blob(const std::vector<float>& v) {
  db::blob b;
  b.bytes.resize(v.size() * sizeof(float));
  std::memcpy(b.bytes.data(), v.data(), b.bytes.size());
  return b;
}

std::vector<float> from_blob(const db::blob& b) {
  std::vector<float> v(b.bytes.size() / sizeof(float));
  std::memcpy(v.data(), b.bytes.data(), v.size() * sizeof(float));
  return v;
}

core::status check_space_name(const std::string& name) {
  if (name.empty() || name.size() > max_name_bytes || name.find_first_of("\n\r\t") != std::string::npos) {
    return core::error::invalid_argument("name must have 1 to 100 characters on one line");
  }
  return {};
}

core::status check_description(const std::string& description) {
  if (description.size() > max_description_bytes) {
    return core::error::invalid_argument("description may have at most 2000 bytes");
  }
  return {};
}

bool valid_date(std::string_view d) {
  if (d.empty()) return true;
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isdigit(static_cast<unsigned char>(d[i]))) return false;
  }
  return true;
}

// What filters and citations need of a chunk, kept in memory per loaded space.
struct chunk_meta {
  std::string document_id;
  std::string doc_type;
  std::vector<std::string> tags;
  std::string date;
};

struct loaded_space {
  space_info info;
  std::unique_ptr<retriever> index;
  std::mutex meta_mutex;  // guards meta and keys_of
  std::unordered_map<std::uint64_t, chunk_meta> meta;
  std::unordered_map<std::string, std::vector<std::uint64_t>> keys_of;  // document -> chunk keys
  std::mutex save_mutex;                                                // guards next_save
  std::chrono::steady_clock::time_point next_save{};                    // the first save is due at once
};

// Saves the space's vector index when it is due. A save writes the whole index (and
// syncs it), so saving after every document made ingestion quadratic in the space's
// size: saves are paced to take at most a tenth of the time, a second apart at least.
// What a crash loses in between, the next load adds back from the store.
void save_when_due(loaded_space& space) {
  const auto start = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(space.save_mutex);
    if (start < space.next_save) return;
    space.next_save = start + std::chrono::hours(1);  // one saver at a time
  }
  auto st = space.index->save();
  const auto end = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(space.save_mutex);
    space.next_save = end + std::max<std::chrono::steady_clock::duration>(std::chrono::seconds(1), (end - start) * 9);
  }
  if (!st.ok()) core::log_warn("vector index not saved", {{"space", space.info.id}, {"error", st.err().message()}});
}

// Marks the words of `text` whose stems are among the query's: "**Frist**".
std::string snippet_for(const analyzer& a, std::string_view text, const std::set<std::string>& query_stems,
                        std::size_t width = 280) {
  struct word_span {
    std::size_t begin, end;
    bool hit;
  };
  std::vector<word_span> words;
  std::size_t i = 0;
  auto is_word_byte = [](unsigned char c) { return std::isalnum(c) || c >= 0x80; };
  while (i < text.size()) {
    while (i < text.size() && !is_word_byte(static_cast<unsigned char>(text[i]))) ++i;
    const std::size_t begin = i;
    while (i < text.size() && is_word_byte(static_cast<unsigned char>(text[i]))) ++i;
    if (i == begin) break;
    bool hit = false;
    for (const auto& stem : a.query_terms(text.substr(begin, i - begin))) {
      if (query_stems.count(stem) != 0) hit = true;
    }
    words.push_back({begin, i, hit});
  }
  // The window starts a little before the first hit.
  std::size_t start = 0;
  for (const auto& w : words) {
    if (w.hit) {
      start = w.begin > 60 ? w.begin - 60 : 0;
      break;
    }
  }
  while (start > 0 && start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  std::size_t end = std::min(text.size(), start + width);
  while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
  std::string out = start > 0 ? "…" : "";
  std::size_t pos = start;
  for (const auto& w : words) {
    if (w.begin < start || w.end > end) continue;
    out.append(text.substr(pos, w.begin - pos));
    if (w.hit) {
      out += "**";
      out.append(text.substr(w.begin, w.end - w.begin));
      out += "**";
    } else {
      out.append(text.substr(w.begin, w.end - w.begin));
    }
    pos = w.end;
  }
  if (pos < end) out.append(text.substr(pos, end - pos));
  if (end < text.size()) out += "…";
  return out;
}

}  // namespace

struct rag_service::impl {
  impl(db::database& database, infra::llm::llm_gateway& gateway, std::filesystem::path dir,
       core::rag_settings rag_settings)
      : db(database), llm(gateway), vectors_dir(dir / "vectors"), settings(std::move(rag_settings)) {}

  db::database& db;
  infra::llm::llm_gateway& llm;
  std::filesystem::path vectors_dir;
  core::rag_settings settings;
  analyzer text_analyzer;
  std::mutex mutex;                                          // guards spaces
  std::vector<rag_service::space_deleted_fn> space_deleted;  // set before serving
  std::mutex load_mutex;  // held while a space is loaded (never while `mutex` is wanted by the loader's callers)
  std::map<std::string, std::shared_ptr<loaded_space>, std::less<>> spaces;

  // The requester's access to a space row, or not_found.
  core::result<space_info> visible(const requester& who, std::string_view id_or_name) {
    WATTOS_ASSIGN_OR_RETURN(
        auto rows,
        db.execute("SELECT s.id, s.name, s.description, s.owner_id, s.embedding_model, s.dimensions, s.created_at, "
                   "(SELECT m.role FROM rag_members m WHERE m.space_id = s.id AND m.user_id = ?), "
                   "(SELECT COUNT(*) FROM rag_chunks c WHERE c.space_id = s.id) "
                   "FROM rag_spaces s WHERE s.id = ? OR s.name = ?",
                   {who.user_id, std::string(id_or_name), std::string(id_or_name)}));
    if (rows.rows.empty()) return core::error::not_found("knowledge space not found");
    const auto& r = rows.rows.front();
    space_info s;
    WATTOS_ASSIGN_OR_RETURN(s.id, r.get_text(0));
    WATTOS_ASSIGN_OR_RETURN(s.name, r.get_text(1));
    WATTOS_ASSIGN_OR_RETURN(s.description, r.get_text(2));
    WATTOS_ASSIGN_OR_RETURN(s.owner_id, r.get_text(3));
    WATTOS_ASSIGN_OR_RETURN(s.embedding_model, r.get_text(4));
    WATTOS_ASSIGN_OR_RETURN(auto dims, r.get_int(5));
    s.dimensions = static_cast<int>(dims);
    WATTOS_ASSIGN_OR_RETURN(s.created_at, r.get_text(6));
    WATTOS_ASSIGN_OR_RETURN(s.chunks, r.get_int(8));
    const std::string role = r.is_null(7) ? "" : r.get_text(7).value_or("");
    if (s.owner_id == who.user_id)
      s.access = "owner";
    else if (who.admin)
      s.access = "admin";
    else if (!role.empty())
      s.access = role;
    else
      return core::error::not_found("knowledge space not found");
    return s;
  }

  static bool can_write(const space_info& s) { return s.access != "read"; }
  static bool can_manage(const space_info& s) { return s.access == "owner" || s.access == "admin"; }

  std::filesystem::path index_path(const std::string& space_id) const { return vectors_dir / (space_id + ".hnsw"); }

  static std::string table_for(const std::string& space_id) {
    std::string table = "rag_vectors_";
    for (char c : space_id) table += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return table;
  }

  core::result<std::unique_ptr<vector_index>> open_vectors(const space_info& info) {
    if (settings.vector_backend == "pgvector") {
      return open_pgvector_index(settings.pgvector_url, table_for(info.id), info.dimensions);
    }
    std::error_code ec;
    std::filesystem::create_directories(vectors_dir, ec);
    return open_hnsw_index(index_path(info.id), info.dimensions);
  }

  // Removes a space's vector storage, loaded or not.
  void drop_vectors(const space_info& info) {
    if (auto opened = open_vectors(info); opened.ok()) (void)(*opened)->drop();
    std::error_code ec;
    std::filesystem::remove(index_path(info.id), ec);
    std::filesystem::remove(index_path(info.id).string() + ".meta", ec);
  }

  // The space's indexes, loaded (and the HNSW file checked or rebuilt) on first use.
  core::result<std::shared_ptr<loaded_space>> load(const space_info& info) {
    {
      std::lock_guard lock(mutex);
      if (auto it = spaces.find(info.id); it != spaces.end()) return it->second;
    }
    // One load at a time: two first uses of a space at once (ingestion workers) would
    // each rebuild the same index files under the other's feet.
    std::lock_guard loading(load_mutex);
    {
      std::lock_guard lock(mutex);
      if (auto it = spaces.find(info.id); it != spaces.end()) return it->second;
    }
    auto space = std::make_shared<loaded_space>();
    space->info = info;
    WATTOS_ASSIGN_OR_RETURN(
        auto rows,
        db.execute(
            "SELECT key, text, document_id, doc_type, tags, doc_date, embedding FROM rag_chunks WHERE space_id = ?",
            {info.id}));
    auto opened = open_vectors(info);
    std::unique_ptr<vector_index> vectors;
    if (opened.ok()) vectors = std::move(*opened);
    std::vector<std::pair<std::uint64_t, std::vector<float>>> embeddings;
    std::vector<bool> missing;  // stored chunks the index file lacks (indexed after its last save)
    std::size_t added = 0;      // how many of them
    for (const auto& r : rows.rows) {
      WATTOS_ASSIGN_OR_RETURN(auto key_value, r.get_int(0));
      const auto key = static_cast<std::uint64_t>(key_value);
      const bool there = vectors && vectors->contains(key);
      added += there ? 0 : 1;
      missing.push_back(!there);
      WATTOS_ASSIGN_OR_RETURN(auto blob, r.get_blob(6));
      embeddings.emplace_back(key, from_blob(blob));
    }
    // Missing chunks are added to the file's index; keys the store no longer holds
    // (deleted after its last save) or an unreadable file make it rebuilt whole.
    const bool rebuild = !vectors || vectors->size() != rows.rows.size() - added;
    if (rebuild) {
      core::log_warn("rebuilding vector index",
                     {{"space", info.id}, {"reason", opened.ok() ? std::string("stale") : opened.err().message()}});
      if (vectors) (void)vectors->drop();
      vectors.reset();
      drop_vectors(info);
      WATTOS_ASSIGN_OR_RETURN(vectors, open_vectors(info));
      missing.assign(rows.rows.size(), true);
      added = rows.rows.size();
    }
    if (!rebuild && added > 0)
      core::log_info("vector index caught up with the store", {{"space", info.id}, {"added", std::to_string(added)}});
    space->index = std::make_unique<retriever>(std::move(vectors));
    for (std::size_t i = 0; i < rows.rows.size(); ++i) {
      const auto& r = rows.rows[i];
      WATTOS_ASSIGN_OR_RETURN(auto text, r.get_text(1));
      chunk_meta meta;
      WATTOS_ASSIGN_OR_RETURN(meta.document_id, r.get_text(2));
      WATTOS_ASSIGN_OR_RETURN(meta.doc_type, r.get_text(3));
      WATTOS_ASSIGN_OR_RETURN(auto tags, r.get_text(4));
      meta.tags = db::split_lines(tags);
      WATTOS_ASSIGN_OR_RETURN(meta.date, r.get_text(5));
      const auto key = embeddings[i].first;
      if (missing[i]) {
        WATTOS_RETURN_IF_ERROR(space->index->add(key, text, embeddings[i].second));
      } else {
        WATTOS_RETURN_IF_ERROR(space->index->add_lexical_only(key, text));
      }
      space->keys_of[meta.document_id].push_back(key);
      space->meta.emplace(key, std::move(meta));
    }
    if (added > 0) WATTOS_RETURN_IF_ERROR(space->index->save());
    std::lock_guard lock(mutex);
    auto [it, inserted] = spaces.emplace(info.id, space);
    return it->second;
  }

  void forget(const std::string& space_id) {
    std::lock_guard lock(mutex);
    spaces.erase(space_id);
  }
};

namespace {

// The schema in both dialects; only the type of the embedding bytes differs.
std::string spaces_schema(const std::string& bytes_type) {
  return "CREATE TABLE rag_spaces (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT NOT NULL,"
         " owner_id TEXT NOT NULL, embedding_model TEXT NOT NULL, dimensions INTEGER NOT NULL,"
         " created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
         "CREATE TABLE rag_members (space_id TEXT NOT NULL REFERENCES rag_spaces(id) ON DELETE CASCADE,"
         " user_id TEXT NOT NULL, role TEXT NOT NULL, PRIMARY KEY (space_id, user_id));"
         "CREATE TABLE rag_chunks (key BIGINT PRIMARY KEY, space_id TEXT NOT NULL REFERENCES rag_spaces(id) ON DELETE "
         "CASCADE,"
         " document_id TEXT NOT NULL, title TEXT NOT NULL, ordinal INTEGER NOT NULL, text TEXT NOT NULL,"
         " page INTEGER NOT NULL, heading_path TEXT NOT NULL, char_start BIGINT NOT NULL, char_end BIGINT NOT NULL,"
         " doc_type TEXT NOT NULL, tags TEXT NOT NULL, doc_date TEXT NOT NULL, embedding " +
         bytes_type +
         " NOT NULL,"
         " created_at TEXT NOT NULL);"
         "CREATE INDEX rag_chunks_space_document ON rag_chunks (space_id, document_id)";
}

}  // namespace

const std::vector<db::migration>& rag_service::migrations() {
  static const std::vector<db::migration> list = {
      {1, "spaces", spaces_schema("BLOB"), spaces_schema("BYTEA")},
  };
  return list;
}

rag_service::rag_service(db::database& database, infra::llm::llm_gateway& llm, std::filesystem::path data_dir,
                         core::rag_settings settings)
    : impl_(std::make_unique<impl>(database, llm, std::move(data_dir), settings)) {
  // Process-wide, and read when the first text is analysed (not here: idle memory).
  configure_compound_dictionary(settings.compound_dictionary);
}

rag_service::~rag_service() {
  std::lock_guard lock(impl_->mutex);
  for (auto& entry : impl_->spaces) {
    if (auto st = entry.second->index->save(); !st.ok()) {
      core::log_warn("vector index not saved", {{"space", entry.first}, {"error", st.err().message()}});
    }
  }
}

core::result<space_info> rag_service::create_space(const requester& who, std::string name, std::string description,
                                                   std::string embedding_model) {
  while (!name.empty() && name.back() == ' ') name.pop_back();
  while (!name.empty() && name.front() == ' ') name.erase(name.begin());
  WATTOS_RETURN_IF_ERROR(check_space_name(name));
  WATTOS_RETURN_IF_ERROR(check_description(description));
  if (embedding_model.empty()) embedding_model = impl_->llm.settings().embedding_model;
  WATTOS_ASSIGN_OR_RETURN(auto model, impl_->llm.model(embedding_model));
  const auto& caps = model.settings->capabilities;
  if (std::find(caps.begin(), caps.end(), "embeddings") == caps.end()) {
    return core::error::invalid_argument("model '" + embedding_model + "' does not make embeddings");
  }
  int dims = model.settings->dimensions;
  if (dims <= 0) return core::error::invalid_argument("model '" + embedding_model + "' has no dimensions configured");
  space_info s;
  s.id = core::new_uuid_v7();
  s.name = std::move(name);
  s.description = std::move(description);
  s.owner_id = who.user_id;
  s.embedding_model = embedding_model;
  s.dimensions = dims;
  s.created_at = core::utc_now_iso();
  s.access = "owner";
  auto st = impl_->db.execute(
      "INSERT INTO rag_spaces (id, name, description, owner_id, embedding_model, dimensions, created_at, updated_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      {s.id, s.name, s.description, s.owner_id, s.embedding_model, std::int64_t{dims}, s.created_at, s.created_at});
  if (!st) {
    if (st.err().code() == core::errc::already_exists) {
      return core::error::already_exists("a knowledge space named '" + s.name + "' exists");
    }
    return st.err();
  }
  return s;
}

core::result<std::vector<space_info>> rag_service::list_spaces(const requester& who) {
  WATTOS_ASSIGN_OR_RETURN(
      auto rows,
      impl_->db.execute("SELECT s.id FROM rag_spaces s WHERE s.owner_id = ? OR ? = 1 OR EXISTS "
                        "(SELECT 1 FROM rag_members m WHERE m.space_id = s.id AND m.user_id = ?) ORDER BY s.name",
                        {who.user_id, std::int64_t{who.admin ? 1 : 0}, who.user_id}));
  std::vector<space_info> out;
  for (const auto& r : rows.rows) {
    WATTOS_ASSIGN_OR_RETURN(auto id, r.get_text(0));
    WATTOS_ASSIGN_OR_RETURN(auto s, impl_->visible(who, id));
    out.push_back(std::move(s));
  }
  return out;
}

core::result<space_info> rag_service::get_space(const requester& who, std::string_view id_or_name) {
  return impl_->visible(who, id_or_name);
}

core::result<space_info> rag_service::update_space(const requester& who, std::string_view id,
                                                   std::optional<std::string> name,
                                                   std::optional<std::string> description) {
  WATTOS_ASSIGN_OR_RETURN(auto s, impl_->visible(who, id));
  if (!impl::can_write(s)) return core::error::permission_denied("read access only");
  if (name) {
    WATTOS_RETURN_IF_ERROR(check_space_name(*name));
    s.name = *name;
  }
  if (description) {
    WATTOS_RETURN_IF_ERROR(check_description(*description));
    s.description = *description;
  }
  auto st = impl_->db.execute("UPDATE rag_spaces SET name = ?, description = ?, updated_at = ? WHERE id = ?",
                              {s.name, s.description, core::utc_now_iso(), s.id});
  if (!st) {
    if (st.err().code() == core::errc::already_exists) {
      return core::error::already_exists("a knowledge space named '" + s.name + "' exists");
    }
    return st.err();
  }
  std::lock_guard lock(impl_->mutex);
  if (auto it = impl_->spaces.find(s.id); it != impl_->spaces.end()) it->second->info.name = s.name;
  return s;
}

core::status rag_service::delete_space(const requester& who, std::string_view id) {
  WATTOS_ASSIGN_OR_RETURN(auto s, impl_->visible(who, id));
  if (!impl::can_manage(s)) return core::error::permission_denied("only the owner or an admin may delete a space");
  WATTOS_RETURN_IF_ERROR(impl_->db.transaction([&](db::connection& c) -> core::status {
    WATTOS_RETURN_IF_ERROR(c.execute("DELETE FROM rag_chunks WHERE space_id = ?", {s.id}));
    WATTOS_RETURN_IF_ERROR(c.execute("DELETE FROM rag_members WHERE space_id = ?", {s.id}));
    WATTOS_RETURN_IF_ERROR(c.execute("DELETE FROM rag_spaces WHERE id = ?", {s.id}));
    return {};
  }));
  impl_->forget(s.id);
  impl_->drop_vectors(s);
  for (const auto& fn : impl_->space_deleted) fn(s.id);
  return {};
}

void rag_service::on_space_deleted(space_deleted_fn fn) {
  impl_->space_deleted.push_back(std::move(fn));
}

core::result<std::vector<member_info>> rag_service::list_members(const requester& who, std::string_view space_id) {
  WATTOS_ASSIGN_OR_RETURN(auto s, impl_->visible(who, space_id));
  WATTOS_ASSIGN_OR_RETURN(
      auto rows,
      impl_->db.execute("SELECT user_id, role FROM rag_members WHERE space_id = ? ORDER BY user_id", {s.id}));
  std::vector<member_info> out;
  for (const auto& r : rows.rows) {
    member_info m;
    WATTOS_ASSIGN_OR_RETURN(m.user_id, r.get_text(0));
    WATTOS_ASSIGN_OR_RETURN(m.role, r.get_text(1));
    out.push_back(std::move(m));
  }
  return out;
}

core::status rag_service::set_member(const requester& who, std::string_view space_id, std::string_view user_id,
                                     std::string_view role) {
  WATTOS_ASSIGN_OR_RETURN(auto s, impl_->visible(who, space_id));
  if (!impl::can_manage(s)) return core::error::permission_denied("only the owner or an admin may manage members");
  if (role != "read" && role != "write") return core::error::invalid_argument("role must be read or write");
  if (user_id.empty() || user_id.size() > 100) return core::error::invalid_argument("user_id is required");
  if (user_id == s.owner_id) return core::error::invalid_argument("the owner is not a member");
  const std::string uid(user_id);
  return impl_->db.transaction([&](db::connection& c) -> core::status {
    WATTOS_RETURN_IF_ERROR(c.execute("DELETE FROM rag_members WHERE space_id = ? AND user_id = ?", {s.id, uid}));
    WATTOS_RETURN_IF_ERROR(c.execute("INSERT INTO rag_members (space_id, user_id, role) VALUES (?, ?, ?)",
                                     {s.id, uid, std::string(role)}));
    return {};
  });
}

core::status rag_service::remove_member(const requester& who, std::string_view space_id, std::string_view user_id) {
  WATTOS_ASSIGN_OR_RETURN(auto s, impl_->visible(who, space_id));
  if (!impl::can_manage(s)) return core::error::permission_denied("only the owner or an admin may manage members");
  WATTOS_ASSIGN_OR_RETURN(auto r, impl_->db.execute("DELETE FROM rag_members WHERE space_id = ? AND user_id = ?",
                                                    {s.id, std::string(user_id)}));
  if (r.rows_affected == 0) return core::error::not_found("no such member");
  return {};
}

asio::awaitable<core::result<std::size_t>> rag_service::index_document(const requester& who, std::string space_id,
                                                                       document_input document) {
  auto visible = impl_->visible(who, space_id);
  if (!visible) co_return std::move(visible).err();
  const space_info s = std::move(*visible);
  if (!impl::can_write(s)) co_return core::error::permission_denied("read access only");
  if (document.document_id.empty() || document.document_id.size() > 200) {
    co_return core::error::invalid_argument("document_id must have 1 to 200 characters");
  }
  if (document.chunks.empty() || document.chunks.size() > max_chunks_per_document) {
    co_return core::error::invalid_argument("a document needs 1 to 20000 chunks");
  }
  for (const auto& c : document.chunks) {
    if (c.text.empty() || c.text.size() > max_chunk_bytes) {
      co_return core::error::invalid_argument("each chunk needs text of at most 64 KiB");
    }
  }
  for (const auto& t : document.tags) {
    if (t.empty() || t.size() > 100 || t.find('\n') != std::string::npos) {
      co_return core::error::invalid_argument("tags must have 1 to 100 characters on one line");
    }
  }
  if (!valid_date(document.date)) co_return core::error::invalid_argument("date must be YYYY-MM-DD");
  if (document.title.size() > 500) co_return core::error::invalid_argument("title may have at most 500 bytes");

  // Embed first, outside any transaction; then swap the document's chunks in one.
  std::vector<std::vector<float>> vectors;
  const infra::llm::caller system_call{who.user_id, "", {}, who.request_id};
  for (std::size_t start = 0; start < document.chunks.size(); start += embed_batch) {
    infra::llm::embedding_request batch;
    batch.model = s.embedding_model;
    for (std::size_t i = start; i < std::min(document.chunks.size(), start + embed_batch); ++i) {
      batch.inputs.push_back(document.title.empty() ? document.chunks[i].text
                                                    : document.title + ". " + document.chunks[i].text);
    }
    auto embedded = co_await impl_->llm.embed(system_call, std::move(batch));
    if (!embedded) co_return std::move(embedded).err();
    for (auto& v : embedded->vectors) {
      if (static_cast<int>(v.size()) != s.dimensions) {
        co_return core::error::failed_precondition(
            "the embedding model now makes " + std::to_string(v.size()) + "-dimensional vectors, the space holds " +
            std::to_string(s.dimensions) + ": re-embed the space before adding documents");
      }
      vectors.push_back(std::move(v));
    }
  }
  std::vector<std::uint64_t> keys;
  for (std::size_t i = 0; i < document.chunks.size(); ++i) keys.push_back(new_chunk_key());
  const std::string now = core::utc_now_iso();
  const std::string tags = db::join_lines(document.tags);
  auto written = impl_->db.transaction([&](db::connection& c) -> core::status {
    WATTOS_RETURN_IF_ERROR(
        c.execute("DELETE FROM rag_chunks WHERE space_id = ? AND document_id = ?", {s.id, document.document_id}));
    for (std::size_t i = 0; i < document.chunks.size(); ++i) {
      const auto& ch = document.chunks[i];
      WATTOS_RETURN_IF_ERROR(c.execute(
          "INSERT INTO rag_chunks (key, space_id, document_id, title, ordinal, text, page, heading_path, char_start, "
          "char_end, doc_type, tags, doc_date, embedding, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
          "?, ?)",
          {static_cast<std::int64_t>(keys[i]), s.id, document.document_id, document.title, static_cast<std::int64_t>(i),
           ch.text, std::int64_t{ch.page}, ch.heading_path, ch.char_start, ch.char_end, document.doc_type, tags,
           document.date, to_blob(vectors[i]), now}));
    }
    return {};
  });
  if (!written.ok()) co_return written.err();
  // The in-memory indexes follow the store.
  auto space = impl_->load(s);
  if (!space) co_return std::move(space).err();
  auto& loaded = **space;
  std::vector<std::uint64_t> old_keys;
  {
    std::lock_guard lock(loaded.meta_mutex);
    if (auto it = loaded.keys_of.find(document.document_id); it != loaded.keys_of.end()) {
      old_keys = std::move(it->second);
      loaded.keys_of.erase(it);
    }
  }
  const bool fresh_load = loaded.meta.count(keys.front()) != 0;  // load() just read the new rows
  if (!fresh_load) {
    for (auto key : old_keys) {
      loaded.index->remove(key);
      std::lock_guard lock(loaded.meta_mutex);
      loaded.meta.erase(key);
    }
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto st = loaded.index->add(keys[i], document.chunks[i].text, vectors[i]);
      if (!st.ok()) co_return st.err();
      std::lock_guard lock(loaded.meta_mutex);
      loaded.meta[keys[i]] = chunk_meta{document.document_id, document.doc_type, document.tags, document.date};
    }
  }
  {
    std::lock_guard lock(loaded.meta_mutex);
    loaded.keys_of[document.document_id] = keys;
  }
  // Large indexes are saved when the process ends (a save of one would hold this
  // thread, an I/O thread for the API, for seconds); after a crash the next load adds
  // what the file lacks from the store.
  if (loaded.index->size() <= 100000) save_when_due(loaded);
  co_return keys.size();
}

core::result<std::size_t> rag_service::delete_document(const requester& who, std::string_view space_id,
                                                       std::string_view document_id) {
  WATTOS_ASSIGN_OR_RETURN(auto s, impl_->visible(who, space_id));
  if (!impl::can_write(s)) return core::error::permission_denied("read access only");
  WATTOS_ASSIGN_OR_RETURN(auto r, impl_->db.execute("DELETE FROM rag_chunks WHERE space_id = ? AND document_id = ?",
                                                    {s.id, std::string(document_id)}));
  if (r.rows_affected == 0) return core::error::not_found("no such document in this space");
  std::shared_ptr<loaded_space> loaded;
  {
    std::lock_guard lock(impl_->mutex);
    if (auto it = impl_->spaces.find(s.id); it != impl_->spaces.end()) loaded = it->second;
  }
  if (loaded) {
    std::vector<std::uint64_t> keys;
    {
      std::lock_guard lock(loaded->meta_mutex);
      if (auto it = loaded->keys_of.find(std::string(document_id)); it != loaded->keys_of.end()) {
        keys = std::move(it->second);
        loaded->keys_of.erase(it);
      }
      for (auto key : keys) loaded->meta.erase(key);
    }
    for (auto key : keys) loaded->index->remove(key);
    if (auto st = loaded->index->save(); !st.ok())
      core::log_warn("vector index not saved", {{"error", st.err().message()}});
  }
  return static_cast<std::size_t>(r.rows_affected);
}

asio::awaitable<core::result<std::vector<search_hit>>> rag_service::search(const requester& who,
                                                                           search_request request) {
  if (request.query.find_first_not_of(" \t\r\n") == std::string::npos) {
    co_return core::error::invalid_argument("query must not be empty");
  }
  if (request.query.size() > max_query_bytes)
    co_return core::error::payload_too_large("query may have at most 4096 bytes");
  if (request.space_ids.empty() || request.space_ids.size() > 50) {
    co_return core::error::invalid_argument("name 1 to 50 spaces");
  }
  if (request.k == 0 || request.k > max_k) co_return core::error::invalid_argument("k must be from 1 to 100");
  if (!(request.mmr_lambda >= 0 && request.mmr_lambda <= 1)) {
    co_return core::error::invalid_argument("mmr_lambda must be from 0 to 1");
  }
  if (!valid_date(request.filters.from_date) || !valid_date(request.filters.to_date)) {
    co_return core::error::invalid_argument("from and to must be YYYY-MM-DD");
  }
  std::vector<std::shared_ptr<loaded_space>> spaces;
  for (const auto& id : request.space_ids) {
    auto s = impl_->visible(who, id);
    if (!s) co_return std::move(s).err();
    auto loaded = impl_->load(*s);
    if (!loaded) co_return std::move(loaded).err();
    spaces.push_back(std::move(*loaded));
  }
  // One query embedding per embedding model.
  std::map<std::string, std::vector<float>> query_vectors;
  if (request.mode != search_mode::lexical) {
    const infra::llm::caller system_call{who.user_id, "", {}, who.request_id};
    for (const auto& space : spaces) {
      if (query_vectors.count(space->info.embedding_model) != 0) continue;
      infra::llm::embedding_request q;
      q.model = space->info.embedding_model;
      q.inputs = {request.query};
      auto embedded = co_await impl_->llm.embed(system_call, std::move(q));
      if (!embedded) co_return std::move(embedded).err();
      query_vectors[space->info.embedding_model] = std::move(embedded->vectors.front());
    }
  }
  const auto& f = request.filters;
  const bool filtered =
      !f.document_ids.empty() || !f.doc_types.empty() || !f.tags.empty() || !f.from_date.empty() || !f.to_date.empty();
  const std::size_t depth = request.mmr_lambda < 1.0 ? std::min<std::size_t>(request.k * 4, max_k) : request.k;
  struct candidate {
    loaded_space* space;
    retrieval_hit hit;
  };
  std::vector<candidate> candidates;
  for (const auto& space : spaces) {
    std::function<bool(std::uint64_t)> allow;
    if (filtered) {
      allow = [&f, s = space.get()](std::uint64_t key) {
        std::lock_guard lock(s->meta_mutex);
        auto it = s->meta.find(key);
        if (it == s->meta.end()) return false;
        const auto& m = it->second;
        auto in = [](const std::vector<std::string>& set, const std::string& v) {
          return set.empty() || std::find(set.begin(), set.end(), v) != set.end();
        };
        if (!in(f.document_ids, m.document_id) || !in(f.doc_types, m.doc_type)) return false;
        if (!f.tags.empty() && std::none_of(m.tags.begin(), m.tags.end(), [&](const std::string& t) {
              return std::find(f.tags.begin(), f.tags.end(), t) != f.tags.end();
            })) {
          return false;
        }
        if (!f.from_date.empty() && (m.date.empty() || m.date < f.from_date)) return false;
        if (!f.to_date.empty() && (m.date.empty() || m.date > f.to_date)) return false;
        return true;
      };
    }
    std::vector<float> qv;
    if (auto it = query_vectors.find(space->info.embedding_model); it != query_vectors.end()) qv = it->second;
    retrieval_options options;
    // The built-in embedder is lexical and weak alone; feedback from the top lexical
    // hits makes its vector side useful (docs/rag.md).
    if (space->info.embedding_model == "wattos-embed") options.prf_docs = 3;
    for (auto& hit : space->index->search(request.query, qv, request.mode, depth, allow, options)) {
      candidates.push_back({space.get(), hit});
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const candidate& a, const candidate& b) { return a.hit.score > b.hit.score; });
  if (request.mmr_lambda < 1.0 && candidates.size() > 1) {
    std::vector<scored_key> scored;
    std::unordered_map<std::uint64_t, candidate> by_key;
    for (const auto& c : candidates) {
      scored.push_back({c.hit.key, c.hit.score});
      by_key.emplace(c.hit.key, c);
    }
    auto similarity = [&](std::uint64_t a, std::uint64_t b) {
      auto va = by_key.at(a).space->index->vector_of(a);
      auto vb = by_key.at(b).space->index->vector_of(b);
      return va.size() == vb.size() && !va.empty() ? static_cast<double>(dot(va, vb)) : 0.0;
    };
    std::vector<candidate> picked;
    for (const auto& s : maximal_marginal_relevance(scored, request.k, request.mmr_lambda, similarity)) {
      picked.push_back(by_key.at(s.key));
    }
    candidates = std::move(picked);
  }
  if (!request.rerank_model.empty() && !candidates.empty()) {
    // Reorder the best candidates (at most 50) by the rerank model; the texts come from the store.
    if (candidates.size() > 50) candidates.resize(50);
    infra::llm::rerank_request rr;
    rr.model = request.rerank_model;
    rr.query = request.query;
    for (const auto& c : candidates) {
      auto rows =
          impl_->db.execute("SELECT text FROM rag_chunks WHERE key = ?", {static_cast<std::int64_t>(c.hit.key)});
      if (!rows) co_return std::move(rows).err();
      rr.documents.push_back(rows->rows.empty() ? std::string() : rows->rows.front().get_text(0).value_or(""));
    }
    const infra::llm::caller system_call{who.user_id, "", {}, who.request_id};
    auto ranked = co_await impl_->llm.rerank(system_call, std::move(rr));
    if (!ranked) co_return std::move(ranked).err();
    std::vector<candidate> reordered;
    for (const auto& item : ranked->results) {
      if (item.index < 0 || static_cast<std::size_t>(item.index) >= candidates.size()) continue;
      candidate c = candidates[static_cast<std::size_t>(item.index)];
      c.hit.score = item.score;
      reordered.push_back(c);
    }
    candidates = std::move(reordered);
  }
  if (candidates.size() > request.k) candidates.resize(request.k);

  // The chunks' text and citation data, from the store.
  std::vector<search_hit> out;
  const auto terms = impl_->text_analyzer.query_terms(request.query);
  const std::set<std::string> stems(terms.begin(), terms.end());
  for (const auto& c : candidates) {
    auto rows = impl_->db.execute(
        "SELECT document_id, title, text, page, heading_path, char_start, char_end FROM rag_chunks WHERE key = ?",
        {static_cast<std::int64_t>(c.hit.key)});
    if (!rows) co_return std::move(rows).err();
    if (rows->rows.empty()) continue;  // deleted meanwhile
    const auto& r = rows->rows.front();
    search_hit h;
    h.chunk_key = c.hit.key;
    h.score = c.hit.score;
    h.lexical_rank = c.hit.lexical_rank;
    h.vector_rank = c.hit.vector_rank;
    h.source.space_id = c.space->info.id;
    h.source.document_id = r.get_text(0).value_or("");
    h.source.title = r.get_text(1).value_or("");
    h.text = r.get_text(2).value_or("");
    h.source.page = static_cast<int>(r.get_int(3).value_or(0));
    h.source.heading_path = r.get_text(4).value_or("");
    h.source.char_start = r.get_int(5).value_or(0);
    h.source.char_end = r.get_int(6).value_or(0);
    h.matched_terms = c.space->index->matched_terms(c.hit.key, request.query);
    h.source.snippet = snippet_for(impl_->text_analyzer, h.text, stems);
    out.push_back(std::move(h));
  }
  co_return out;
}

asio::awaitable<core::result<space_info>> rag_service::reembed_space(const requester& who, std::string space_id,
                                                                     std::string embedding_model) {
  auto visible = impl_->visible(who, space_id);
  if (!visible) co_return std::move(visible).err();
  space_info s = std::move(*visible);
  if (!impl::can_manage(s)) co_return core::error::permission_denied("only the owner or an admin may re-embed a space");
  auto model = impl_->llm.model(embedding_model);
  if (!model) co_return std::move(model).err();
  const auto& caps = model->settings->capabilities;
  if (std::find(caps.begin(), caps.end(), "embeddings") == caps.end()) {
    co_return core::error::invalid_argument("model '" + embedding_model + "' does not make embeddings");
  }
  auto rows = impl_->db.execute("SELECT key, title, text FROM rag_chunks WHERE space_id = ?", {s.id});
  if (!rows) co_return std::move(rows).err();
  std::vector<std::pair<std::int64_t, std::vector<float>>> vectors;
  int dims = 0;
  const infra::llm::caller system_call{who.user_id, "", {}, who.request_id};
  for (std::size_t start = 0; start < rows->rows.size(); start += embed_batch) {
    infra::llm::embedding_request batch;
    batch.model = embedding_model;
    std::vector<std::int64_t> keys;
    for (std::size_t i = start; i < std::min(rows->rows.size(), start + embed_batch); ++i) {
      const auto& r = rows->rows[i];
      const std::string title = r.get_text(1).value_or("");
      const std::string text = r.get_text(2).value_or("");
      std::string input = title;
      if (!input.empty()) input += ". ";
      input += text;
      batch.inputs.push_back(std::move(input));
      keys.push_back(r.get_int(0).value_or(0));
    }
    auto embedded = co_await impl_->llm.embed(system_call, std::move(batch));
    if (!embedded) co_return std::move(embedded).err();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      dims = static_cast<int>(embedded->vectors[i].size());
      vectors.emplace_back(keys[i], std::move(embedded->vectors[i]));
    }
  }
  if (dims == 0) dims = model->settings->dimensions;
  if (dims <= 0)
    co_return core::error::invalid_argument("model '" + embedding_model + "' has no dimensions configured");
  auto written = impl_->db.transaction([&](db::connection& c) -> core::status {
    for (const auto& v : vectors) {
      WATTOS_RETURN_IF_ERROR(
          c.execute("UPDATE rag_chunks SET embedding = ? WHERE key = ?", {to_blob(v.second), v.first}));
    }
    WATTOS_RETURN_IF_ERROR(
        c.execute("UPDATE rag_spaces SET embedding_model = ?, dimensions = ?, updated_at = ? WHERE id = ?",
                  {embedding_model, std::int64_t{dims}, core::utc_now_iso(), s.id}));
    return {};
  });
  if (!written.ok()) co_return written.err();
  // The next use loads the space afresh; the old vectors no longer match.
  impl_->forget(s.id);
  impl_->drop_vectors(s);
  s.embedding_model = embedding_model;
  s.dimensions = dims;
  co_return s;
}

context_result rag_service::build_context(const std::vector<search_hit>& hits, std::int64_t token_budget) {
  context_result out;
  std::vector<const search_hit*> kept;
  for (const auto& h : hits) {
    // A chunk that mostly overlaps one already taken (same document) adds nothing.
    bool duplicate = false;
    for (const auto* k : kept) {
      if (k->source.space_id != h.source.space_id || k->source.document_id != h.source.document_id) continue;
      const auto overlap =
          std::min(k->source.char_end, h.source.char_end) - std::max(k->source.char_start, h.source.char_start);
      const auto length = std::max<std::int64_t>(1, h.source.char_end - h.source.char_start);
      if ((h.source.char_end > h.source.char_start && overlap * 2 > length) || k->text == h.text) duplicate = true;
    }
    if (duplicate) continue;
    std::string header =
        "[" + std::to_string(kept.size() + 1) + "] " + (h.source.title.empty() ? h.source.document_id : h.source.title);
    if (h.source.page > 0) header += ", Seite " + std::to_string(h.source.page);
    if (!h.source.heading_path.empty()) header += " (" + h.source.heading_path + ")";
    std::string block = header + ": " + h.text + "\n\n";
    const std::int64_t tokens = infra::llm::estimate_tokens(block);
    if (out.tokens + tokens > token_budget) {
      if (kept.empty() && token_budget > 0) {
        // The best source alone is too long: take its start.
        block = block.substr(0, static_cast<std::size_t>(token_budget) * 4);
        out.text += block;
        out.tokens += infra::llm::estimate_tokens(block);
        citation c = h.source;
        c.number = 1;
        out.citations.push_back(std::move(c));
      }
      break;
    }
    kept.push_back(&h);
    out.text += block;
    out.tokens += tokens;
    citation c = h.source;
    c.number = static_cast<int>(kept.size());
    out.citations.push_back(std::move(c));
  }
  while (!out.text.empty() && out.text.back() == '\n') out.text.pop_back();
  return out;
}

}  // namespace wattos::streams::rag
