#include "persona/drafter.hpp"

namespace wattos::persona {

namespace llm = infra::llm;

namespace {

// The errors that are the caller's to see (an unknown model, a refused region, a used-up
// budget, a bad request); the others (the provider is down, slow or wrong) fall back.
bool callers_error(core::errc code) {
  return code == core::errc::not_found || code == core::errc::permission_denied ||
         code == core::errc::resource_exhausted || code == core::errc::invalid_argument ||
         code == core::errc::unauthenticated;
}

}  // namespace

boost::asio::awaitable<core::result<persona_draft>> draft_persona(llm::llm_gateway* gateway, llm::caller who,
                                                                  std::string model, std::string description,
                                                                  std::string language) {
  persona_draft out;
  out.persona = draft_from_description(description, language);
  out.generator = "template";
  if (model.empty()) co_return out;
  if (gateway == nullptr) {
    out.note = "no LLM gateway in this process: drafted by template";
    co_return out;
  }
  llm::chat_request request;
  request.model = model;
  request.messages = draft_messages(description, out.persona.language);
  request.temperature = 0.4;
  request.max_tokens = 1200;
  auto answer = co_await gateway->complete(who, std::move(request));
  if (!answer) {
    if (callers_error(answer.err().code())) co_return answer.err();
    out.note = "the model call failed (" + std::string(core::errc_name(answer.err().code())) + ": " +
               answer.err().message() + "): drafted by template";
    co_return out;
  }
  auto merged = merge_model_draft(answer->content, out.persona);
  if (!merged) {
    out.note = "the model's answer could not be used (" + merged.err().message() + "): drafted by template";
    co_return out;
  }
  out.persona = std::move(*merged);
  out.generator = "model";
  out.model = answer->model;
  co_return out;
}

}  // namespace wattos::persona
