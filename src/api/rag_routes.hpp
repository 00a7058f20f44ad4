// File: api/rag_routes.hpp
//
// The RAG service's HTTP API (docs/rag.md):
//   GET/POST /api/v1/spaces, GET/PATCH/DELETE /api/v1/spaces/{id}
//   GET /api/v1/spaces/{id}/members, PUT/DELETE /api/v1/spaces/{id}/members/{user}
//   POST /api/v1/spaces/{id}/documents   index a document's chunks (the ingestion's interface)
//   DELETE /api/v1/spaces/{id}/documents/{doc}
//   POST /api/v1/spaces/{id}/search, POST /api/v1/search (several spaces)
// Route permissions: spaces:read to read and search, spaces:write to create, change
// and index; the space's own access (owner, member, admin) is checked in the service.
#pragma once

#include <boost/json/array.hpp>

#include <vector>

#include "api/gateway.hpp"
#include "streams/rag/rag_service.hpp"

namespace wattos::api {

void add_rag_routes(route_table& routes, streams::rag::rag_service& rag);

// A context's citations as the API shows them (search with context_tokens, answers
// over /v1 with RAG): number, space, document, title, page, heading path, offsets, snippet.
boost::json::array citations_json(const std::vector<streams::rag::citation>& citations);

// The RAG service's view of the caller (admin: holds "*").
streams::rag::requester rag_requester_of(const net::request& req);

}  // namespace wattos::api
