// File: api/persona_routes.hpp
//
// The persona service's HTTP API (docs/persona.md):
//   GET  /api/v1/personas                 every persona (KAYA first)        signed in
//   POST /api/v1/personas                 create                            personas:write
//   GET/PUT/DELETE /api/v1/personas/{id}  read; replace, delete (creator or admin)
//   GET  /api/v1/personas/{id}/prompt     the generated system prompt       signed in
//   GET  /api/v1/personas/{id}/avatar     the uploaded image, else the SVG  signed in
//   PUT/DELETE /api/v1/personas/{id}/avatar  upload (body: the image), remove (creator or admin)
//   GET  /api/v1/personas/{id}/avatar.svg the generated avatar              signed in
//   POST /api/v1/personas/preview         prompt of an unsaved persona      signed in
//   POST /api/v1/personas/draft           a persona drafted from a description (not saved):
//                                          by persona.draft_model (or the request's model), else templates
#pragma once

#include "api/gateway.hpp"
#include "core/config.hpp"
#include "infra/llm/llm_gateway.hpp"
#include "persona/persona.hpp"

namespace wattos::api {

// `llm` may be null (no LLM gateway in this process): drafts are then by template.
void add_persona_routes(route_table& routes, persona::persona_store& personas, const core::persona_settings& settings,
                        infra::llm::llm_gateway* llm);

// The system prompt for a conversation's persona id (empty or unknown: KAYA).
std::string persona_prompt_for(persona::persona_store& personas, std::string_view persona_id);

}  // namespace wattos::api
