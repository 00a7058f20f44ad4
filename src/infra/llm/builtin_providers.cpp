// The providers that run in this process: the `extractive` chat model and the
// hashed embedder. Neither needs a network, a model file or a GPU.
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "infra/llm/embedder.hpp"
#include "infra/llm/extractive.hpp"
#include "infra/llm/json_wire.hpp"
#include "infra/llm/provider.hpp"

namespace wattos::infra::llm {
namespace {

namespace asio = boost::asio;

bool is_marker_line(std::string_view line) {
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  if (line.size() < 3 || line.front() != '[') return false;
  std::size_t i = 1;
  while (i < line.size() && i <= 4 && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
  return i > 1 && i < line.size() && line[i] == ']';
}

// Splits a user message into its question and any sources it carries: a source runs
// from a `[n]` line to the next blank line.
void split_question(std::string_view text, std::string& question, std::string& sources) {
  bool in_source = false;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    const bool blank = line.find_first_not_of(" \t\r") == std::string_view::npos;
    if (is_marker_line(line))
      in_source = true;
    else if (blank)
      in_source = false;
    std::string& target = in_source ? sources : question;
    target.append(line);
    target += '\n';
    if (nl == text.size()) break;
  }
}

class extractive_provider final : public provider {
 public:
  explicit extractive_provider(std::chrono::milliseconds word_delay) : word_delay_(word_delay) {}

  asio::awaitable<call_outcome> chat(const call_target&, const chat_request& request, event_sink& sink) override {
    std::string context;
    std::string question;
    const chat_message* last_user = nullptr;
    for (const auto& m : request.messages) {
      if (m.role == "user") last_user = &m;
    }
    for (const auto& m : request.messages) {
      if (m.role == "system" || m.role == "tool") {
        context += m.content;
        context += "\n\n";
      } else if (&m == last_user) {
        std::string sources;
        split_question(m.content, question, sources);
        context += sources;
      }
    }
    if (question.find_first_not_of(" \t\r\n") == std::string::npos && last_user != nullptr) {
      question = last_user->content;
    }
    auto answer = extractive_answer_for(question, context, {});
    // Word by word, each piece with its trailing space, like a model's tokens.
    asio::steady_timer timer(co_await asio::this_coro::executor);
    std::size_t pos = 0;
    const std::string& text = answer.text;
    while (pos < text.size()) {
      auto space = text.find(' ', pos);
      std::size_t end = space == std::string::npos ? text.size() : space + 1;
      if (!sink.push(chat_event::text_delta(text.substr(pos, end - pos)))) {
        co_return call_outcome::failed(core::error::cancelled("the caller went away"), false);
      }
      pos = end;
      if (word_delay_.count() > 0 && pos < text.size()) {
        timer.expires_after(word_delay_);
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return call_outcome::failed(core::error::cancelled("the caller went away"), false);
      }
    }
    token_usage usage;
    usage.estimated = true;
    usage.prompt_tokens = estimate_prompt_tokens(request);
    usage.completion_tokens = estimate_tokens(text);
    sink.push(chat_event::finished("stop", usage));
    co_return call_outcome::ok();
  }

 private:
  std::chrono::milliseconds word_delay_;
};

class embedder_provider final : public provider {
 public:
  asio::awaitable<call_outcome> chat(const call_target& target, const chat_request&, event_sink&) override {
    co_return call_outcome::failed(core::error::invalid_argument("model '" + target.model->id + "' only embeds"),
                                   false);
  }

  asio::awaitable<provider_result<embedding_result>> embed(const call_target& target,
                                                           const embedding_request& request) override {
    const int dims = request.dimensions.value_or(target.model->dimensions > 0 ? target.model->dimensions : 384);
    hashed_embedder embedder(dims);
    provider_result<embedding_result> out;
    out.value.model = target.model->id;
    for (const auto& text : request.inputs) {
      out.value.vectors.push_back(embedder.embed(text));
      out.value.usage.prompt_tokens += estimate_tokens(text);
    }
    out.value.usage.estimated = true;
    co_return out;
  }
};

}  // namespace

std::unique_ptr<provider> make_extractive_provider(std::chrono::milliseconds word_delay) {
  return std::make_unique<extractive_provider>(word_delay);
}
std::unique_ptr<provider> make_embedder_provider() {
  return std::make_unique<embedder_provider>();
}

}  // namespace wattos::infra::llm
