// File: api/ingest_routes.hpp
//
// The ingestion service's HTTP API (docs/ingestion.md):
//   POST   /api/v1/spaces/{id}/files               multipart upload, one or more "file" parts -> 202
//   GET    /api/v1/spaces/{id}/files               the space's files with status (?status=)
//   GET    /api/v1/spaces/{id}/files/events        SSE: event "file" per change, a snapshot first
//   GET    /api/v1/spaces/{id}/files/{file}        one file's status
//   DELETE /api/v1/spaces/{id}/files/{file}        the file, its chunks and vectors
//   POST   /api/v1/spaces/{id}/files/{file}/retry  a failed file again, with fresh attempts
//   GET/PUT/DELETE /api/v1/spaces/{id}/watch       the space's watched folder (admins)
//   GET    /api/v1/admin/ingest/queue              job counts per state, dead jobs
// Route permissions: spaces:read to read, documents:write to upload, delete and retry;
// the space's own access is checked in the service.
#pragma once

#include "api/gateway.hpp"
#include "infra/queue/job_queue.hpp"
#include "streams/ingest/folder_watcher.hpp"
#include "streams/ingest/ingest_service.hpp"

namespace wattos::api {

void add_ingest_routes(route_table& routes, streams::ingest::ingest_service& ingest,
                       streams::ingest::folder_watcher& watcher, infra::queue::job_queue& queue,
                       std::uint64_t upload_limit_bytes);

}  // namespace wattos::api
