// A scripted model provider for tests: an OpenAI-compatible and an Anthropic endpoint
// on a loopback test_server whose behaviour is chosen by the upstream model name in
// the request ("normal", "tools", "malformed", "malformed_first", "disconnect",
// "storm", "flaky", "slow", "echo", "bad_request", "persona": a drafted persona as
// JSON). It records every request body so tests can check what left the gateway (PII
// redaction) and how often (retries).
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "../net/test_client.hpp"
#include "net/http_error.hpp"
#include "net/json_body.hpp"

namespace wattos::infra::llm::testing {

namespace asio = boost::asio;
namespace json = boost::json;

inline std::string openai_chunk(const json::object& delta, const char* finish = nullptr) {
  json::object choice{
      {"index", 0}, {"delta", delta}, {"finish_reason", finish ? json::value(finish) : json::value(nullptr)}};
  json::object chunk{
      {"id", "c1"}, {"object", "chat.completion.chunk"}, {"model", "m"}, {"choices", json::array{choice}}};
  return "data: " + json::serialize(chunk) + "\n\n";
}

class scripted_provider {
 public:
  scripted_provider() {
    server_.settings.max_body_bytes = 1 << 20;
    server_.settings.read_timeout_ms = 5000;
    server_.routes.add("POST", "/v1/chat/completions", [this](net::request& req) { return openai_chat(req); });
    server_.routes.add("POST", "/v1/embeddings", [this](net::request& req) { return embeddings(req); });
    server_.routes.add("POST", "/v1/rerank", [this](net::request& req) { return rerank(req); });
    server_.routes.add("POST", "/v1/audio/speech", [this](net::request& req) -> asio::awaitable<net::response> {
      json::object body;
      record(req, body);
      co_return net::response::text(200, "RIFF-fake-wave:" + std::string(body.at("input").get_string()), "audio/wav");
    });
    net::route_options upload;
    upload.multipart_upload = true;
    server_.routes.add(
        "POST", "/v1/audio/transcriptions",
        [this](net::request& req) -> asio::awaitable<net::response> {
          std::lock_guard lock(mutex_);
          ++calls_["transcribe"];
          std::string model;
          for (const auto& f : req.form) {
            if (f.first == "model") model = f.second;
          }
          const bool has_file = req.files.size() == 1 && req.files[0].field_name == "file" && req.files[0].size > 0;
          co_return net::response::json(200,
                                        has_file ? R"({"text":"hallo welt von )" + model + "\"}" : R"({"text":""})");
        },
        upload);
    server_.routes.add("POST", "/anthropic/messages", [this](net::request& req) { return anthropic(req); });
    server_.start();
  }

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(server_.port()) + "/v1"; }
  std::string anthropic_url() const { return "http://127.0.0.1:" + std::to_string(server_.port()) + "/anthropic"; }

  int calls(const std::string& scenario) {
    std::lock_guard lock(mutex_);
    return calls_[scenario];
  }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mutex_);
    return bodies_;
  }
  // Status codes "flaky" answers before it succeeds.
  std::atomic<int> flaky_failures{2};

  // Waits (bounded) until an "endless" stream noticed that its client went away.
  bool wait_for_abandoned_stream(std::chrono::milliseconds deadline) {
    std::unique_lock lock(mutex_);
    return abandoned_cv_.wait_for(lock, deadline, [this] { return abandoned_ > 0; });
  }

 private:
  std::string record(const net::request& req, json::object& body) {
    auto parsed = net::parse_json(req.body);
    if (parsed && parsed->is_object()) body = parsed->get_object();
    std::string scenario =
        body.contains("model") && body.at("model").is_string() ? std::string(body.at("model").get_string()) : "";
    std::lock_guard lock(mutex_);
    bodies_.push_back(req.body);
    ++calls_[scenario];
    return scenario;
  }

  static std::string last_user_text(const json::object& body) {
    std::string text;
    for (const auto& m : body.at("messages").get_array()) {
      const auto& o = m.get_object();
      if (o.at("role").get_string() == "user" && o.at("content").is_string())
        text = std::string(o.at("content").get_string());
    }
    return text;
  }

  asio::awaitable<net::response> openai_chat(net::request& req) {
    json::object body;
    const std::string scenario = record(req, body);
    if (scenario == "storm") {
      auto res = net::response::json(429, R"({"error":{"message":"slow down"}})");
      res.headers.set("Retry-After", "0");
      co_return res;
    }
    if (scenario == "bad_request") co_return net::response::json(400, R"({"error":{"message":"context too long"}})");
    if (scenario == "flaky" && flaky_failures.fetch_sub(1) > 0) {
      co_return net::response::json(503, R"({"error":{"message":"overloaded"}})");
    }
    if (scenario == "slow") {
      asio::steady_timer timer(co_await asio::this_coro::executor);
      timer.expires_after(std::chrono::milliseconds(1500));
      co_await timer.async_wait(asio::use_awaitable);
    }
    if (scenario == "endless") {
      // Tokens every 10 ms until the client leaves (at most 10 s).
      net::sse_producer producer = [this](net::sse_stream& out) -> asio::awaitable<void> {
        asio::steady_timer tick(co_await asio::this_coro::executor);
        for (int i = 0; i < 1000; ++i) {
          std::string frame = openai_chunk({{"content", "tick "}});
          if (!co_await out.send_raw(std::move(frame))) break;
          tick.expires_after(std::chrono::milliseconds(10));
          auto [ec] = co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
          if (ec || out.closed()) break;
        }
        std::lock_guard lock(mutex_);
        ++abandoned_;
        abandoned_cv_.notify_all();
      };
      co_return net::response::event_stream(std::move(producer));
    }
    std::vector<std::string> frames;
    if (scenario == "tools") {
      frames.push_back(openai_chunk(
          {{"role", "assistant"},
           {"content", nullptr},
           {"tool_calls",
            json::array{json::object{{"index", 0},
                                     {"id", "call_1"},
                                     {"type", "function"},
                                     {"function", json::object{{"name", "get_weather"}, {"arguments", ""}}}}}}}));
      frames.push_back(openai_chunk(
          {{"tool_calls",
            json::array{json::object{{"index", 0}, {"function", json::object{{"arguments", "{\"ci"}}}}}}}));
      frames.push_back(openai_chunk(
          {{"tool_calls",
            json::array{json::object{{"index", 0}, {"function", json::object{{"arguments", "ty\":\"Berlin\"}"}}}}}}}));
      frames.push_back(openai_chunk({}, "tool_calls"));
    } else if (scenario == "persona") {
      // A persona as a model writes it: in a code fence, with values out of range, a
      // number as a string, an unknown verbosity, and rules that are not all strings.
      const std::string answer =
          "Gern, hier ist der Entwurf:\n```json\n{\"name\": \"Greta\", \"role\": \"Reiseberaterin\", "
          "\"description\": \"Greta plant Dienstreisen und achtet auf Kosten.\", \"traits\": {\"openness\": 70, "
          "\"conscientiousness\": \"90\", \"extraversion\": 150, \"agreeableness\": 80, \"neuroticism\": -5}, "
          "\"tone\": \"Formal\", \"humour\": 20, \"verbosity\": \"verbose\", \"address\": \"du\", "
          "\"rules\": [\"Nenne Preise mit Quelle.\", 5, \"\"], \"greeting\": \"Hallo, ich bin Greta.\"}\n```";
      for (std::size_t i = 0; i < answer.size(); i += 7)
        frames.push_back(openai_chunk({{"content", answer.substr(i, 7)}}));
      frames.push_back(openai_chunk({}, "stop"));
    } else if (scenario == "echo") {
      frames.push_back(openai_chunk({{"content", "You said: "}}));
      std::string text = last_user_text(body);
      // Split the echo in small pieces so placeholders cross chunk boundaries.
      for (std::size_t i = 0; i < text.size(); i += 3) frames.push_back(openai_chunk({{"content", text.substr(i, 3)}}));
      frames.push_back(openai_chunk({}, "stop"));
    } else if (scenario == "malformed_first") {
      frames.push_back("data: {this is not json\n\n");
    } else {
      frames.push_back(openai_chunk({{"role", "assistant"}, {"content", "Hello"}}));
      if (scenario == "malformed") {
        frames.push_back("data: {\"choices\": [\n\n");
      } else if (scenario != "disconnect") {
        frames.push_back(openai_chunk({{"content", " world"}}));
        frames.push_back(openai_chunk({}, "stop"));
      }
    }
    if (scenario != "disconnect" && scenario != "malformed" && scenario != "malformed_first") {
      frames.push_back(
          "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7}}\n\n");
      frames.push_back("data: [DONE]\n\n");
    }
    co_return net::response::event_stream([frames](net::sse_stream& out) -> asio::awaitable<void> {
      for (const auto& f : frames) {
        std::string copy = f;
        if (!co_await out.send_raw(std::move(copy))) co_return;
      }
    });
  }

  asio::awaitable<net::response> embeddings(net::request& req) {
    json::object body;
    record(req, body);
    json::array data;
    std::size_t i = 0;
    for (const auto& input : body.at("input").get_array()) {
      const double len = static_cast<double>(input.get_string().size());
      data.push_back(json::object{{"object", "embedding"}, {"index", i++}, {"embedding", json::array{len, 1.0, 0.5}}});
    }
    co_return net::response::json(
        200, json::serialize(json::object{{"data", std::move(data)}, {"usage", json::object{{"prompt_tokens", 5}}}}));
  }

  asio::awaitable<net::response> rerank(net::request& req) {
    json::object body;
    record(req, body);
    json::array results;
    std::size_t i = 0;
    const std::string query(body.at("query").get_string());
    for (const auto& d : body.at("documents").get_array()) {
      const bool hit = std::string(d.get_string()).find(query) != std::string::npos;
      results.push_back(json::object{{"index", i++}, {"relevance_score", hit ? 0.9 : 0.1}});
    }
    co_return net::response::json(200, json::serialize(json::object{{"results", std::move(results)}}));
  }

  asio::awaitable<net::response> anthropic(net::request& req) {
    json::object body;
    const std::string scenario = record(req, body);
    auto ev = [](const char* type, json::object o) {
      o["type"] = type;
      return std::string("event: ") + type + "\ndata: " + json::serialize(o) + "\n\n";
    };
    std::vector<std::string> frames;
    frames.push_back(
        ev("message_start",
           {{"message",
             json::object{{"id", "msg_1"}, {"usage", json::object{{"input_tokens", 21}, {"output_tokens", 1}}}}}}));
    frames.push_back(ev("ping", {}));
    if (scenario == "tools") {
      frames.push_back(
          ev("content_block_start", {{"index", 0}, {"content_block", json::object{{"type", "text"}, {"text", ""}}}}));
      frames.push_back(ev("content_block_delta",
                          {{"index", 0}, {"delta", json::object{{"type", "text_delta"}, {"text", "Let me check."}}}}));
      frames.push_back(ev("content_block_stop", {{"index", 0}}));
      frames.push_back(ev("content_block_start", {{"index", 1},
                                                  {"content_block", json::object{{"type", "tool_use"},
                                                                                 {"id", "toolu_1"},
                                                                                 {"name", "get_weather"},
                                                                                 {"input", json::object{}}}}}));
      frames.push_back(
          ev("content_block_delta",
             {{"index", 1}, {"delta", json::object{{"type", "input_json_delta"}, {"partial_json", "{\"city\": "}}}}));
      frames.push_back(
          ev("content_block_delta",
             {{"index", 1}, {"delta", json::object{{"type", "input_json_delta"}, {"partial_json", "\"Paris\"}"}}}}));
      frames.push_back(ev("content_block_stop", {{"index", 1}}));
      frames.push_back(ev("message_delta", {{"delta", json::object{{"stop_reason", "tool_use"}}},
                                            {"usage", json::object{{"output_tokens", 30}}}}));
    } else {
      frames.push_back(
          ev("content_block_start", {{"index", 0}, {"content_block", json::object{{"type", "text"}, {"text", ""}}}}));
      frames.push_back(ev("content_block_delta",
                          {{"index", 0}, {"delta", json::object{{"type", "text_delta"}, {"text", "Bonjour"}}}}));
      frames.push_back(ev("content_block_delta",
                          {{"index", 0}, {"delta", json::object{{"type", "text_delta"}, {"text", " le monde"}}}}));
      frames.push_back(ev("content_block_stop", {{"index", 0}}));
      frames.push_back(ev("message_delta", {{"delta", json::object{{"stop_reason", "end_turn"}}},
                                            {"usage", json::object{{"output_tokens", 4}}}}));
    }
    frames.push_back(ev("message_stop", {}));
    co_return net::response::event_stream([frames](net::sse_stream& out) -> asio::awaitable<void> {
      for (const auto& f : frames) {
        std::string copy = f;
        if (!co_await out.send_raw(std::move(copy))) co_return;
      }
    });
  }

  net::testing::test_server server_;
  std::mutex mutex_;
  std::map<std::string, int> calls_;
  std::vector<std::string> bodies_;
  int abandoned_ = 0;
  std::condition_variable abandoned_cv_;
};

}  // namespace wattos::infra::llm::testing
