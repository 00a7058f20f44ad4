// File: persona/drafter.hpp
//
// Drafting a persona from a short description. With a generative model (the config key
// persona.draft_model, or the model a request names) the LLM gateway is asked for the
// persona as one JSON object; what the model answers is read field by field over the
// template draft (persona.hpp's draft_from_description), every value checked and
// clamped, so that a model that forgets a field, writes prose around the JSON or makes
// up a tone still yields a valid persona. When no model is set, or the call or its
// answer fails, the template draft is the result and `note` says why. A draft is never
// stored; the language is the request's (or the description's), not the model's.
//
// The gateway applies its policies as for any call: residency, PII redaction, budgets
// and usage are the caller's.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string>
#include <vector>

#include "infra/llm/llm_gateway.hpp"
#include "persona/persona.hpp"

namespace wattos::persona {

struct persona_draft {
  character persona;
  std::string generator;  // "template", or "model" when the model's answer was used
  std::string model;      // the model that answered (generator "model")
  std::string note;       // why the template was used although a model was asked
};

// The messages sent to the model: deterministic, for tests and the docs.
std::vector<infra::llm::chat_message> draft_messages(std::string_view description, std::string_view language);

// Reads a model's answer over `base`: the first JSON object in `answer` (``` fences and
// prose around it are skipped). invalid_argument when there is no usable object.
core::result<character> merge_model_draft(std::string_view answer, character base);

// `model` empty: the template. `llm` may be null (no gateway in this process): the template.
// Errors are the caller's own only (an unknown model, a region refused, the budget used
// up); a failing provider or an unusable answer gives the template draft with a note.
boost::asio::awaitable<core::result<persona_draft>> draft_persona(infra::llm::llm_gateway* llm, infra::llm::caller who,
                                                                  std::string model, std::string description,
                                                                  std::string language);

}  // namespace wattos::persona
