#include "streams/chat/chat_service.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>

#include "core/clock.hpp"
#include "core/id.hpp"
#include "core/log.hpp"
#include "core/utf8.hpp"
#include "infra/db/offload.hpp"

namespace wattos::streams::chat {

namespace asio = boost::asio;
namespace json = boost::json;
namespace db = infra::db;
namespace llm = infra::llm;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr std::size_t max_message_bytes = std::size_t{32} * 1024;
constexpr std::size_t max_title_bytes = 200;
constexpr std::size_t max_spaces = 20;
constexpr std::int64_t context_token_budget = 3000;
constexpr std::size_t history_messages = 40;
constexpr auto keep_finished_turns = std::chrono::minutes(5);

// The first words of the first question, as a title (at most 60 bytes, cut at a space).
std::string title_from(std::string_view text) {
  std::string t;
  for (char c : text) t += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  while (!t.empty() && t.front() == ' ') t.erase(t.begin());
  if (t.size() <= 60) return t;
  const auto cut = t.rfind(' ', 60);
  if (cut == std::string::npos || cut < 20) return std::string(core::utf8_prefix(t, 60)) + "…";
  return t.substr(0, cut) + "…";
}

std::string escape_like(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

core::result<message_info> message_from(const db::row& r) {
  message_info m;
  WATTOS_ASSIGN_OR_RETURN(m.id, r.get_text(0));
  WATTOS_ASSIGN_OR_RETURN(m.conversation_id, r.get_text(1));
  WATTOS_ASSIGN_OR_RETURN(m.seq, r.get_int(2));
  WATTOS_ASSIGN_OR_RETURN(m.role, r.get_text(3));
  WATTOS_ASSIGN_OR_RETURN(m.content, r.get_text(4));
  WATTOS_ASSIGN_OR_RETURN(m.citations_json, r.get_text(5));
  WATTOS_ASSIGN_OR_RETURN(m.model, r.get_text(6));
  WATTOS_ASSIGN_OR_RETURN(m.prompt_tokens, r.get_int(7));
  WATTOS_ASSIGN_OR_RETURN(m.completion_tokens, r.get_int(8));
  WATTOS_ASSIGN_OR_RETURN(m.status, r.get_text(9));
  WATTOS_ASSIGN_OR_RETURN(m.error, r.get_text(10));
  WATTOS_ASSIGN_OR_RETURN(m.created_at, r.get_text(11));
  return m;
}

constexpr const char* message_columns =
    "id, conversation_id, seq, role, content, citations, model, prompt_tokens, completion_tokens, status, error, "
    "created_at";

}  // namespace

// ---------------------------------------------------------------------------------

struct chat_turn::shared {
  mutable std::mutex mutex;  // guards everything below
  std::vector<chat_event> events;
  bool finished = false;
  bool cancelled = false;
  clock_type::time_point finished_at{};
  std::vector<std::shared_ptr<asio::steady_timer>> waiters;
  std::shared_ptr<llm::chat_stream> stream;
  asio::any_io_executor executor;  // where the pipeline runs
};

chat_turn::chat_turn(std::string conversation_id, std::string message_id, std::shared_ptr<shared> state)
    : conversation_id_(std::move(conversation_id)), message_id_(std::move(message_id)), state_(std::move(state)) {}

void chat_turn::publish(std::string type, std::string data) {
  std::vector<std::shared_ptr<asio::steady_timer>> wake;
  {
    std::lock_guard lock(state_->mutex);
    chat_event e;
    e.id = static_cast<std::int64_t>(state_->events.size()) + 1;
    e.type = std::move(type);
    e.data = std::move(data);
    state_->events.push_back(std::move(e));
    wake.swap(state_->waiters);
  }
  // Each waiter is woken on its own executor (its connection's strand).
  for (auto& w : wake) asio::post(w->get_executor(), [w] { w->cancel(); });
}

void chat_turn::finish() {
  std::vector<std::shared_ptr<asio::steady_timer>> wake;
  {
    std::lock_guard lock(state_->mutex);
    state_->finished = true;
    state_->finished_at = clock_type::now();
    state_->stream.reset();
    wake.swap(state_->waiters);
  }
  for (auto& w : wake) asio::post(w->get_executor(), [w] { w->cancel(); });
}

bool chat_turn::finished_before(std::chrono::steady_clock::time_point when) const {
  std::lock_guard lock(state_->mutex);
  return state_->finished && state_->finished_at < when;
}

bool chat_turn::finished() const {
  std::lock_guard lock(state_->mutex);
  return state_->finished;
}

bool chat_turn::cancelled() const {
  std::lock_guard lock(state_->mutex);
  return state_->cancelled;
}

void chat_turn::set_stream(std::shared_ptr<llm::chat_stream> stream) {
  std::lock_guard lock(state_->mutex);
  state_->stream = std::move(stream);
}

void chat_turn::cancel() {
  std::shared_ptr<llm::chat_stream> stream;
  asio::any_io_executor executor;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->finished) return;
    state_->cancelled = true;
    stream = state_->stream;
    executor = state_->executor;
  }
  // The stream belongs to the pipeline's executor: cancel it there.
  if (stream && executor) asio::post(executor, [stream] { stream->cancel(); });
}

asio::awaitable<std::vector<chat_event>> chat_turn::next(std::int64_t after_id) {
  const auto executor = co_await asio::this_coro::executor;  // before any lock (docs/coroutines.md, rule 5)
  while (true) {
    std::shared_ptr<asio::steady_timer> timer;
    {
      std::lock_guard lock(state_->mutex);
      std::vector<chat_event> out;
      for (const auto& e : state_->events) {
        if (e.id > after_id) out.push_back(e);
      }
      if (!out.empty() || state_->finished) co_return out;
      timer = std::make_shared<asio::steady_timer>(executor);
      timer->expires_at(asio::steady_timer::time_point::max());
      state_->waiters.push_back(timer);
    }
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    // Our own coroutine was cancelled (its client or the server went away), not just
    // woken by publish(): stop waiting.
    auto cancelled = (co_await asio::this_coro::cancellation_state).cancelled();
    if (cancelled != asio::cancellation_type::none) co_return std::vector<chat_event>{};
  }
}

// ---------------------------------------------------------------------------------

struct chat_service::impl {
  impl(db::database& database, llm::llm_gateway& gateway, rag::rag_service& retrieval, persona_prompt_fn prompt)
      : db(database), llm(gateway), rag(retrieval), persona_prompt(std::move(prompt)) {}

  db::database& db;
  llm::llm_gateway& llm;
  rag::rag_service& rag;
  persona_prompt_fn persona_prompt;
  std::mutex mutex;                                         // guards turns
  std::map<std::string, std::shared_ptr<chat_turn>> turns;  // by assistant message id
  clock_type::time_point last_prune{};                      // of turns

  core::result<conversation_info> owned(const rag::requester& who, std::string_view id) {
    WATTOS_ASSIGN_OR_RETURN(
        auto rows,
        db.execute(
            "SELECT id, owner_id, title, model, spaces, created_at, updated_at, persona_id FROM chat_conversations "
            "WHERE id = ?",
            {std::string(id)}));
    if (rows.rows.empty()) return core::error::not_found("conversation not found");
    const auto& r = rows.rows.front();
    conversation_info c;
    WATTOS_ASSIGN_OR_RETURN(c.id, r.get_text(0));
    WATTOS_ASSIGN_OR_RETURN(c.owner_id, r.get_text(1));
    WATTOS_ASSIGN_OR_RETURN(c.title, r.get_text(2));
    WATTOS_ASSIGN_OR_RETURN(c.model, r.get_text(3));
    WATTOS_ASSIGN_OR_RETURN(auto spaces, r.get_text(4));
    c.spaces = db::split_lines(spaces);
    WATTOS_ASSIGN_OR_RETURN(c.created_at, r.get_text(5));
    WATTOS_ASSIGN_OR_RETURN(c.updated_at, r.get_text(6));
    WATTOS_ASSIGN_OR_RETURN(c.persona_id, r.get_text(7));
    // Another user's conversation does not exist for the caller.
    if (c.owner_id != who.user_id) return core::error::not_found("conversation not found");
    return c;
  }

  core::status check_model(std::string_view model) {
    WATTOS_ASSIGN_OR_RETURN(auto view, llm.model(model));
    const auto& caps = view.settings->capabilities;
    if (std::find(caps.begin(), caps.end(), "chat") == caps.end()) {
      return core::error::invalid_argument("model '" + std::string(model) + "' cannot chat");
    }
    return {};
  }

  // The spaces' ids, each readable by the caller (a space named twice counts once).
  core::result<std::vector<std::string>> resolve_spaces(const rag::requester& who,
                                                        const std::vector<std::string>& names_or_ids) {
    std::vector<std::string> ids;
    for (const auto& s : names_or_ids) {
      WATTOS_ASSIGN_OR_RETURN(auto space, rag.get_space(who, s));
      if (std::find(ids.begin(), ids.end(), space.id) == ids.end()) ids.push_back(space.id);
    }
    if (ids.size() > max_spaces) return core::error::invalid_argument("at most 20 knowledge spaces");
    return ids;
  }

  // Appends a message with the next sequence number; retried once when a concurrent
  // message took the number (PostgreSQL; SQLite serialises writers).
  core::result<std::int64_t> append(const std::string& conversation_id, const message_info& m) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      std::int64_t seq = 0;
      auto st = db.transaction([&](db::connection& c) -> core::status {
        WATTOS_ASSIGN_OR_RETURN(
            auto rows,
            c.execute("SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM chat_messages WHERE conversation_id = ?",
                      {conversation_id}));
        WATTOS_ASSIGN_OR_RETURN(auto max_seq, rows.rows.front().get_int(0));
        seq = max_seq + 1;
        const std::string now = core::utc_now_iso();
        WATTOS_RETURN_IF_ERROR(c.execute(
            "INSERT INTO chat_messages (id, conversation_id, seq, role, content, citations, model, prompt_tokens, "
            "completion_tokens, status, error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {m.id, conversation_id, seq, m.role, m.content, m.citations_json, m.model, m.prompt_tokens,
             m.completion_tokens, m.status, m.error, now, now}));
        WATTOS_RETURN_IF_ERROR(
            c.execute("UPDATE chat_conversations SET updated_at = ? WHERE id = ?", {now, conversation_id}));
        return {};
      });
      if (st.ok()) return seq;
      if (st.err().code() != core::errc::already_exists) return st.err();
    }
    return core::error::conflict("too many concurrent messages in this conversation");
  }

  core::status update_answer(const std::string& id, const std::string& content, const std::string& citations,
                             const std::string& model, const llm::token_usage& usage, const std::string& status,
                             const std::string& error) {
    WATTOS_RETURN_IF_ERROR(db.execute(
        "UPDATE chat_messages SET content = ?, citations = ?, model = ?, prompt_tokens = ?, completion_tokens = ?, "
        "status = ?, error = ?, updated_at = ? WHERE id = ?",
        {content, citations, model, usage.prompt_tokens, usage.completion_tokens, status, error, core::utc_now_iso(),
         id}));
    return {};
  }

  // Finished turns stay a few minutes for reconnects, then go.
  // At most once a second: a walk over every turn for each new one made 1,000
  // concurrent answers quadratic.
  void prune_turns() {
    const auto now = clock_type::now();
    const auto cutoff = now - keep_finished_turns;
    std::lock_guard lock(mutex);
    if (now - last_prune < std::chrono::seconds(1)) return;
    last_prune = now;
    for (auto it = turns.begin(); it != turns.end();) {
      it = it->second->finished_before(cutoff) ? turns.erase(it) : std::next(it);
    }
  }

  // Starts the answer to the conversation's history (which ends with a user message).
  asio::awaitable<core::result<std::shared_ptr<chat_turn>>> start_answer(const rag::requester& who,
                                                                         conversation_info conversation,
                                                                         std::string model);
};

namespace {

// Store work off the I/O thread: it waits for the store's writer, the token relay of
// the other conversations on this thread should not (infra/db/offload.hpp).
template <typename Work>
asio::awaitable<std::invoke_result_t<Work&>> off_thread(Work work) {
  auto result = co_await db::offload(std::move(work));
  co_return result;
}

// The pipeline of one answer: sources, history, the model call, events and storage.
asio::awaitable<void> run_turn(chat_service::impl* im, std::shared_ptr<chat_turn> turn, rag::requester who,
                               conversation_info conversation, std::string model, std::vector<message_info> history,
                               std::string persona_prompt) {
  turn->publish("status", R"({"status":"started"})");
  std::string question;
  for (const auto& m : history) {
    if (m.role == "user") question = m.content;
  }
  // Sources from the conversation's knowledge spaces (the RAG service checks access).
  std::string context;
  json::array citations;
  if (!conversation.spaces.empty()) {
    rag::search_request search;
    search.space_ids = conversation.spaces;
    search.query = question.size() > 4096 ? question.substr(0, 4096) : question;
    search.k = 8;
    search.mode = rag::search_mode::lexical;
    for (const auto& id : conversation.spaces) {
      auto space = im->rag.get_space(who, id);
      if (space.ok() && space->embedding_model != "wattos-embed") search.mode = rag::search_mode::hybrid;
    }
    auto hits = co_await im->rag.search(who, std::move(search));
    if (!hits) {
      const std::string message = hits.err().message();
      auto store = [&] { return im->update_answer(turn->message_id(), "", "[]", model, {}, "failed", message); };
      (void)co_await off_thread(std::move(store));
      json::object err{{"code", std::string(core::errc_name(hits.err().code()))}, {"message", message}};
      turn->publish("error", json::serialize(err));
      turn->finish();
      co_return;
    }
    auto built = rag::rag_service::build_context(*hits, context_token_budget);
    context = std::move(built.text);
    for (const auto& c : built.citations) {
      json::object cj{{"number", c.number},         {"space_id", c.space_id}, {"document_id", c.document_id},
                      {"title", c.title},           {"page", c.page},         {"heading_path", c.heading_path},
                      {"char_start", c.char_start}, {"char_end", c.char_end}, {"snippet", c.snippet}};
      turn->publish("citation", json::serialize(cj));
      citations.push_back(std::move(cj));
    }
  }
  const std::string citations_text = json::serialize(citations);

  llm::chat_request request;
  request.model = model;
  std::string system = !persona_prompt.empty()
                           ? std::move(persona_prompt)
                           : std::string(
                                 "Du bist ein hilfreicher Assistent. / You are a helpful assistant. Antworte "
                                 "in der Sprache der Frage. / Answer in the language of the question.");
  if (!conversation.spaces.empty()) {
    system += context.empty()
                  ? "\n\nDie Wissensräume enthalten nichts zu dieser Frage. / The knowledge spaces hold nothing on "
                    "this question."
                  : "\n\nBeantworte die Frage aus den nummerierten Quellen und zitiere sie als [n]. / Answer from "
                    "the numbered sources and cite them as [n].\n\n" +
                        context;
  }
  request.messages.push_back({"system", std::move(system), {}, {}, {}});
  const std::size_t first = history.size() > history_messages ? history.size() - history_messages : 0;
  for (std::size_t i = first; i < history.size(); ++i) {
    request.messages.push_back({history[i].role, history[i].content, {}, {}, {}});
  }
  const llm::caller caller{who.user_id, "", {}, who.request_id};
  auto started = co_await im->llm.chat(caller, std::move(request));
  if (!started) {
    const std::string message = started.err().message();
    auto store = [&] {
      return im->update_answer(turn->message_id(), "", citations_text, model, {}, "failed", message);
    };
    (void)co_await off_thread(std::move(store));
    json::object err{{"code", std::string(core::errc_name(started.err().code()))}, {"message", message}};
    turn->publish("error", json::serialize(err));
    turn->finish();
    co_return;
  }
  std::shared_ptr<llm::chat_stream> stream = std::move(*started);
  turn->set_stream(stream);
  turn->publish("status", R"({"status":"streaming"})");
  std::string content;
  auto last_save = clock_type::now();
  std::string status = "cancelled";
  std::string error;
  llm::token_usage usage;
  std::string finish_reason;
  while (auto event = co_await stream->next()) {
    if (event->type == llm::chat_event::kind::text) {
      content += event->text;
      json::object token{{"text", event->text}};
      turn->publish("token", json::serialize(token));
      // The partial answer reaches the store every 5 s: a crash loses little, and a
      // thousand streams do not turn into a thousand writes a second.
      if (clock_type::now() - last_save > std::chrono::seconds(5)) {
        auto store = [&, partial = content, answering = stream->model()] {
          return im->update_answer(turn->message_id(), partial, citations_text, answering, {}, "streaming", "");
        };
        (void)co_await off_thread(std::move(store));
        last_save = clock_type::now();
      }
    } else if (event->type == llm::chat_event::kind::finish) {
      status = "complete";
      usage = event->usage;
      finish_reason = event->finish_reason;
    } else if (event->type == llm::chat_event::kind::failure) {
      status = event->error->code() == core::errc::cancelled ? "cancelled" : "failed";
      error = event->error->message();
    }
  }
  if (turn->cancelled() && status != "complete") status = "cancelled";
  const std::string answered_by = stream->model().empty() ? model : stream->model();
  auto store_answer = [&] {
    return im->update_answer(turn->message_id(), content, citations_text, answered_by, usage, status, error);
  };
  if (auto st = co_await off_thread(std::move(store_answer)); !st.ok()) {
    core::log_error("answer not stored", {{"message", turn->message_id()}, {"error", st.err().message()}});
  }
  if (status == "complete") {
    json::object done{{"message_id", turn->message_id()},
                      {"model", answered_by},
                      {"finish_reason", finish_reason},
                      {"usage", json::object{{"prompt_tokens", usage.prompt_tokens},
                                             {"completion_tokens", usage.completion_tokens}}}};
    turn->publish("done", json::serialize(done));
  } else {
    json::object err{{"code", status == "cancelled" ? "cancelled" : "bad_gateway"},
                     {"message", status == "cancelled" ? std::string("the answer was cancelled") : error},
                     {"message_id", turn->message_id()}};
    turn->publish("error", json::serialize(err));
  }
  turn->finish();
}

}  // namespace

asio::awaitable<core::result<std::shared_ptr<chat_turn>>> chat_service::impl::start_answer(
    const rag::requester& who, conversation_info conversation, std::string model) {
  std::string system_prompt = persona_prompt ? persona_prompt(conversation.persona_id) : std::string();
  auto read_history = [this, &conversation] {
    return db.execute(std::string("SELECT ") + message_columns +
                          " FROM chat_messages WHERE conversation_id = ? AND status <> 'superseded' ORDER BY seq",
                      {conversation.id});
  };
  auto history_rows = co_await off_thread(std::move(read_history));
  if (!history_rows) co_return std::move(history_rows).err();
  std::vector<message_info> history;
  for (const auto& r : history_rows->rows) {
    auto m = message_from(r);
    if (!m) co_return std::move(m).err();
    if (m->role == "assistant" && m->status != "complete" && m->content.empty()) continue;
    history.push_back(std::move(*m));
  }
  message_info answer;
  answer.id = core::new_uuid_v7();
  answer.role = "assistant";
  answer.model = model;
  answer.status = "streaming";
  auto store_answer = [this, &conversation, &answer] { return append(conversation.id, answer); };
  auto appended = co_await off_thread(std::move(store_answer));
  if (!appended) co_return std::move(appended).err();
  auto executor = co_await asio::this_coro::executor;
  auto state = std::make_shared<chat_turn::shared>();
  state->executor = executor;
  auto turn = std::make_shared<chat_turn>(conversation.id, answer.id, state);
  prune_turns();
  {
    std::lock_guard lock(mutex);
    turns[answer.id] = turn;
  }
  asio::co_spawn(executor,
                 run_turn(this, turn, who, std::move(conversation), std::move(model), std::move(history),
                          std::move(system_prompt)),
                 asio::detached);
  co_return turn;
}

// ---------------------------------------------------------------------------------

const std::vector<db::migration>& chat_service::migrations() {
  static const std::vector<db::migration> list = {
      {1, "conversations",
       "CREATE TABLE chat_conversations (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, title TEXT NOT NULL,"
       " model TEXT NOT NULL, spaces TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
       "CREATE INDEX chat_conversations_owner ON chat_conversations (owner_id, updated_at);"
       "CREATE TABLE chat_messages (id TEXT PRIMARY KEY,"
       " conversation_id TEXT NOT NULL REFERENCES chat_conversations(id) ON DELETE CASCADE,"
       " seq BIGINT NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL, citations TEXT NOT NULL, model TEXT NOT NULL,"
       " prompt_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL, status TEXT NOT NULL, error TEXT NOT NULL,"
       " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (conversation_id, seq));"
       "CREATE TABLE chat_feedback (message_id TEXT NOT NULL REFERENCES chat_messages(id) ON DELETE CASCADE,"
       " user_id TEXT NOT NULL, rating INTEGER NOT NULL, comment TEXT NOT NULL, created_at TEXT NOT NULL,"
       " PRIMARY KEY (message_id, user_id))",
       ""},
      {2, "persona", "ALTER TABLE chat_conversations ADD COLUMN persona_id TEXT NOT NULL DEFAULT ''", ""},
  };
  return list;
}

chat_service::chat_service(db::database& db, llm::llm_gateway& llm, rag::rag_service& rag,
                           persona_prompt_fn persona_prompt)
    : impl_(std::make_unique<impl>(db, llm, rag, std::move(persona_prompt))) {}

chat_service::~chat_service() = default;

core::result<conversation_info> chat_service::create_conversation(const rag::requester& who, std::string title,
                                                                  std::string model, std::vector<std::string> spaces,
                                                                  std::string persona_id) {
  if (persona_id.size() > 100) return core::error::invalid_argument("persona id too long");
  if (title.size() > max_title_bytes) return core::error::invalid_argument("title may have at most 200 bytes");
  if (model.empty()) model = impl_->llm.settings().default_model;
  WATTOS_RETURN_IF_ERROR(impl_->check_model(model));
  // Spaces are stored by id, whatever the caller named them by.
  WATTOS_ASSIGN_OR_RETURN(auto ids, impl_->resolve_spaces(who, spaces));
  conversation_info c;
  c.id = core::new_uuid_v7();
  c.owner_id = who.user_id;
  c.title = std::move(title);
  c.model = std::move(model);
  c.spaces = std::move(ids);
  c.persona_id = std::move(persona_id);
  c.created_at = core::utc_now_iso();
  c.updated_at = c.created_at;
  WATTOS_RETURN_IF_ERROR(impl_->db.execute(
      "INSERT INTO chat_conversations (id, owner_id, title, model, spaces, created_at, updated_at, persona_id) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      {c.id, c.owner_id, c.title, c.model, db::join_lines(c.spaces), c.created_at, c.updated_at, c.persona_id}));
  return c;
}

core::result<std::vector<conversation_info>> chat_service::list_conversations(const rag::requester& who,
                                                                              std::string_view search, int limit,
                                                                              int offset) {
  std::string sql = "SELECT c.id FROM chat_conversations c WHERE c.owner_id = ?";
  std::vector<db::value> params{who.user_id};
  if (!search.empty()) {
    const std::string pattern = "%" + escape_like(search.substr(0, 200)) + "%";
    sql +=
        " AND (LOWER(c.title) LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM chat_messages m WHERE "
        "m.conversation_id = c.id AND m.status <> 'superseded' AND LOWER(m.content) LIKE ? ESCAPE '\\'))";
    params.emplace_back(pattern);
    params.emplace_back(pattern);
  }
  sql += " ORDER BY c.updated_at DESC, c.id DESC LIMIT ? OFFSET ?";
  params.emplace_back(std::int64_t{limit});
  params.emplace_back(std::int64_t{offset});
  WATTOS_ASSIGN_OR_RETURN(auto rows, impl_->db.execute(sql, params));
  std::vector<conversation_info> out;
  for (const auto& r : rows.rows) {
    WATTOS_ASSIGN_OR_RETURN(auto id, r.get_text(0));
    WATTOS_ASSIGN_OR_RETURN(auto c, impl_->owned(who, id));
    out.push_back(std::move(c));
  }
  return out;
}

core::result<conversation_info> chat_service::get_conversation(const rag::requester& who, std::string_view id) {
  return impl_->owned(who, id);
}

core::result<conversation_info> chat_service::update_conversation(const rag::requester& who, std::string_view id,
                                                                  std::optional<std::string> title,
                                                                  std::optional<std::string> model,
                                                                  std::optional<std::vector<std::string>> spaces,
                                                                  std::optional<std::string> persona_id) {
  WATTOS_ASSIGN_OR_RETURN(auto c, impl_->owned(who, id));
  if (persona_id) {
    if (persona_id->size() > 100) return core::error::invalid_argument("persona id too long");
    c.persona_id = *persona_id;
  }
  if (title) {
    if (title->size() > max_title_bytes) return core::error::invalid_argument("title may have at most 200 bytes");
    c.title = *title;
  }
  if (model) {
    WATTOS_RETURN_IF_ERROR(impl_->check_model(*model));
    c.model = *model;
  }
  if (spaces) {
    WATTOS_ASSIGN_OR_RETURN(c.spaces, impl_->resolve_spaces(who, *spaces));
  }
  c.updated_at = core::utc_now_iso();
  WATTOS_RETURN_IF_ERROR(impl_->db.execute(
      "UPDATE chat_conversations SET title = ?, model = ?, spaces = ?, updated_at = ?, persona_id = ? WHERE id = ?",
      {c.title, c.model, db::join_lines(c.spaces), c.updated_at, c.persona_id, c.id}));
  return c;
}

core::status chat_service::delete_conversation(const rag::requester& who, std::string_view id) {
  WATTOS_ASSIGN_OR_RETURN(auto c, impl_->owned(who, id));
  return impl_->db.transaction([&](db::connection& conn) -> core::status {
    WATTOS_RETURN_IF_ERROR(conn.execute(
        "DELETE FROM chat_feedback WHERE message_id IN (SELECT id FROM chat_messages WHERE conversation_id = ?)",
        {c.id}));
    WATTOS_RETURN_IF_ERROR(conn.execute("DELETE FROM chat_messages WHERE conversation_id = ?", {c.id}));
    WATTOS_RETURN_IF_ERROR(conn.execute("DELETE FROM chat_conversations WHERE id = ?", {c.id}));
    return {};
  });
}

core::result<std::vector<message_info>> chat_service::list_messages(const rag::requester& who,
                                                                    std::string_view conversation_id,
                                                                    std::int64_t after_seq, int limit) {
  WATTOS_ASSIGN_OR_RETURN(auto c, impl_->owned(who, conversation_id));
  WATTOS_ASSIGN_OR_RETURN(auto rows, impl_->db.execute(std::string("SELECT ") + message_columns +
                                                           " FROM chat_messages WHERE conversation_id = ? AND seq > ? "
                                                           "AND status <> 'superseded' ORDER BY seq LIMIT ?",
                                                       {c.id, after_seq, std::int64_t{limit}}));
  std::vector<message_info> out;
  for (const auto& r : rows.rows) {
    WATTOS_ASSIGN_OR_RETURN(auto m, message_from(r));
    out.push_back(std::move(m));
  }
  return out;
}

asio::awaitable<core::result<std::shared_ptr<chat_turn>>> chat_service::send(const rag::requester& who,
                                                                             std::string conversation_id,
                                                                             send_request request) {
  if (request.content.find_first_not_of(" \t\r\n") == std::string::npos) {
    co_return core::error::invalid_argument("the message must not be empty");
  }
  if (request.content.size() > max_message_bytes) {
    co_return core::error::payload_too_large("a message may have at most 32 KiB");
  }
  auto conversation = impl_->owned(who, conversation_id);
  if (!conversation) co_return std::move(conversation).err();
  const std::string model = request.model.empty() ? conversation->model : request.model;
  if (auto st = impl_->check_model(model); !st.ok()) co_return st.err();
  message_info user;
  user.id = core::new_uuid_v7();
  user.role = "user";
  user.content = std::move(request.content);
  user.status = "complete";
  if (conversation->title.empty()) {
    conversation->title = title_from(user.content);
    (void)impl_->db.execute("UPDATE chat_conversations SET title = ? WHERE id = ?",
                            {conversation->title, conversation->id});
  }
  auto store_question = [this, &conversation, &user] { return impl_->append(conversation->id, user); };
  auto appended = co_await db::offload(std::move(store_question));
  if (!appended) co_return std::move(appended).err();
  auto turn = co_await impl_->start_answer(who, std::move(*conversation), model);
  co_return turn;
}

asio::awaitable<core::result<std::shared_ptr<chat_turn>>> chat_service::regenerate(const rag::requester& who,
                                                                                   std::string conversation_id,
                                                                                   std::string model) {
  auto conversation = impl_->owned(who, conversation_id);
  if (!conversation) co_return std::move(conversation).err();
  if (model.empty()) model = conversation->model;
  if (auto st = impl_->check_model(model); !st.ok()) co_return st.err();
  auto last = impl_->db.execute(
      "SELECT id, role, status FROM chat_messages WHERE conversation_id = ? AND status <> 'superseded' "
      "ORDER BY seq DESC LIMIT 1",
      {conversation->id});
  if (!last) co_return std::move(last).err();
  if (last->rows.empty()) co_return core::error::failed_precondition("the conversation has no question to answer");
  const std::string last_role = last->rows.front().get_text(1).value_or("");
  const std::string last_status = last->rows.front().get_text(2).value_or("");
  if (last_status == "streaming") co_return core::error::conflict("an answer is still being written");
  if (last_role == "assistant") {
    auto st = impl_->db.execute("UPDATE chat_messages SET status = 'superseded' WHERE id = ?",
                                {last->rows.front().get_text(0).value_or("")});
    if (!st) co_return std::move(st).err();
  }
  auto turn = co_await impl_->start_answer(who, std::move(*conversation), model);
  co_return turn;
}

asio::awaitable<core::result<std::shared_ptr<chat_turn>>> chat_service::edit(const rag::requester& who,
                                                                             std::string conversation_id,
                                                                             std::string message_id,
                                                                             std::string content) {
  if (content.find_first_not_of(" \t\r\n") == std::string::npos) {
    co_return core::error::invalid_argument("the message must not be empty");
  }
  if (content.size() > max_message_bytes) co_return core::error::payload_too_large("a message may have at most 32 KiB");
  auto conversation = impl_->owned(who, conversation_id);
  if (!conversation) co_return std::move(conversation).err();
  auto row = impl_->db.execute(
      "SELECT seq, role FROM chat_messages WHERE id = ? AND conversation_id = ? AND status <> 'superseded'",
      {message_id, conversation->id});
  if (!row) co_return std::move(row).err();
  if (row->rows.empty()) co_return core::error::not_found("message not found");
  if (row->rows.front().get_text(1).value_or("") != "user") {
    co_return core::error::invalid_argument("only a user message can be edited");
  }
  const std::int64_t seq = row->rows.front().get_int(0).value_or(0);
  auto st = impl_->db.transaction([&](db::connection& c) -> core::status {
    WATTOS_RETURN_IF_ERROR(c.execute("UPDATE chat_messages SET content = ?, updated_at = ? WHERE id = ?",
                                     {content, core::utc_now_iso(), message_id}));
    WATTOS_RETURN_IF_ERROR(
        c.execute("UPDATE chat_messages SET status = 'superseded' WHERE conversation_id = ? AND seq > ?",
                  {conversation->id, seq}));
    return {};
  });
  if (!st.ok()) co_return st.err();
  const std::string model = conversation->model;
  auto turn = co_await impl_->start_answer(who, std::move(*conversation), model);
  co_return turn;
}

core::result<std::shared_ptr<chat_turn>> chat_service::turn(const rag::requester& who, std::string_view conversation_id,
                                                            std::string_view message_id) {
  WATTOS_ASSIGN_OR_RETURN(auto c, impl_->owned(who, conversation_id));
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->turns.find(std::string(message_id));
  if (it == impl_->turns.end() || it->second->conversation_id() != c.id) {
    return core::error::not_found("no answer in progress for this message (read it from the conversation)");
  }
  return it->second;
}

core::status chat_service::cancel(const rag::requester& who, std::string_view conversation_id,
                                  std::string_view message_id) {
  WATTOS_ASSIGN_OR_RETURN(auto t, turn(who, conversation_id, message_id));
  if (t->finished()) return core::error::failed_precondition("the answer is already finished");
  t->cancel();
  return {};
}

core::status chat_service::give_feedback(const rag::requester& who, std::string_view conversation_id,
                                         std::string_view message_id, int rating, std::string comment) {
  if (rating != 1 && rating != -1) return core::error::invalid_argument("rating must be 1 or -1");
  if (comment.size() > 4000) return core::error::invalid_argument("comment may have at most 4000 bytes");
  WATTOS_ASSIGN_OR_RETURN(auto c, impl_->owned(who, conversation_id));
  WATTOS_ASSIGN_OR_RETURN(auto rows,
                          impl_->db.execute("SELECT role FROM chat_messages WHERE id = ? AND conversation_id = ?",
                                            {std::string(message_id), c.id}));
  if (rows.rows.empty()) return core::error::not_found("message not found");
  if (rows.rows.front().get_text(0).value_or("") != "assistant") {
    return core::error::invalid_argument("feedback is for answers");
  }
  const std::string mid(message_id);
  return impl_->db.transaction([&](db::connection& conn) -> core::status {
    WATTOS_RETURN_IF_ERROR(
        conn.execute("DELETE FROM chat_feedback WHERE message_id = ? AND user_id = ?", {mid, who.user_id}));
    WATTOS_RETURN_IF_ERROR(conn.execute(
        "INSERT INTO chat_feedback (message_id, user_id, rating, comment, created_at) VALUES (?, ?, ?, ?, ?)",
        {mid, who.user_id, std::int64_t{rating}, comment, core::utc_now_iso()}));
    return {};
  });
}

core::result<std::vector<chat_service::feedback_item>> chat_service::review_feedback(std::optional<int> rating,
                                                                                     int limit, int offset) {
  // The question is the user message just before the answer.
  std::string sql =
      "SELECT f.message_id, f.user_id, f.rating, f.comment, f.created_at, a.content, a.citations, a.model, "
      "COALESCE((SELECT q.content FROM chat_messages q WHERE q.conversation_id = a.conversation_id AND q.seq < a.seq "
      "AND q.role = 'user' ORDER BY q.seq DESC LIMIT 1), '') "
      "FROM chat_feedback f JOIN chat_messages a ON a.id = f.message_id";
  std::vector<db::value> params;
  if (rating) {
    sql += " WHERE f.rating = ?";
    params.emplace_back(std::int64_t{*rating});
  }
  sql += " ORDER BY f.created_at DESC LIMIT ? OFFSET ?";
  params.emplace_back(std::int64_t{limit});
  params.emplace_back(std::int64_t{offset});
  WATTOS_ASSIGN_OR_RETURN(auto rows, impl_->db.execute(sql, params));
  std::vector<feedback_item> out;
  for (const auto& r : rows.rows) {
    feedback_item f;
    WATTOS_ASSIGN_OR_RETURN(f.message_id, r.get_text(0));
    WATTOS_ASSIGN_OR_RETURN(f.user_id, r.get_text(1));
    WATTOS_ASSIGN_OR_RETURN(auto value, r.get_int(2));
    f.rating = static_cast<int>(value);
    WATTOS_ASSIGN_OR_RETURN(f.comment, r.get_text(3));
    WATTOS_ASSIGN_OR_RETURN(f.created_at, r.get_text(4));
    WATTOS_ASSIGN_OR_RETURN(f.answer, r.get_text(5));
    WATTOS_ASSIGN_OR_RETURN(f.citations_json, r.get_text(6));
    WATTOS_ASSIGN_OR_RETURN(f.model, r.get_text(7));
    WATTOS_ASSIGN_OR_RETURN(f.question, r.get_text(8));
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace wattos::streams::chat
