// The chat pipeline against SQLite and PostgreSQL, the offline extractive model and a
// scripted provider: event order, stored answers, citations from the conversation's
// spaces, automatic titles, reconnects that resume from an event id, cancel with the
// partial answer kept, a dropped client, concurrent messages, regenerate and edit,
// feedback, and bad input and other users' conversations answered with 4xx errors.
#include "streams/chat/chat_service.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "core/id.hpp"
#include "db_backends.hpp"
#include "scripted_provider.hpp"

namespace wattos::streams::chat {
namespace {

namespace asio = boost::asio;
using net::testing::run_client;

struct drained {
  std::vector<chat_event> events;
  std::string text;
};

class chat_service_test : public infra::db::testing::backend_test {
 protected:
  void SetUp() override {
    backend_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(infra::db::migrate(db(), "llm", infra::llm::llm_gateway::migrations()).ok());
    ASSERT_TRUE(infra::db::migrate(db(), "rag", rag::rag_service::migrations()).ok());
    ASSERT_TRUE(infra::db::migrate(db(), "chat", chat_service::migrations()).ok());
    core::model_settings endless;
    endless.id = "s-endless";
    endless.provider = "openai";
    endless.endpoint = provider_.base_url();
    endless.upstream_model = "endless";
    endless.capabilities = {"chat"};
    cfg_.models.push_back(endless);
    core::model_settings normal = endless;
    normal.id = "s-normal";
    normal.upstream_model = "normal";
    cfg_.models.push_back(normal);
    data_dir_ = std::filesystem::temp_directory_path() / ("wattos-chat-" + core::random_hex(6));
    auto gw = infra::llm::llm_gateway::create(cfg_, db(), {});
    ASSERT_TRUE(gw.ok());
    llm_ = std::move(*gw);
    rag_ = std::make_unique<rag::rag_service>(db(), *llm_, data_dir_);
    svc_ = std::make_unique<chat_service>(db(), *llm_, *rag_);
  }
  void TearDown() override {
    svc_.reset();
    rag_.reset();
    llm_.reset();
    std::filesystem::remove_all(data_dir_);
    backend_test::TearDown();
  }

  std::string space_with_contract() {
    auto s = rag_->create_space(alice_, "Wohnen-" + core::random_hex(3), "", "");
    EXPECT_TRUE(s.ok());
    rag::document_input d;
    d.document_id = "mv-1";
    d.title = "Mietvertrag.pdf";
    d.chunks = {{"Die Kündigungsfrist beträgt drei Monate zum Monatsende.", 3, "", 0, 56},
                {"Haustiere sind nach Absprache erlaubt.", 4, "", 57, 95}};
    auto indexed = run_client([](rag::rag_service* r, rag::requester w, std::string id,
                                 rag::document_input doc) -> asio::awaitable<core::result<std::size_t>> {
      auto out = co_await r->index_document(w, std::move(id), std::move(doc));
      co_return out;
    }(rag_.get(), alice_, s->id, d));
    EXPECT_TRUE(indexed.ok());
    return s->id;
  }

  // Sends a message and reads every event of the answer.
  core::result<drained> ask(const rag::requester& who, const std::string& conversation, std::string text,
                            std::string model = "") {
    return run_client([](chat_service* s, rag::requester w, std::string id,
                         send_request r) -> asio::awaitable<core::result<drained>> {
      auto turn = co_await s->send(w, std::move(id), std::move(r));
      if (!turn) co_return std::move(turn).err();
      drained out;
      std::int64_t last = 0;
      while (true) {
        auto events = co_await (*turn)->next(last);
        if (events.empty()) break;
        for (auto& e : events) {
          last = e.id;
          if (e.type == "token") {
            out.text += std::string(boost::json::parse(e.data).at("text").as_string());
          }
          out.events.push_back(std::move(e));
        }
      }
      co_return out;
    }(svc_.get(), who, conversation, send_request{std::move(text), std::move(model)}));
  }

  static std::vector<std::string> types(const drained& d) {
    std::vector<std::string> out;
    for (const auto& e : d.events) {
      if (out.empty() || out.back() != e.type) out.push_back(e.type);
    }
    return out;
  }

  core::config cfg_;
  infra::llm::testing::scripted_provider provider_;
  std::filesystem::path data_dir_;
  std::unique_ptr<infra::llm::llm_gateway> llm_;
  std::unique_ptr<rag::rag_service> rag_;
  std::unique_ptr<chat_service> svc_;
  rag::requester alice_{"user-alice", false, "r1"};
  rag::requester bob_{"user-bob", false, "r2"};
};

TEST_P(chat_service_test, answer_streams_in_order_with_citations_and_is_stored) {
  auto c = svc_->create_conversation(alice_, "", "", {space_with_contract()});
  ASSERT_TRUE(c.ok()) << c.err().message();
  EXPECT_EQ(c->model, "extractive");
  auto answer = ask(alice_, c->id, "Wie lang ist die Kündigungsfrist?");
  ASSERT_TRUE(answer.ok()) << answer.err().message();
  EXPECT_EQ(types(*answer), (std::vector<std::string>{"status", "citation", "status", "token", "done"}));
  for (std::size_t i = 0; i < answer->events.size(); ++i)
    EXPECT_EQ(answer->events[i].id, static_cast<std::int64_t>(i + 1));
  EXPECT_NE(answer->text.find("drei Monate"), std::string::npos) << answer->text;
  EXPECT_NE(answer->text.find("[1]"), std::string::npos);

  auto messages = svc_->list_messages(alice_, c->id, 0, 100);
  ASSERT_TRUE(messages.ok());
  ASSERT_EQ(messages->size(), 2u);
  EXPECT_EQ((*messages)[0].role, "user");
  EXPECT_EQ((*messages)[1].role, "assistant");
  EXPECT_EQ((*messages)[1].status, "complete");
  EXPECT_EQ((*messages)[1].content, answer->text);
  EXPECT_NE((*messages)[1].citations_json.find("\"page\":3"), std::string::npos);
  EXPECT_GT((*messages)[1].completion_tokens, 0);
  // The first question became the title; history search finds the conversation.
  EXPECT_EQ(svc_->get_conversation(alice_, c->id)->title, "Wie lang ist die Kündigungsfrist?");
  EXPECT_EQ(svc_->list_conversations(alice_, "kündigungsfrist", 10, 0)->size(), 1u);
  EXPECT_EQ(svc_->list_conversations(alice_, "drei monate", 10, 0)->size(), 1u);
  EXPECT_TRUE(svc_->list_conversations(alice_, "Haustier", 10, 0)->empty());
}

TEST_P(chat_service_test, a_reconnect_gets_what_it_missed) {
  auto c = svc_->create_conversation(alice_, "Test", "", {});
  auto answer = ask(alice_, c->id, "Hallo?");
  ASSERT_TRUE(answer.ok());
  const auto& done = answer->events.back();
  ASSERT_EQ(done.type, "done");
  const std::string message_id = std::string(boost::json::parse(done.data).at("message_id").as_string());
  auto turn = svc_->turn(alice_, c->id, message_id);
  ASSERT_TRUE(turn.ok());
  auto rest = run_client([](std::shared_ptr<chat_turn> t) -> asio::awaitable<std::vector<chat_event>> {
    auto events = co_await t->next(2);
    co_return events;
  }(*turn));
  ASSERT_EQ(rest.size(), answer->events.size() - 2);
  EXPECT_EQ(rest.front().id, 3);
  EXPECT_EQ(rest.back().type, "done");
  EXPECT_EQ(svc_->turn(bob_, c->id, message_id).err().code(), core::errc::not_found);
}

TEST_P(chat_service_test, cancel_stops_the_model_and_keeps_the_partial_answer) {
  auto c = svc_->create_conversation(alice_, "", "s-endless", {});
  ASSERT_TRUE(c.ok());
  auto* svc = svc_.get();
  const auto outcome = run_client(
      [](chat_service* s, rag::requester w, std::string id) -> asio::awaitable<std::pair<std::string, std::string>> {
        send_request request_turn{"Erzähl weiter", ""};  // named: g++ 12 coroutines
        auto turn = co_await s->send(w, id, std::move(request_turn));
        if (!turn) co_return std::pair<std::string, std::string>{"start failed", turn.err().message()};
        std::int64_t last = 0;
        int tokens = 0;
        std::string last_type;
        while (true) {
          auto events = co_await (*turn)->next(last);
          if (events.empty()) break;
          for (const auto& e : events) {
            last = e.id;
            last_type = e.type;
            if (e.type == "token" && ++tokens == 3) (void)s->cancel(w, id, (*turn)->message_id());
          }
        }
        co_return std::pair<std::string, std::string>{last_type, (*turn)->message_id()};
      }(svc, alice_, c->id));
  EXPECT_EQ(outcome.first, "error");
  auto messages = svc_->list_messages(alice_, c->id, 0, 10);
  ASSERT_EQ(messages->size(), 2u);
  EXPECT_EQ((*messages)[1].status, "cancelled");
  EXPECT_NE((*messages)[1].content.find("tick tick"), std::string::npos);
  EXPECT_TRUE(provider_.wait_for_abandoned_stream(std::chrono::seconds(5)));  // the model call ended
}

TEST_P(chat_service_test, a_dropped_client_still_gets_its_answer_stored) {
  auto c = svc_->create_conversation(alice_, "", "s-normal", {});
  auto message_id = run_client([](chat_service* s, rag::requester w, std::string id) -> asio::awaitable<std::string> {
    send_request request_turn{"Hallo", ""};  // named: g++ 12 coroutines
    auto turn = co_await s->send(w, id, std::move(request_turn));
    if (!turn) co_return std::string();
    auto first = co_await (*turn)->next(0);  // reads one batch, then "drops"
    (void)first;
    co_return (*turn)->message_id();
  }(svc_.get(), alice_, c->id));
  ASSERT_FALSE(message_id.empty());
  // Waiting for the turn's end (not a sleep): attach again and read to the end.
  auto turn = svc_->turn(alice_, c->id, message_id);
  ASSERT_TRUE(turn.ok());
  (void)run_client([](std::shared_ptr<chat_turn> t) -> asio::awaitable<int> {
    std::int64_t last = 0;
    while (true) {
      auto events = co_await t->next(last);
      if (events.empty()) co_return 0;
      last = events.back().id;
    }
  }(*turn));
  auto messages = svc_->list_messages(alice_, c->id, 0, 10);
  ASSERT_EQ(messages->size(), 2u);
  EXPECT_EQ((*messages)[1].status, "complete");
  EXPECT_EQ((*messages)[1].content, "Hello world");
  EXPECT_EQ((*messages)[1].model, "s-normal");
}

TEST_P(chat_service_test, concurrent_messages_in_one_conversation_get_distinct_places) {
  auto c = svc_->create_conversation(alice_, "", "", {});
  auto both = run_client([](chat_service* s, rag::requester w, std::string id) -> asio::awaitable<int> {
    send_request request_a{"Erste Frage", ""};  // named: g++ 12 coroutines
    auto a = co_await s->send(w, id, std::move(request_a));
    send_request request_b{"Zweite Frage", ""};  // named: g++ 12 coroutines
    auto b = co_await s->send(w, id, std::move(request_b));
    if (!a || !b) co_return 0;
    for (auto* t : {&*a, &*b}) {
      std::int64_t last = 0;
      while (true) {
        auto events = co_await (*t)->next(last);
        if (events.empty()) break;
        last = events.back().id;
      }
    }
    co_return 2;
  }(svc_.get(), alice_, c->id));
  ASSERT_EQ(both, 2);
  auto messages = svc_->list_messages(alice_, c->id, 0, 10);
  ASSERT_EQ(messages->size(), 4u);
  for (std::size_t i = 0; i < messages->size(); ++i) EXPECT_EQ((*messages)[i].seq, static_cast<std::int64_t>(i + 1));
}

TEST_P(chat_service_test, regenerate_and_edit_supersede_what_follows) {
  auto c = svc_->create_conversation(alice_, "", "", {});
  ASSERT_TRUE(ask(alice_, c->id, "Erste Frage").ok());
  auto regenerated =
      run_client([](chat_service* s, rag::requester w, std::string id) -> asio::awaitable<core::result<std::string>> {
        auto turn = co_await s->regenerate(w, id, "s-normal");
        if (!turn) co_return std::move(turn).err();
        std::int64_t last = 0;
        while (true) {
          auto events = co_await (*turn)->next(last);
          if (events.empty()) break;
          last = events.back().id;
        }
        co_return (*turn)->message_id();
      }(svc_.get(), alice_, c->id));
  ASSERT_TRUE(regenerated.ok()) << regenerated.err().message();
  auto messages = svc_->list_messages(alice_, c->id, 0, 10);
  ASSERT_EQ(messages->size(), 2u);  // the first answer is superseded
  EXPECT_EQ((*messages)[1].content, "Hello world");
  EXPECT_EQ((*messages)[1].model, "s-normal");

  const std::string question_id = (*messages)[0].id;
  auto edited = run_client(
      [](chat_service* s, rag::requester w, std::string id, std::string mid) -> asio::awaitable<core::status> {
        auto turn = co_await s->edit(w, id, mid, "Neue Frage");
        if (!turn) co_return turn.err();
        std::int64_t last = 0;
        while (true) {
          auto events = co_await (*turn)->next(last);
          if (events.empty()) break;
          last = events.back().id;
        }
        co_return core::status{};
      }(svc_.get(), alice_, c->id, question_id));
  ASSERT_TRUE(edited.ok());
  messages = svc_->list_messages(alice_, c->id, 0, 10);
  ASSERT_EQ(messages->size(), 2u);
  EXPECT_EQ((*messages)[0].content, "Neue Frage");
  EXPECT_EQ((*messages)[1].status, "complete");
}

TEST_P(chat_service_test, feedback_is_reviewable_with_question_answer_and_sources) {
  auto c = svc_->create_conversation(alice_, "", "", {space_with_contract()});
  ASSERT_TRUE(ask(alice_, c->id, "Sind Haustiere erlaubt?").ok());
  auto messages = svc_->list_messages(alice_, c->id, 0, 10);
  const std::string answer_id = (*messages)[1].id;
  EXPECT_EQ(svc_->give_feedback(alice_, c->id, (*messages)[0].id, 1, "").err().code(), core::errc::invalid_argument);
  EXPECT_EQ(svc_->give_feedback(alice_, c->id, answer_id, 5, "").err().code(), core::errc::invalid_argument);
  EXPECT_EQ(svc_->give_feedback(bob_, c->id, answer_id, 1, "").err().code(), core::errc::not_found);
  ASSERT_TRUE(svc_->give_feedback(alice_, c->id, answer_id, 1, "gut").ok());
  ASSERT_TRUE(svc_->give_feedback(alice_, c->id, answer_id, -1, "doch nicht").ok());  // replaces
  auto review = svc_->review_feedback(std::nullopt, 10, 0);
  ASSERT_TRUE(review.ok()) << review.err().message();
  ASSERT_EQ(review->size(), 1u);
  EXPECT_EQ((*review)[0].rating, -1);
  EXPECT_EQ((*review)[0].question, "Sind Haustiere erlaubt?");
  EXPECT_NE((*review)[0].answer.find("Haustiere"), std::string::npos);
  EXPECT_NE((*review)[0].citations_json.find("Mietvertrag.pdf"), std::string::npos);
  EXPECT_EQ(svc_->review_feedback(1, 10, 0)->size(), 0u);
}

TEST_P(chat_service_test, other_users_and_bad_input_get_errors_and_nothing_is_written) {
  auto c = svc_->create_conversation(alice_, "", "", {});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(svc_->get_conversation(bob_, c->id).err().code(), core::errc::not_found);
  EXPECT_EQ(svc_->list_messages(bob_, c->id, 0, 10).err().code(), core::errc::not_found);
  EXPECT_EQ(ask(bob_, c->id, "Hallo").err().code(), core::errc::not_found);
  EXPECT_EQ(svc_->delete_conversation(bob_, c->id).err().code(), core::errc::not_found);
  EXPECT_TRUE(svc_->list_conversations(bob_, "", 10, 0)->empty());

  EXPECT_EQ(svc_->create_conversation(alice_, "", "no-such-model", {}).err().code(), core::errc::not_found);
  EXPECT_EQ(svc_->create_conversation(alice_, "", "", {"no-such-space"}).err().code(), core::errc::not_found);
  EXPECT_EQ(svc_->create_conversation(alice_, "", "wattos-embed", {}).err().code(), core::errc::invalid_argument);
  EXPECT_EQ(ask(alice_, c->id, "   ").err().code(), core::errc::invalid_argument);
  EXPECT_EQ(ask(alice_, c->id, std::string(40000, 'x')).err().code(), core::errc::payload_too_large);
  EXPECT_EQ(ask(alice_, c->id, "Hallo", "no-such-model").err().code(), core::errc::not_found);
  EXPECT_TRUE(svc_->list_messages(alice_, c->id, 0, 10)->empty());  // nothing half-written
  // A space someone else owns cannot be attached.
  auto bobs = rag_->create_space(bob_, "Bobs-" + core::random_hex(3), "", "");
  EXPECT_EQ(svc_->update_conversation(alice_, c->id, std::nullopt, std::nullopt, std::vector<std::string>{bobs->id})
                .err()
                .code(),
            core::errc::not_found);
  ASSERT_TRUE(svc_->delete_conversation(alice_, c->id).ok());
  EXPECT_EQ(svc_->get_conversation(alice_, c->id).err().code(), core::errc::not_found);
}

TEST_P(chat_service_test, the_persona_prompt_from_the_layer_above_reaches_the_model) {
  svc_ = std::make_unique<chat_service>(
      db(), *llm_, *rag_, [](std::string_view persona_id) { return "PERSONA:" + std::string(persona_id); });
  auto c = svc_->create_conversation(alice_, "", "s-normal", {}, "lotte");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(ask(alice_, c->id, "Hallo").ok());
  EXPECT_NE(provider_.bodies().back().find("PERSONA:lotte"), std::string::npos) << provider_.bodies().back();
}

INSTANTIATE_TEST_SUITE_P(backends, chat_service_test, ::testing::Values("sqlite", "postgres"),
                         infra::db::testing::backend_name);

}  // namespace
}  // namespace wattos::streams::chat
