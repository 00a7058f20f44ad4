#include "api/llm_routes.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <iterator>
#include <map>

#include "api/identity/identity_service.hpp"
#include "api/identity/permissions.hpp"
#include "api/persona_routes.hpp"
#include "api/rag_routes.hpp"
#include "api/route_helpers.hpp"
#include "core/crypto.hpp"
#include "core/id.hpp"
#include "infra/llm/json_wire.hpp"
#include "net/http_error.hpp"
#include "net/json_body.hpp"
#include "streams/rag/rag_service.hpp"

namespace wattos::api {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace llm = infra::llm;
using asio::awaitable;

json::object model_json(const llm::model_view& v, bool admin) {
  const auto& m = *v.settings;
  json::object o{{"id", m.id},
                 {"object", "model"},
                 {"created", 0},
                 {"owned_by", m.provider == "extractive" || m.provider == "embedder" ? "wattos" : m.provider},
                 {"display_name", m.display_name},
                 {"region", m.region},
                 {"context_window", m.context_window},
                 {"available", v.residency_ok}};
  json::array caps;
  for (const auto& c : m.capabilities) caps.emplace_back(c);
  o["capabilities"] = std::move(caps);
  if (m.dimensions > 0) o["dimensions"] = m.dimensions;
  o["pricing"] = json::object{{"input_per_1m", m.price_in_per_1m}, {"output_per_1m", m.price_out_per_1m}};
  if (admin) {
    o["provider"] = m.provider;
    o["endpoint"] = m.endpoint;
    o["upstream_model"] = m.upstream_model;
    o["external"] = m.external;
    o["allowed_outside_eu"] = v.allowed_outside_eu;
    json::array fallbacks;
    for (const auto& f : m.fallbacks) fallbacks.emplace_back(f);
    o["fallbacks"] = std::move(fallbacks);
  }
  return o;
}

// "rag:<space>[+<space>...][@<model>]": a knowledge space (or several) offered as a
// model, answering through <model> (default llm.default_model) with RAG.
struct rag_model {
  std::vector<std::string> spaces;
  std::string model;
};

std::optional<rag_model> parse_rag_model(std::string_view id, const std::string& default_model) {
  if (!id.starts_with("rag:")) return std::nullopt;
  id.remove_prefix(4);
  rag_model out;
  auto at = id.rfind('@');
  out.model = at == std::string_view::npos ? default_model : std::string(id.substr(at + 1));
  std::string_view spaces = id.substr(0, at);
  std::size_t pos = 0;
  while (pos <= spaces.size()) {
    auto plus = spaces.find('+', pos);
    if (plus == std::string_view::npos) plus = spaces.size();
    if (plus > pos) out.spaces.emplace_back(spaces.substr(pos, plus - pos));
    pos = plus + 1;
  }
  return out;
}

std::int64_t unix_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

json::object usage_json(const llm::token_usage& u) {
  return json::object{{"prompt_tokens", u.prompt_tokens},
                      {"completion_tokens", u.completion_tokens},
                      {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

// One chat.completion.chunk for an event; the first one also carries the role (and,
// for a knowledge-space model, the citations).
std::string chunk_for(const std::string& id, std::int64_t created, const std::string& model, const llm::chat_event& e,
                      bool first, const json::array* citations = nullptr) {
  json::object delta;
  if (first) delta["role"] = "assistant";
  json::value finish = nullptr;
  if (e.type == llm::chat_event::kind::text) {
    delta["content"] = e.text;
  } else if (e.type == llm::chat_event::kind::tool_call) {
    json::object fn;
    if (!e.tool_name.empty()) fn["name"] = e.tool_name;
    fn["arguments"] = e.tool_arguments;
    json::object call{{"index", e.tool_index}, {"function", std::move(fn)}};
    if (!e.tool_id.empty()) {
      call["id"] = e.tool_id;
      call["type"] = "function";
    }
    delta["tool_calls"] = json::array{std::move(call)};
  } else if (e.type == llm::chat_event::kind::finish) {
    finish = json::string(e.finish_reason);
  }
  json::object chunk{
      {"id", id},
      {"object", "chat.completion.chunk"},
      {"created", created},
      {"model", model},
      {"choices",
       json::array{json::object{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish)}}}}};
  if (first && citations != nullptr && !citations->empty()) chunk["citations"] = *citations;
  return "data: " + json::serialize(chunk) + "\n\n";
}

std::string error_chunk(const core::error& err) {
  json::object o{{"error", json::object{{"code", std::string(core::errc_name(err.code()))},
                                        {"message", err.message()},
                                        {"type", std::string(core::errc_name(err.code()))}}}};
  return "data: " + json::serialize(o) + "\n\n";
}

bool wants_usage_in_stream(const json::value& body) {
  const auto* obj = body.if_object();
  const auto* opts = obj != nullptr ? obj->if_contains("stream_options") : nullptr;
  if (opts == nullptr || !opts->is_object()) return false;
  const auto* inc = opts->get_object().if_contains("include_usage");
  return inc != nullptr && inc->is_bool() && inc->get_bool();
}

net::response error_with_retry(const core::error& err, const net::request& req) {
  auto res = net::error_response(err, req.request_id);
  if (err.code() == core::errc::rate_limited || err.code() == core::errc::unavailable) {
    res.headers.set("Retry-After", "5");
  }
  return res;
}

// The relay of one streamed answer; owns the stream so that a client that goes away
// ends the provider call.
struct stream_relay {
  std::unique_ptr<llm::chat_stream> stream;
  llm::chat_event first;
  std::string id;
  std::int64_t created = 0;
  bool include_usage = false;
  std::string model_name;  // as the client asked (a knowledge-space model keeps its name)
  json::array citations;
};

awaitable<void> relay(std::shared_ptr<stream_relay> r, net::sse_stream& sse) {
  std::optional<llm::chat_event> event = std::move(r->first);
  bool first = true;
  llm::token_usage usage;
  while (event) {
    std::string framed;
    if (event->type == llm::chat_event::kind::failure) {
      framed = error_chunk(*event->error);
    } else {
      if (event->type == llm::chat_event::kind::finish) usage = event->usage;
      framed = chunk_for(r->id, r->created, r->model_name.empty() ? r->stream->model() : r->model_name, *event, first,
                         &r->citations);
      first = false;
    }
    if (!co_await sse.send_raw(std::move(framed))) co_return;  // the client left: the stream's end cancels
    if (event->type == llm::chat_event::kind::failure) co_return;
    event = co_await r->stream->next();
  }
  if (r->include_usage) {
    json::object chunk{{"id", r->id},
                       {"object", "chat.completion.chunk"},
                       {"created", r->created},
                       {"model", r->stream->model()},
                       {"choices", json::array{}},
                       {"usage", usage_json(usage)}};
    std::string framed = "data: " + json::serialize(chunk) + "\n\n";
    if (!co_await sse.send_raw(std::move(framed))) co_return;
  }
  std::string done = "data: [DONE]\n\n";
  co_await sse.send_raw(std::move(done));
}

// Grounds a request for a knowledge-space model: searches the spaces with the last
// user message, puts the numbered sources first, and points the request at the
// answering model. Answers the citations.
awaitable<core::result<json::array>> ground_in_spaces(streams::rag::rag_service& rag, const net::request& req,
                                                      const rag_model& target, llm::chat_request& request,
                                                      std::string persona_prompt = {}) {
  std::string question;
  for (const auto& m : request.messages) {
    if (m.role == "user") question = m.content;
  }
  if (question.find_first_not_of(" \t\r\n") == std::string::npos) {
    co_return core::error::invalid_argument("a knowledge-space model needs a user message to search for");
  }
  if (question.size() > 4096) question.resize(4096);
  const streams::rag::requester who = rag_requester_of(req);
  streams::rag::search_request search;
  search.space_ids = target.spaces;
  search.query = question;
  search.k = 8;
  // The built-in embedder is a weak lexical model (docs/rag.md): lexical search is
  // better with it; a real embedding model gets hybrid search.
  search.mode = streams::rag::search_mode::lexical;
  for (const auto& id : target.spaces) {
    auto space = rag.get_space(who, id);
    if (!space) co_return std::move(space).err();
    if (space->embedding_model != "wattos-embed") search.mode = streams::rag::search_mode::hybrid;
  }
  auto hits = co_await rag.search(who, std::move(search));
  if (!hits) co_return std::move(hits).err();
  auto context = streams::rag::rag_service::build_context(*hits, 3000);
  std::string system =
      (persona_prompt.empty() ? std::string() : persona_prompt + "\n\n") +
      "Beantworte die Frage nur aus den nummerierten Quellen und zitiere sie als [n]. Steht die Antwort nicht "
      "darin, sage das. / Answer only from the numbered sources and cite them as [n]; if they do not hold the "
      "answer, say so.\n\n" +
      context.text;
  request.messages.insert(request.messages.begin(), llm::chat_message{"system", std::move(system), {}, {}, {}});
  request.model = target.model;
  co_return citations_json(context.citations);
}

awaitable<net::response> chat_completions(llm::llm_gateway& gw, streams::rag::rag_service* rag,
                                          persona::persona_store* personas, net::request& req) {
  auto body = net::parse_json_body(req);
  if (!body) co_return net::error_response(body.err(), req.request_id);
  bool stream = false;
  auto parsed = llm::parse_openai_chat_request(*body, stream);
  if (!parsed) co_return net::error_response(parsed.err(), req.request_id);
  const bool include_usage = wants_usage_in_stream(*body);
  const llm::caller who = llm_caller_of(req);
  std::string requested_model = parsed->model;
  json::array citations;
  if (parsed->model.starts_with("persona:")) {
    // "persona:<name>[@<model>]": the character's prompt first, RAG over its default
    // spaces when it has some, its default model unless one is named.
    std::string_view rest = std::string_view(parsed->model).substr(8);
    const auto at = rest.rfind('@');
    const std::string name(rest.substr(0, at));
    auto character = personas != nullptr ? personas->get(name)
                                         : core::result<persona::character>(core::error::not_found("no personas here"));
    if (!character) {
      co_return net::error_response(core::error::not_found("model '" + parsed->model + "' does not exist"),
                                    req.request_id);
    }
    const std::string model = at != std::string_view::npos        ? std::string(rest.substr(at + 1))
                              : !character->default_model.empty() ? character->default_model
                                                                  : gw.settings().default_model;
    std::string prompt = persona::system_prompt(*character);
    if (!character->default_spaces.empty() && rag != nullptr) {
      rag_model target{character->default_spaces, model};
      auto grounded = co_await ground_in_spaces(*rag, req, target, *parsed, std::move(prompt));
      if (!grounded) co_return net::error_response(grounded.err(), req.request_id);
      citations = std::move(*grounded);
    } else {
      parsed->messages.insert(parsed->messages.begin(), llm::chat_message{"system", std::move(prompt), {}, {}, {}});
      parsed->model = model;
    }
  } else if (auto target = parse_rag_model(parsed->model, gw.settings().default_model)) {
    if (rag == nullptr || target->spaces.empty()) {
      co_return net::error_response(core::error::not_found("model '" + parsed->model + "' does not exist"),
                                    req.request_id);
    }
    auto grounded = co_await ground_in_spaces(*rag, req, *target, *parsed);
    if (!grounded) co_return net::error_response(grounded.err(), req.request_id);
    citations = std::move(*grounded);
  } else {
    requested_model.clear();
  }
  if (!stream) {
    auto answer = co_await gw.complete(who, std::move(*parsed));
    if (!answer) co_return error_with_retry(answer.err(), req);
    json::object message{{"role", "assistant"}};
    if (answer->content.empty() && !answer->tool_calls.empty())
      message["content"] = nullptr;
    else
      message["content"] = answer->content;
    if (!answer->tool_calls.empty()) {
      json::array calls;
      for (const auto& c : answer->tool_calls) {
        calls.push_back(json::object{{"id", c.id},
                                     {"type", "function"},
                                     {"function", json::object{{"name", c.name}, {"arguments", c.arguments}}}});
      }
      message["tool_calls"] = std::move(calls);
    }
    json::object out{
        {"id", "chatcmpl-" + core::new_uuid_v7()},
        {"object", "chat.completion"},
        {"created", unix_now()},
        {"model", requested_model.empty() ? answer->model : requested_model},
        {"choices", json::array{json::object{
                        {"index", 0}, {"message", std::move(message)}, {"finish_reason", answer->finish_reason}}}},
        {"usage", usage_json(answer->usage)}};
    if (!citations.empty()) out["citations"] = std::move(citations);
    co_return net::response::json(200, json::serialize(out));
  }
  auto started = co_await gw.chat(who, std::move(*parsed));
  if (!started) co_return error_with_retry(started.err(), req);
  auto r = std::make_shared<stream_relay>();
  r->stream = std::move(*started);
  auto first = co_await r->stream->next();
  if (!first) co_return net::error_response(core::error::bad_gateway("the model sent nothing"), req.request_id);
  if (first->type == llm::chat_event::kind::failure) co_return error_with_retry(*first->error, req);
  r->first = std::move(*first);
  r->id = "chatcmpl-" + core::new_uuid_v7();
  r->created = unix_now();
  r->include_usage = include_usage;
  r->model_name = requested_model;
  r->citations = std::move(citations);
  net::sse_producer producer = [r](net::sse_stream& sse) { return relay(r, sse); };
  co_return net::response::event_stream(std::move(producer));
}

awaitable<net::response> embeddings(llm::llm_gateway& gw, net::request& req) {
  auto body = net::parse_json_body(req);
  if (!body) co_return net::error_response(body.err(), req.request_id);
  bool base64 = false;
  auto parsed = llm::parse_openai_embedding_request(*body, base64);
  if (!parsed) co_return net::error_response(parsed.err(), req.request_id);
  const llm::caller who = llm_caller_of(req);  // named: no temporaries in co_await (docs/coroutines.md)
  auto result = co_await gw.embed(who, std::move(*parsed));
  if (!result) co_return error_with_retry(result.err(), req);
  json::array data;
  for (std::size_t i = 0; i < result->vectors.size(); ++i) {
    const auto& v = result->vectors[i];
    json::value embedding;
    if (base64) {
      // Little-endian float32, as OpenAI sends it (this platform only runs on little-endian).
      std::string bytes(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
      embedding = json::string(core::base64_encode(bytes));
    } else {
      json::array values;
      values.reserve(v.size());
      for (float x : v) values.emplace_back(static_cast<double>(x));
      embedding = std::move(values);
    }
    data.push_back(json::object{{"object", "embedding"}, {"index", i}, {"embedding", std::move(embedding)}});
  }
  json::object out{{"object", "list"},
                   {"data", std::move(data)},
                   {"model", result->model},
                   {"usage", json::object{{"prompt_tokens", result->usage.prompt_tokens},
                                          {"total_tokens", result->usage.prompt_tokens}}}};
  co_return net::response::json(200, json::serialize(out));
}

awaitable<net::response> rerank(llm::llm_gateway& gw, net::request& req) {
  auto body = net::parse_json_body(req);
  if (!body) co_return net::error_response(body.err(), req.request_id);
  const auto* obj = body->if_object();
  if (obj == nullptr)
    co_return net::error_response(core::error::invalid_argument("body must be an object"), req.request_id);
  llm::rerank_request r;
  r.model = llm::json_string(*obj, "model");
  r.query = llm::json_string(*obj, "query");
  const auto* docs = obj->if_contains("documents");
  if (r.model.empty() || r.query.empty() || docs == nullptr || !docs->is_array() || docs->get_array().empty() ||
      docs->get_array().size() > 1000) {
    co_return net::error_response(
        core::error::invalid_argument("model, query and documents (1 to 1000 strings) are required"), req.request_id);
  }
  for (const auto& d : docs->get_array()) {
    if (!d.is_string())
      co_return net::error_response(core::error::invalid_argument("documents must be strings"), req.request_id);
    r.documents.emplace_back(d.get_string());
  }
  if (obj->contains("top_n")) {
    auto n = llm::json_int(*obj, "top_n");
    if (n < 1) co_return net::error_response(core::error::invalid_argument("top_n must be at least 1"), req.request_id);
    r.top_n = static_cast<int>(n);
  }
  const llm::caller who = llm_caller_of(req);
  auto result = co_await gw.rerank(who, std::move(r));
  if (!result) co_return error_with_retry(result.err(), req);
  json::array results;
  for (const auto& item : result->results) {
    results.push_back(json::object{{"index", item.index}, {"relevance_score", item.score}});
  }
  co_return net::response::json(
      200, json::serialize(json::object{{"model", result->model}, {"results", std::move(results)}}));
}

awaitable<net::response> speech(llm::llm_gateway& gw, net::request& req) {
  auto body = net::parse_json_body(req);
  if (!body) co_return net::error_response(body.err(), req.request_id);
  const auto* obj = body->if_object();
  if (obj == nullptr)
    co_return net::error_response(core::error::invalid_argument("body must be an object"), req.request_id);
  llm::speech_request r;
  r.model = llm::json_string(*obj, "model");
  r.input = llm::json_string(*obj, "input");
  r.voice = llm::json_string(*obj, "voice");
  if (obj->contains("response_format")) r.format = llm::json_string(*obj, "response_format");
  static const char* formats[] = {"mp3", "wav", "opus", "aac", "flac", "pcm"};
  if (r.model.empty() || r.input.empty() || r.input.size() > 4096 ||
      std::none_of(std::begin(formats), std::end(formats), [&](const char* f) { return r.format == f; })) {
    co_return net::error_response(
        core::error::invalid_argument("model, input (up to 4096 bytes) and a response_format of mp3, wav, opus, aac, "
                                      "flac or pcm are required"),
        req.request_id);
  }
  if (const auto* speed = obj->if_contains("speed"); speed != nullptr && speed->is_number()) {
    r.speed = speed->to_number<double>();
    if (*r.speed < 0.25 || *r.speed > 4.0) {
      co_return net::error_response(core::error::invalid_argument("speed must be between 0.25 and 4"), req.request_id);
    }
  }
  const llm::caller who = llm_caller_of(req);
  auto result = co_await gw.speech(who, std::move(r));
  if (!result) co_return error_with_retry(result.err(), req);
  std::string content_type = result->content_type.empty() ? "application/octet-stream" : result->content_type;
  co_return net::response::text(200, std::move(result->audio), std::move(content_type));
}

awaitable<net::response> transcription(llm::llm_gateway& gw, net::request& req) {
  const net::uploaded_file* file = nullptr;
  for (const auto& f : req.files) {
    if (f.field_name == "file") file = &f;
  }
  if (file == nullptr) {
    co_return net::error_response(core::error::invalid_argument("a multipart field 'file' with the audio is required"),
                                  req.request_id);
  }
  llm::transcription_request r;
  for (const auto& field : req.form) {
    if (field.first == "model") r.model = field.second;
    if (field.first == "language") r.language = field.second;
  }
  if (r.model.empty())
    co_return net::error_response(core::error::invalid_argument("model is required"), req.request_id);
  std::ifstream in(file->path, std::ios::binary);
  r.audio.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  r.filename = file->filename;
  const llm::caller who = llm_caller_of(req);
  auto result = co_await gw.transcribe(who, std::move(r));
  if (!result) co_return error_with_retry(result.err(), req);
  co_return net::response::json(200, json::serialize(json::object{{"text", result->text}}));
}

}  // namespace

void add_llm_routes(route_table& routes, llm::llm_gateway& llm, streams::rag::rag_service* rag,
                    persona::persona_store* personas, identity_service* users) {
  // not_found for an unknown user; ok without a user store (a test's lone gateway).
  auto check_user = [users](std::string_view id) -> core::status {
    if (users == nullptr) return {};
    auto found = users->get_user(id);
    if (!found) return found.err();
    return {};
  };
  llm::llm_gateway* gw = &llm;
  const net::route_options big_body{.body_limit = llm.settings().max_request_bytes};

  routes.add(
      "GET", "/v1/models", access_rule::signed_in(),
      [gw, rag, personas](net::request& req) -> awaitable<net::response> {
        json::array data;
        for (const auto& v : gw->models()) data.push_back(model_json(v, false));
        if (personas != nullptr) {
          // Each persona, as a model answering in its character.
          if (auto list = personas->list(); list.ok()) {
            for (const auto& p : *list) {
              data.push_back(json::object{{"id", "persona:" + p.name},
                                          {"object", "model"},
                                          {"created", 0},
                                          {"owned_by", "wattos"},
                                          {"display_name", p.name + (p.role.empty() ? "" : " (" + p.role + ")")},
                                          {"capabilities", json::array{"chat"}},
                                          {"available", true}});
            }
          }
        }
        if (rag != nullptr) {
          // Each readable knowledge space, as a model answering with RAG.
          if (auto spaces = rag->list_spaces(rag_requester_of(req)); spaces.ok()) {
            for (const auto& s : *spaces) {
              data.push_back(json::object{{"id", "rag:" + s.name},
                                          {"object", "model"},
                                          {"created", 0},
                                          {"owned_by", "wattos"},
                                          {"display_name", s.name + " (RAG, " + gw->settings().default_model + ")"},
                                          {"capabilities", json::array{"chat"}},
                                          {"available", true}});
            }
          }
        }
        co_return net::response::json(200,
                                      json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}}));
      });
  routes.add("GET", "/v1/models/{id}", access_rule::signed_in(), [gw](net::request& req) -> awaitable<net::response> {
    auto v = gw->model(req.param("id"));
    if (!v) co_return net::error_response(v.err(), req.request_id);
    co_return net::response::json(200, json::serialize(model_json(*v, false)));
  });
  routes.add(
      "POST", "/v1/chat/completions", access_rule::needs(perm::chat_use, rate_class::chat),
      [gw, rag, personas](net::request& req) { return chat_completions(*gw, rag, personas, req); }, big_body);
  routes.add(
      "POST", "/v1/embeddings", access_rule::needs(perm::chat_use),
      [gw](net::request& req) { return embeddings(*gw, req); }, big_body);
  routes.add(
      "POST", "/v1/rerank", access_rule::needs(perm::chat_use), [gw](net::request& req) { return rerank(*gw, req); },
      big_body);

  routes.add("POST", "/v1/audio/speech", access_rule::needs(perm::chat_use),
             [gw](net::request& req) { return speech(*gw, req); });
  net::route_options audio_upload;
  audio_upload.multipart_upload = true;
  audio_upload.upload_limit = 25ull << 20;  // OpenAI's limit for one audio file
  routes.add(
      "POST", "/v1/audio/transcriptions", access_rule::needs(perm::chat_use, rate_class::upload),
      [gw](net::request& req) { return transcription(*gw, req); }, audio_upload);

  routes.add("GET", "/api/v1/usage", access_rule::signed_in(), [gw](net::request& req) -> awaitable<net::response> {
    auto p = principal_of(req);
    if (!p) co_return net::error_response(core::error::unauthenticated("sign in first"), req.request_id);
    auto used = gw->tokens_used_today(p->user_id);
    if (!used) co_return net::error_response(used.err(), req.request_id);
    llm::usage_filter filter;
    filter.user_id = p->user_id;
    filter.group_by = "model";
    auto by_model = gw->usage(filter);
    if (!by_model) co_return net::error_response(by_model.err(), req.request_id);
    json::array models;
    for (const auto& s : *by_model) {
      models.push_back(json::object{{"model", s.key},
                                    {"requests", s.requests},
                                    {"prompt_tokens", s.prompt_tokens},
                                    {"completion_tokens", s.completion_tokens},
                                    {"cost", s.cost}});
    }
    const auto budget = gw->daily_budget(p->user_id, p->roles);
    json::object out{
        {"tokens_today", *used},
        {"daily_budget", budget},
        {"remaining_today", budget > 0 ? json::value(std::max<std::int64_t>(0, budget - *used)) : json::value(nullptr)},
        {"by_model", std::move(models)}};
    co_return net::response::json(200, json::serialize(out));
  });

  routes.add("GET", "/api/v1/admin/models", access_rule::needs(perm::models_admin),
             [gw](net::request&) -> awaitable<net::response> {
               json::array data;
               for (const auto& v : gw->models()) {
                 auto o = model_json(v, true);
                 o["circuit"] = gw->breaker_state(v.settings->id);
                 data.push_back(std::move(o));
               }
               co_return net::response::json(200, json::serialize(json::object{{"data", std::move(data)}}));
             });
  routes.add("PUT", "/api/v1/admin/models/{id}/residency", access_rule::needs(perm::models_admin),
             [gw](net::request& req) -> awaitable<net::response> {
               auto body = net::parse_json_body(req);
               if (!body) co_return net::error_response(body.err(), req.request_id);
               const auto* obj = body->if_object();
               const auto* allowed = obj != nullptr ? obj->if_contains("allow_outside_eu") : nullptr;
               if (allowed == nullptr || !allowed->is_bool()) {
                 co_return net::error_response(core::error::invalid_argument("allow_outside_eu (boolean) is required"),
                                               req.request_id);
               }
               auto p = principal_of(req);
               auto st = gw->set_allowed_outside_eu(req.param("id"), allowed->get_bool(), p ? p->actor() : "unknown");
               if (!st) co_return net::error_response(st.err(), req.request_id);
               auto v = gw->model(req.param("id"));
               if (!v) co_return net::error_response(v.err(), req.request_id);
               co_return net::response::json(200, json::serialize(model_json(*v, true)));
             });
  // A user's own daily token budget, over their roles' and the default (null: none set).
  routes.add(
      "GET", "/api/v1/admin/users/{id}/token-budget", access_rule::needs(perm::users_read),
      [gw, check_user](net::request& req) -> awaitable<net::response> {
        const std::string user(req.param("id"));
        if (auto st = check_user(user); !st.ok()) co_return net::error_response(st.err(), req.request_id);
        auto budget = gw->user_budget(user);
        if (!budget) co_return net::error_response(budget.err(), req.request_id);
        co_return net::response::json(
            200, json::serialize(json::object{{"user_id", user},
                                              {"daily_tokens", *budget ? json::value(**budget) : json::value(nullptr)},
                                              {"tokens_today", gw->tokens_used_today(user).value_or(0)}}));
      });
  routes.add("PUT", "/api/v1/admin/users/{id}/token-budget", access_rule::needs(perm::users_write),
             [gw, check_user](net::request& req) -> awaitable<net::response> {
               if (auto st = check_user(req.param("id")); !st.ok()) {
                 co_return net::error_response(st.err(), req.request_id);
               }
               auto body = net::parse_json_object_body(req);
               if (!body) co_return net::error_response(body.err(), req.request_id);
               const auto* tokens = body->if_contains("daily_tokens");
               std::optional<std::int64_t> daily;
               if (tokens != nullptr && tokens->is_int64() && tokens->get_int64() >= 0) {
                 daily = tokens->get_int64();
               } else if (tokens != nullptr && tokens->is_uint64() && tokens->get_uint64() <= (1ull << 62)) {
                 daily = static_cast<std::int64_t>(tokens->get_uint64());
               } else if (tokens == nullptr || !tokens->is_null()) {
                 co_return net::error_response(
                     core::error::invalid_argument("daily_tokens must be a whole number >= 0 (0: unlimited), or null "
                                                   "to remove the user's own budget"),
                     req.request_id);
               }
               auto p = principal_of(req);
               const std::string user(req.param("id"));
               auto st = gw->set_user_budget(user, daily, p ? p->actor() : "unknown");
               if (!st) co_return net::error_response(st.err(), req.request_id);
               co_return net::response::json(
                   200, json::serialize(json::object{
                            {"user_id", user}, {"daily_tokens", daily ? json::value(*daily) : json::value(nullptr)}}));
             });
  routes.add("GET", "/api/v1/admin/usage", access_rule::needs(perm::usage_read),
             [gw](net::request& req) -> awaitable<net::response> {
               llm::usage_filter filter;
               filter.user_id = std::string(req.query_param("user").value_or(""));
               filter.model = std::string(req.query_param("model").value_or(""));
               filter.from_day = std::string(req.query_param("from").value_or(""));
               filter.to_day = std::string(req.query_param("to").value_or(""));
               filter.group_by = std::string(req.query_param("group_by").value_or("model"));
               for (const auto* day : {&filter.from_day, &filter.to_day}) {
                 if (!day->empty() && (day->size() != 10 || (*day)[4] != '-' || (*day)[7] != '-')) {
                   co_return net::error_response(core::error::invalid_argument("from and to must be YYYY-MM-DD"),
                                                 req.request_id);
                 }
               }
               auto rows = gw->usage(filter);
               if (!rows) co_return net::error_response(rows.err(), req.request_id);
               json::array data;
               for (const auto& s : *rows) {
                 data.push_back(json::object{{filter.group_by, s.key},
                                             {"requests", s.requests},
                                             {"failed", s.failed},
                                             {"prompt_tokens", s.prompt_tokens},
                                             {"completion_tokens", s.completion_tokens},
                                             {"cost", s.cost},
                                             {"avg_latency_ms", s.avg_latency_ms}});
               }
               co_return net::response::json(200, json::serialize(json::object{{"data", std::move(data)}}));
             });
}

}  // namespace wattos::api
