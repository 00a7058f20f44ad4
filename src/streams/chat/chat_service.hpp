// File: streams/chat/chat_service.hpp
//
// Conversations and the streaming chat pipeline (layer 2): a user message is stored,
// the conversation's knowledge spaces are searched (access checked by the RAG
// service), the numbered sources and the history go to the model through the LLM
// gateway, and the answer streams back as typed events while it is stored.
//
// A turn runs on its own, detached from the HTTP request that started it: its events
// are kept in a replay log, so a client that drops and reconnects with Last-Event-ID
// gets what it missed, and the answer is stored whole even when nobody listens. A
// cancelled turn (cancel()) stops the model call and keeps the partial answer with
// status "cancelled"; a failed one keeps it with status "failed" and the error.
//
// Events (SSE `event:` names): status {"status":"started"|"streaming"}, citation
// {number, document_id, title, page, ...}, token {"text"}, done {message_id, usage,
// finish_reason}, error {code, message}. Event ids count from 1 per turn.
//
// Access: a conversation belongs to its owner; anyone else gets not_found.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
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
#include "streams/rag/rag_service.hpp"

namespace wattos::streams::chat {

struct conversation_info {
  std::string id;
  std::string owner_id;
  std::string title;
  std::string model;
  std::string persona_id;  // the character the layer above applies (empty: its default)
  std::vector<std::string> spaces;
  std::string created_at;
  std::string updated_at;
};

struct message_info {
  std::string id;
  std::string conversation_id;
  std::int64_t seq = 0;
  std::string role;  // user, assistant
  std::string content;
  std::string citations_json = "[]";
  std::string model;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::string status;  // complete, streaming, cancelled, failed
  std::string error;
  std::string created_at;
};

struct chat_event {
  std::int64_t id = 0;
  std::string type;  // status, citation, token, done, error
  std::string data;  // JSON
};

// One answer in progress (or finished): its replay log and its end.
class chat_turn {
 public:
  // Events after `after_id`; waits (on the caller's executor) until there are some or the
  // turn has ended. Empty once the turn ended and everything was read.
  boost::asio::awaitable<std::vector<chat_event>> next(std::int64_t after_id);
  bool finished() const;
  bool finished_before(std::chrono::steady_clock::time_point when) const;
  const std::string& message_id() const noexcept { return message_id_; }
  const std::string& conversation_id() const noexcept { return conversation_id_; }

  struct shared;
  chat_turn(std::string conversation_id, std::string message_id, std::shared_ptr<shared> state);

  // Called by the pipeline.
  void publish(std::string type, std::string data);
  void finish();
  void cancel();
  bool cancelled() const;
  void set_stream(std::shared_ptr<infra::llm::chat_stream> stream);

 private:
  std::string conversation_id_;
  std::string message_id_;
  std::shared_ptr<shared> state_;
};

struct send_request {
  std::string content;
  std::string model;  // empty: the conversation's model
};

// The system prompt for a conversation's persona id. The character layer sits above
// this one, so it hands its generator in (app wiring); without one, answers get a
// neutral bilingual prompt.
using persona_prompt_fn = std::function<std::string(std::string_view persona_id)>;

class chat_service {
 public:
  static const std::vector<infra::db::migration>& migrations();
  chat_service(infra::db::database& db, infra::llm::llm_gateway& llm, rag::rag_service& rag,
               persona_prompt_fn persona_prompt = {});
  ~chat_service();

  core::result<conversation_info> create_conversation(const rag::requester& who, std::string title, std::string model,
                                                      std::vector<std::string> spaces, std::string persona_id = {});
  core::result<std::vector<conversation_info>> list_conversations(const rag::requester& who, std::string_view search,
                                                                  int limit, int offset);
  core::result<conversation_info> get_conversation(const rag::requester& who, std::string_view id);
  core::result<conversation_info> update_conversation(const rag::requester& who, std::string_view id,
                                                      std::optional<std::string> title,
                                                      std::optional<std::string> model,
                                                      std::optional<std::vector<std::string>> spaces,
                                                      std::optional<std::string> persona_id = std::nullopt);
  core::status delete_conversation(const rag::requester& who, std::string_view id);
  core::result<std::vector<message_info>> list_messages(const rag::requester& who, std::string_view conversation_id,
                                                        std::int64_t after_seq, int limit);

  // Stores the user message and starts the answer; the turn runs on `executor`.
  boost::asio::awaitable<core::result<std::shared_ptr<chat_turn>>> send(const rag::requester& who,
                                                                        std::string conversation_id,
                                                                        send_request request);
  // Answers the last user message again (optionally with another model); the previous
  // answer is superseded.
  boost::asio::awaitable<core::result<std::shared_ptr<chat_turn>>> regenerate(const rag::requester& who,
                                                                              std::string conversation_id,
                                                                              std::string model);
  // Replaces a user message's text, supersedes everything after it, answers anew.
  boost::asio::awaitable<core::result<std::shared_ptr<chat_turn>>> edit(const rag::requester& who,
                                                                        std::string conversation_id,
                                                                        std::string message_id, std::string content);

  // The turn of a message, while it runs or shortly after (for reconnects).
  core::result<std::shared_ptr<chat_turn>> turn(const rag::requester& who, std::string_view conversation_id,
                                                std::string_view message_id);
  core::status cancel(const rag::requester& who, std::string_view conversation_id, std::string_view message_id);

  // Feedback on an assistant message: +1 or -1 with an optional comment (one per user
  // and message; a new one replaces it).
  core::status give_feedback(const rag::requester& who, std::string_view conversation_id, std::string_view message_id,
                             int rating, std::string comment);
  struct feedback_item {
    std::string message_id;
    std::string user_id;
    int rating = 0;
    std::string comment;
    std::string question;
    std::string answer;
    std::string citations_json;
    std::string model;
    std::string created_at;
  };
  core::result<std::vector<feedback_item>> review_feedback(std::optional<int> rating, int limit, int offset);

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace wattos::streams::chat
