// Untrusted text and JSON on the LLM gateway's path: OpenAI-style requests from
// clients, embedding and rerank answers from providers, PII redaction (which must
// restore exactly what it redacted) and the extractive model's sentence selection.
// The first byte picks the parser.
#include <boost/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "infra/llm/extractive.hpp"
#include "infra/llm/json_wire.hpp"
#include "infra/llm/pii.hpp"

namespace llm = wattos::infra::llm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t mode = data[0] % 6;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (mode) {
    case 0:
    case 1: {
      boost::system::error_code ec;
      auto value = boost::json::parse(text, ec);
      if (ec) return 0;
      bool flag = false;
      if (mode == 0)
        (void)llm::parse_openai_chat_request(value, flag);
      else
        (void)llm::parse_openai_embedding_request(value, flag);
      return 0;
    }
    case 2:
      (void)llm::parse_embeddings_response(text, 2);
      (void)llm::parse_rerank_response(text, 3);
      return 0;
    case 3: {
      llm::pii_redactor redactor;
      std::string redacted = redactor.redact(text);
      // Placeholder-looking input ("[EMAIL_1]") may legitimately be restored too.
      if (text.find('[') == std::string_view::npos && redactor.restore(redacted) != text) std::abort();
      llm::pii_restorer restorer(redactor);
      std::string streamed;
      for (std::size_t i = 0; i < redacted.size(); i += 3)
        streamed += restorer.feed(std::string_view(redacted).substr(i, 3));
      streamed += restorer.finish();
      if (streamed != redactor.restore(redacted)) std::abort();
      return 0;
    }
    default: {
      const std::size_t cut = text.find('\n');
      const std::string_view question = text.substr(0, cut);
      const std::string_view context = cut == std::string_view::npos ? std::string_view() : text.substr(cut + 1);
      (void)llm::extractive_answer_for(question, context, {});
      return 0;
    }
  }
}
