// File: api/chat_routes.hpp
//
// The chat service's HTTP API (docs/chat.md), all for the signed-in owner of a
// conversation (anyone else gets 404), permission chat:use:
//   POST/GET /api/v1/conversations (?search=&limit=&offset=), GET/PATCH/DELETE .../{id}
//   GET  .../{id}/messages?after=&limit=
//   POST .../{id}/messages {content, model?}           -> text/event-stream of the answer
//   PUT  .../{id}/messages/{mid} {content}             -> edit a question, answer anew (SSE)
//   POST .../{id}/regenerate {model?}                  -> answer the last question again (SSE)
//   GET  .../{id}/messages/{mid}/events                -> (re)attach; Last-Event-ID resumes
//   POST .../{id}/messages/{mid}/cancel
//   POST .../{id}/messages/{mid}/feedback {rating: 1|-1, comment?}
//   GET  /api/v1/admin/feedback?rating=                (feedback:review)
#pragma once

#include "api/gateway.hpp"
#include "persona/persona.hpp"
#include "streams/chat/chat_service.hpp"

namespace wattos::api {

// `personas` resolves the persona named when a conversation is created or changed
// (its default model and spaces fill in); the prompt itself reaches each answer
// through the chat service's persona_prompt_fn (see app wiring).
void add_chat_routes(route_table& routes, streams::chat::chat_service& chat, persona::persona_store& personas);

}  // namespace wattos::api
