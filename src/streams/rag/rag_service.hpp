// File: streams/rag/rag_service.hpp
//
// The RAG service: knowledge spaces (owner, members with read or write access),
// their chunks (text plus everything a citation needs: document, title, page, heading
// path, character offsets, type, tags, date), hybrid search over them, and context
// building for answers with citations.
//
// Storage: spaces, members and chunks (with their embeddings) live in the SQL store,
// which is the truth; each space's BM25 index is built in memory when the space is
// first used, and its vector index is either an HNSW file <data_dir>/vectors/<space>.hnsw
// (rag.vector_backend hnsw), checked on open and rebuilt from the SQL store when it is
// missing, stale or damaged, or a pgvector table rag_vectors_<space> (pgvector).
// Embeddings come from the LLM gateway (the space's embedding model, fixed at
// creation: a query is never compared with vectors of another model).
//
// Access: reading needs ownership, membership or admin; writing needs ownership,
// write membership or admin; managing members and deleting needs ownership or admin.
// A space the requester cannot read answers not_found (its existence is not revealed).
//
// Threading: methods may be called from any thread; spaces are guarded by a mutex,
// each retriever by its own shared_mutex. Embedding calls are coroutines on the
// caller's executor.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "infra/db/database.hpp"
#include "infra/db/migrations.hpp"
#include "infra/llm/llm_gateway.hpp"
#include "streams/rag/retriever.hpp"

namespace wattos::streams::rag {

struct requester {
  std::string user_id;
  bool admin = false;  // may read, write and manage every space
  std::string request_id;
};

struct space_info {
  std::string id;
  std::string name;
  std::string description;
  std::string owner_id;
  std::string embedding_model;
  int dimensions = 0;
  std::string created_at;
  std::string access;  // the requester's: owner, write, read, admin
  std::int64_t chunks = 0;
};

struct member_info {
  std::string user_id;
  std::string role;  // read or write
};

struct chunk_input {
  std::string text;
  int page = 0;                 // 1-based; 0: none
  std::string heading_path;     // "Kapitel 2 > Fristen"
  std::int64_t char_start = 0;  // offsets in the document's text
  std::int64_t char_end = 0;
};

struct document_input {
  std::string document_id;
  std::string title;
  std::string doc_type;  // pdf, docx, html, md, txt, ...
  std::vector<std::string> tags;
  std::string date;  // YYYY-MM-DD or empty
  std::vector<chunk_input> chunks;
};

struct search_filters {
  std::vector<std::string> document_ids;
  std::vector<std::string> doc_types;
  std::vector<std::string> tags;  // a chunk matches when its document has any of them
  std::string from_date;          // inclusive, YYYY-MM-DD
  std::string to_date;
};

struct search_request {
  std::vector<std::string> space_ids;
  std::string query;
  search_mode mode = search_mode::hybrid;
  std::size_t k = 10;
  search_filters filters;
  double mmr_lambda = 1.0;   // < 1 trades relevance for diversity
  std::string rerank_model;  // set: the best candidates are reordered by this rerank model
};

struct citation {
  int number = 0;  // [n] in the context
  std::string space_id;
  std::string document_id;
  std::string title;
  int page = 0;
  std::string heading_path;
  std::int64_t char_start = 0;
  std::int64_t char_end = 0;
  std::string snippet;  // with matched words marked **like this**
};

struct search_hit {
  std::uint64_t chunk_key = 0;
  double score = 0;
  std::string text;
  citation source;
  std::optional<int> lexical_rank;
  std::optional<int> vector_rank;
  std::vector<std::string> matched_terms;
};

struct context_result {
  std::string text;  // "[1] Title, Seite 3: ...\n\n[2] ..."
  std::vector<citation> citations;
  std::int64_t tokens = 0;
};

class rag_service {
 public:
  static const std::vector<infra::db::migration>& migrations();
  rag_service(infra::db::database& db, infra::llm::llm_gateway& llm, std::filesystem::path data_dir,
              core::rag_settings settings = {});
  ~rag_service();

  core::result<space_info> create_space(const requester& who, std::string name, std::string description,
                                        std::string embedding_model);
  core::result<std::vector<space_info>> list_spaces(const requester& who);
  core::result<space_info> get_space(const requester& who, std::string_view id_or_name);
  core::result<space_info> update_space(const requester& who, std::string_view id, std::optional<std::string> name,
                                        std::optional<std::string> description);
  core::status delete_space(const requester& who, std::string_view id);

  // Called with a space's id after the space was deleted, so services that keep data
  // of their own per space (ingestion: files, jobs) remove it too. Register before
  // serving; the callback runs on the deleting thread.
  using space_deleted_fn = std::function<void(const std::string& space_id)>;
  void on_space_deleted(space_deleted_fn fn);

  core::result<std::vector<member_info>> list_members(const requester& who, std::string_view space_id);
  core::status set_member(const requester& who, std::string_view space_id, std::string_view user_id,
                          std::string_view role);
  core::status remove_member(const requester& who, std::string_view space_id, std::string_view user_id);

  // Replaces a document's chunks atomically (embedding them first).
  boost::asio::awaitable<core::result<std::size_t>> index_document(const requester& who, std::string space_id,
                                                                   document_input document);
  core::result<std::size_t> delete_document(const requester& who, std::string_view space_id,
                                            std::string_view document_id);

  // Re-embeds every chunk of a space with another embedding model (after a model
  // change), then swaps model, dimensions and vectors in one transaction and rebuilds
  // the vector index. Owner or admin only.
  boost::asio::awaitable<core::result<space_info>> reembed_space(const requester& who, std::string space_id,
                                                                 std::string embedding_model);

  boost::asio::awaitable<core::result<std::vector<search_hit>>> search(const requester& who, search_request request);

  // Numbered sources for a model, within a token budget, overlapping chunks merged.
  static context_result build_context(const std::vector<search_hit>& hits, std::int64_t token_budget);

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace wattos::streams::rag
