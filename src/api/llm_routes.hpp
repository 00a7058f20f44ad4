// File: api/llm_routes.hpp
//
// The LLM gateway's HTTP face:
//   OpenAI-compatible, for existing clients and SDKs (authenticated by API keys or
//   access tokens, permission chat:use):
//     GET  /v1/models, POST /v1/chat/completions (streamed or not, tools),
//     POST /v1/embeddings (float or base64), POST /v1/rerank
//   WattOS:
//     GET  /api/v1/usage                       one's own usage today and budget
//     GET  /api/v1/admin/models                registry with policy and breaker state (models:admin)
//     PUT  /api/v1/admin/models/{id}/residency allow a model outside the EU (models:admin)
//     GET  /api/v1/admin/usage                 usage by model, user or day, filtered (usage:read)
// Errors use the platform's JSON shape, whose `error.message` and `error.code` are
// also what OpenAI clients read. A streamed answer answers its status only after the
// first event: a provider that fails before the first token gets a proper 4xx/5xx.
#pragma once

#include "api/gateway.hpp"
#include "infra/llm/llm_gateway.hpp"
#include "persona/persona.hpp"
#include "streams/rag/rag_service.hpp"

namespace wattos::api {

class identity_service;

// With `rag`, every knowledge space the caller can read is also offered as a model,
// "rag:<space>[+<space>...][@<model>]": the last user message is searched in the
// spaces, the numbered sources go first, the answer comes from <model> (default
// llm.default_model) and the response carries a `citations` array (in the first chunk
// when streamed).
// With `personas`, every persona is offered as "persona:<name>[@<model>]": its system
// prompt first, RAG over its default spaces when it has some.
// With `users`, a user's token budget is read and set only for a user that exists (404
// otherwise), so that no budget row waits for an id nobody has.
void add_llm_routes(route_table& routes, infra::llm::llm_gateway& llm, streams::rag::rag_service* rag = nullptr,
                    persona::persona_store* personas = nullptr, identity_service* users = nullptr);

}  // namespace wattos::api
