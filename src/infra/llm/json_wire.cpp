#include "infra/llm/json_wire.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>

namespace wattos::infra::llm {

namespace json = boost::json;

std::int64_t json_int(const json::object& obj, std::string_view key) {
  const auto* v = obj.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(std::min<std::uint64_t>(v->get_uint64(), INT64_MAX));
  if (v->is_double() && std::isfinite(v->get_double())) return static_cast<std::int64_t>(v->get_double());
  return 0;
}

std::string json_string(const json::object& obj, std::string_view key) {
  const auto* v = obj.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->get_string());
}

bool has_images(const std::vector<chat_message>& messages) {
  return std::any_of(messages.begin(), messages.end(), [](const chat_message& m) { return !m.images.empty(); });
}

json::array openai_messages(const std::vector<chat_message>& messages) {
  json::array out;
  for (const auto& m : messages) {
    json::object msg;
    msg["role"] = m.role;
    if (m.role == "assistant" && !m.tool_calls.empty() && m.content.empty()) {
      msg["content"] = nullptr;
    } else if (!m.images.empty()) {
      json::array parts;
      for_each_part(
          m.content, m.images,
          [&parts](std::string_view text) {
            parts.push_back(json::object{{"type", "text"}, {"text", text}});
          },
          [&parts](const image_input& image) {
            json::object url{{"url", image.url}};
            if (!image.detail.empty()) url["detail"] = image.detail;
            parts.push_back(json::object{{"type", "image_url"}, {"image_url", std::move(url)}});
          });
      msg["content"] = std::move(parts);
    } else {
      msg["content"] = m.content;
    }
    if (!m.name.empty()) msg["name"] = m.name;
    if (!m.tool_call_id.empty()) msg["tool_call_id"] = m.tool_call_id;
    if (!m.tool_calls.empty()) {
      json::array calls;
      for (const auto& c : m.tool_calls) {
        calls.push_back(json::object{{"id", c.id},
                                     {"type", "function"},
                                     {"function", json::object{{"name", c.name}, {"arguments", c.arguments}}}});
      }
      msg["tool_calls"] = std::move(calls);
    }
    out.push_back(std::move(msg));
  }
  return out;
}

json::array openai_tools(const std::vector<tool_definition>& tools) {
  json::array out;
  for (const auto& t : tools) {
    boost::system::error_code ec;
    json::value params = json::parse(t.parameters_json, ec);
    if (ec) params = json::object{};
    json::object fn{{"name", t.name}, {"parameters", std::move(params)}};
    if (!t.description.empty()) fn["description"] = t.description;
    out.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
  }
  return out;
}

json::value openai_tool_choice(const std::string& choice) {
  if (choice == "auto" || choice == "none" || choice == "required") return json::value(choice);
  return json::object{{"type", "function"}, {"function", json::object{{"name", choice}}}};
}

core::result<embedding_result> parse_embeddings_response(std::string_view body, std::size_t expected) {
  boost::system::error_code ec;
  auto parsed = json::parse(body, ec);
  if (ec || !parsed.is_object()) return core::error::bad_gateway("the embedding provider sent malformed JSON");
  const auto* data = parsed.get_object().if_contains("data");
  if (data == nullptr || !data->is_array() || data->get_array().size() != expected) {
    return core::error::bad_gateway("the embedding provider sent the wrong number of vectors");
  }
  embedding_result out;
  out.vectors.resize(expected);
  std::size_t position = 0;
  for (const auto& item_value : data->get_array()) {
    const auto* item = item_value.if_object();
    if (item == nullptr) return core::error::bad_gateway("the embedding provider sent a malformed item");
    std::size_t index = item->contains("index") ? static_cast<std::size_t>(json_int(*item, "index")) : position;
    ++position;
    const auto* vec = item->if_contains("embedding");
    if (index >= expected || vec == nullptr || !vec->is_array() || vec->get_array().empty()) {
      return core::error::bad_gateway("the embedding provider sent a malformed vector");
    }
    auto& v = out.vectors[index];
    for (const auto& x : vec->get_array()) {
      if (x.is_double())
        v.push_back(static_cast<float>(x.get_double()));
      else if (x.is_int64())
        v.push_back(static_cast<float>(x.get_int64()));
      else
        return core::error::bad_gateway("the embedding provider sent a non-number");
    }
  }
  const std::size_t dims = out.vectors.front().size();
  for (const auto& v : out.vectors) {
    if (v.size() != dims) return core::error::bad_gateway("the embedding provider sent vectors of different sizes");
  }
  if (const auto* usage = parsed.get_object().if_contains("usage"); usage != nullptr && usage->is_object()) {
    out.usage.prompt_tokens = json_int(usage->get_object(), "prompt_tokens");
  }
  return out;
}

core::result<rerank_result> parse_rerank_response(std::string_view body, std::size_t documents) {
  boost::system::error_code ec;
  auto parsed = json::parse(body, ec);
  if (ec || !parsed.is_object()) return core::error::bad_gateway("the rerank provider sent malformed JSON");
  const auto* results = parsed.get_object().if_contains("results");
  if (results == nullptr || !results->is_array())
    return core::error::bad_gateway("the rerank provider sent no results");
  rerank_result out;
  for (const auto& item_value : results->get_array()) {
    const auto* item = item_value.if_object();
    if (item == nullptr) return core::error::bad_gateway("the rerank provider sent a malformed result");
    rerank_result::item r;
    r.index = static_cast<int>(json_int(*item, "index"));
    const auto* score = item->if_contains("relevance_score");
    if (score == nullptr) score = item->if_contains("score");
    if (score == nullptr || !(score->is_double() || score->is_int64()) || r.index < 0 ||
        static_cast<std::size_t>(r.index) >= documents) {
      return core::error::bad_gateway("the rerank provider sent a malformed result");
    }
    r.score = score->is_double() ? score->get_double() : static_cast<double>(score->get_int64());
    out.results.push_back(r);
  }
  std::stable_sort(out.results.begin(), out.results.end(),
                   [](const auto& a, const auto& b) { return a.score > b.score; });
  return out;
}

namespace {

// An image part's URL: a base64 data URL of a raster type, or https.
core::status check_image_url(std::string_view url, std::string_view where) {
  if (url.starts_with("https://")) {
    if (url.size() > 4096)
      return core::error::invalid_argument(std::string(where) + ": image URL longer than 4096 bytes");
    return {};
  }
  for (std::string_view type : {"png", "jpeg", "jpg", "webp", "gif"}) {
    const std::string prefix = "data:image/" + std::string(type) + ";base64,";
    if (url.starts_with(prefix)) {
      if (url.size() == prefix.size()) return core::error::invalid_argument(std::string(where) + ": empty image data");
      return {};
    }
  }
  return core::error::invalid_argument(std::string(where) +
                                       ": an image must be an https URL or a base64 data URL of a PNG, JPEG, WebP "
                                       "or GIF image");
}

// An OpenAI content field: a string, or an array of parts; text parts are joined, image
// parts (image_url) are collected for the message.
core::status read_content(const json::value& v, std::string_view where, chat_message& msg, const request_limits& limits,
                          std::size_t& images_seen) {
  if (v.is_null()) return {};
  if (v.is_string()) {
    msg.content = std::string(v.get_string());
    return {};
  }
  if (!v.is_array()) {
    return core::error::invalid_argument(std::string(where) + ".content must be a string or an array of parts");
  }
  for (const auto& part : v.get_array()) {
    const auto* obj = part.if_object();
    if (obj == nullptr) return core::error::invalid_argument(std::string(where) + ": content parts must be objects");
    std::string type = json_string(*obj, "type");
    if (type == "text") {
      msg.content += json_string(*obj, "text");
      continue;
    }
    if (type != "image_url") {
      return core::error::invalid_argument(std::string(where) + ": content part type '" + type.substr(0, 40) +
                                           "' is not supported");
    }
    if (msg.role != "user")
      return core::error::invalid_argument(std::string(where) + ": only user messages carry images");
    if (++images_seen > limits.max_images) {
      return core::error::invalid_argument("at most " + std::to_string(limits.max_images) + " images per request");
    }
    const auto* image = obj->if_contains("image_url");
    image_input in;
    in.at = msg.content.size();  // after the text parts so far: the order survives the round trip
    if (image != nullptr && image->is_string()) {
      in.url = std::string(image->get_string());
    } else if (image != nullptr && image->is_object()) {
      in.url = json_string(image->get_object(), "url");
      in.detail = json_string(image->get_object(), "detail");
    }
    WATTOS_RETURN_IF_ERROR(check_image_url(in.url, where));
    if (!in.detail.empty() && in.detail != "auto" && in.detail != "low" && in.detail != "high") {
      return core::error::invalid_argument(std::string(where) + ": image detail must be auto, low or high");
    }
    msg.images.push_back(std::move(in));
  }
  return {};
}

core::result<double> number_field(const json::object& obj, std::string_view key, double min, double max) {
  const auto* v = obj.if_contains(key);
  double x = 0;
  if (v->is_double())
    x = v->get_double();
  else if (v->is_int64())
    x = static_cast<double>(v->get_int64());
  else if (v->is_uint64())
    x = static_cast<double>(v->get_uint64());
  else
    return core::error::invalid_argument(std::string(key) + " must be a number");
  if (!(x >= min && x <= max)) {
    return core::error::invalid_argument(std::string(key) + " must be between " + std::to_string(min) + " and " +
                                         std::to_string(max));
  }
  return x;
}

}  // namespace

core::result<chat_request> parse_openai_chat_request(const json::value& body, bool& stream,
                                                     const request_limits& limits) {
  const auto* obj = body.if_object();
  if (obj == nullptr) return core::error::invalid_argument("the request body must be a JSON object");
  chat_request req;
  stream = false;
  if (const auto* v = obj->if_contains("model")) {
    if (!v->is_string()) return core::error::invalid_argument("model must be a string");
    req.model = std::string(v->get_string());
  }
  const auto* messages = obj->if_contains("messages");
  if (messages == nullptr || !messages->is_array() || messages->get_array().empty()) {
    return core::error::invalid_argument("messages must be a non-empty array");
  }
  if (messages->get_array().size() > limits.max_messages) {
    return core::error::invalid_argument("messages: at most " + std::to_string(limits.max_messages) + " allowed");
  }
  std::size_t i = 0;
  std::size_t images_seen = 0;
  for (const auto& mv : messages->get_array()) {
    const std::string where = "messages[" + std::to_string(i++) + "]";
    const auto* m = mv.if_object();
    if (m == nullptr) return core::error::invalid_argument(where + " must be an object");
    chat_message msg;
    msg.role = json_string(*m, "role");
    if (msg.role == "developer") msg.role = "system";
    if (msg.role != "system" && msg.role != "user" && msg.role != "assistant" && msg.role != "tool") {
      return core::error::invalid_argument(where + ".role must be system, user, assistant or tool");
    }
    if (const auto* c = m->if_contains("content")) {
      WATTOS_RETURN_IF_ERROR(read_content(*c, where, msg, limits, images_seen));
    } else if (msg.role != "assistant") {
      return core::error::invalid_argument(where + ".content is required");
    }
    msg.name = json_string(*m, "name");
    msg.tool_call_id = json_string(*m, "tool_call_id");
    if (msg.role == "tool" && msg.tool_call_id.empty()) {
      return core::error::invalid_argument(where + ".tool_call_id is required for tool messages");
    }
    if (const auto* calls = m->if_contains("tool_calls"); calls != nullptr && !calls->is_null()) {
      if (!calls->is_array()) return core::error::invalid_argument(where + ".tool_calls must be an array");
      for (const auto& cv : calls->get_array()) {
        const auto* c = cv.if_object();
        const auto* fn = c != nullptr ? c->if_contains("function") : nullptr;
        if (fn == nullptr || !fn->is_object()) {
          return core::error::invalid_argument(where + ".tool_calls[] must have a function");
        }
        msg.tool_calls.push_back(
            {json_string(*c, "id"), json_string(fn->get_object(), "name"), json_string(fn->get_object(), "arguments")});
      }
    }
    req.messages.push_back(std::move(msg));
  }
  if (const auto* tools = obj->if_contains("tools"); tools != nullptr && !tools->is_null()) {
    if (!tools->is_array()) return core::error::invalid_argument("tools must be an array");
    if (tools->get_array().size() > limits.max_tools) {
      return core::error::invalid_argument("tools: at most " + std::to_string(limits.max_tools) + " allowed");
    }
    for (const auto& tv : tools->get_array()) {
      const auto* t = tv.if_object();
      const auto* fn = t != nullptr ? t->if_contains("function") : nullptr;
      if (fn == nullptr || !fn->is_object() || json_string(fn->get_object(), "name").empty()) {
        return core::error::invalid_argument("tools[] must be {type: function, function: {name, parameters}}");
      }
      tool_definition def;
      def.name = json_string(fn->get_object(), "name");
      def.description = json_string(fn->get_object(), "description");
      if (const auto* p = fn->get_object().if_contains("parameters")) def.parameters_json = json::serialize(*p);
      req.tools.push_back(std::move(def));
    }
  }
  if (const auto* choice = obj->if_contains("tool_choice"); choice != nullptr && !choice->is_null()) {
    if (choice->is_string()) {
      req.tool_choice = std::string(choice->get_string());
      if (req.tool_choice != "auto" && req.tool_choice != "none" && req.tool_choice != "required") {
        return core::error::invalid_argument("tool_choice must be auto, none, required or a function");
      }
    } else if (const auto* c = choice->if_object()) {
      const auto* fn = c->if_contains("function");
      if (fn == nullptr || !fn->is_object() || json_string(fn->get_object(), "name").empty()) {
        return core::error::invalid_argument("tool_choice.function.name is required");
      }
      req.tool_choice = json_string(fn->get_object(), "name");
    } else {
      return core::error::invalid_argument("tool_choice must be a string or an object");
    }
  }
  if (obj->contains("temperature") && !obj->at("temperature").is_null()) {
    WATTOS_ASSIGN_OR_RETURN(auto t, number_field(*obj, "temperature", 0, 2));
    req.temperature = t;
  }
  if (obj->contains("top_p") && !obj->at("top_p").is_null()) {
    WATTOS_ASSIGN_OR_RETURN(auto p, number_field(*obj, "top_p", 0, 1));
    req.top_p = p;
  }
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (obj->contains(key) && !obj->at(key).is_null()) {
      WATTOS_ASSIGN_OR_RETURN(auto n, number_field(*obj, key, 1, 10000000));
      req.max_tokens = static_cast<int>(n);
    }
  }
  if (const auto* stop = obj->if_contains("stop"); stop != nullptr && !stop->is_null()) {
    if (stop->is_string()) {
      req.stop.emplace_back(stop->get_string());
    } else if (stop->is_array() && stop->get_array().size() <= 4) {
      for (const auto& s : stop->get_array()) {
        if (!s.is_string()) return core::error::invalid_argument("stop must hold strings");
        req.stop.emplace_back(s.get_string());
      }
    } else {
      return core::error::invalid_argument("stop must be a string or up to 4 strings");
    }
  }
  if (const auto* s = obj->if_contains("stream"); s != nullptr && !s->is_null()) {
    if (!s->is_bool()) return core::error::invalid_argument("stream must be a boolean");
    stream = s->get_bool();
  }
  if (const auto* n = obj->if_contains("n"); n != nullptr && !n->is_null()) {
    if (!(n->is_int64() && n->get_int64() == 1)) return core::error::invalid_argument("n: only 1 is supported");
  }
  return req;
}

core::result<embedding_request> parse_openai_embedding_request(const json::value& body, bool& base64,
                                                               const request_limits& limits) {
  const auto* obj = body.if_object();
  if (obj == nullptr) return core::error::invalid_argument("the request body must be a JSON object");
  embedding_request req;
  base64 = false;
  if (const auto* v = obj->if_contains("model")) {
    if (!v->is_string()) return core::error::invalid_argument("model must be a string");
    req.model = std::string(v->get_string());
  }
  const auto* input = obj->if_contains("input");
  if (input == nullptr) return core::error::invalid_argument("input is required");
  if (input->is_string()) {
    req.inputs.emplace_back(input->get_string());
  } else if (input->is_array()) {
    if (input->get_array().size() > limits.max_inputs) {
      return core::error::invalid_argument("input: at most " + std::to_string(limits.max_inputs) + " texts");
    }
    for (const auto& item : input->get_array()) {
      if (!item.is_string()) {
        return core::error::invalid_argument(
            "input must be a string or an array of strings (token arrays are not supported)");
      }
      req.inputs.emplace_back(item.get_string());
    }
  } else {
    return core::error::invalid_argument("input must be a string or an array of strings");
  }
  if (req.inputs.empty()) return core::error::invalid_argument("input must not be empty");
  for (const auto& text : req.inputs) {
    if (text.size() > limits.max_input_bytes) {
      return core::error::payload_too_large("input: each text may have at most " +
                                            std::to_string(limits.max_input_bytes) + " bytes");
    }
  }
  if (const auto* f = obj->if_contains("encoding_format"); f != nullptr && !f->is_null()) {
    if (!f->is_string() || (f->get_string() != "float" && f->get_string() != "base64")) {
      return core::error::invalid_argument("encoding_format must be float or base64");
    }
    base64 = f->get_string() == "base64";
  }
  if (const auto* d = obj->if_contains("dimensions"); d != nullptr && !d->is_null()) {
    if (!d->is_int64() || d->get_int64() < 1 || d->get_int64() > 65536) {
      return core::error::invalid_argument("dimensions must be a whole number from 1 to 65536");
    }
    req.dimensions = static_cast<int>(d->get_int64());
  }
  return req;
}

std::int64_t estimate_prompt_tokens(const chat_request& request) {
  std::int64_t tokens = 0;
  for (const auto& m : request.messages) {
    tokens += 4 + estimate_tokens(m.content);
    for (const auto& c : m.tool_calls) tokens += estimate_tokens(c.arguments) + estimate_tokens(c.name);
  }
  for (const auto& t : request.tools) tokens += estimate_tokens(t.parameters_json) + estimate_tokens(t.description);
  return tokens;
}

}  // namespace wattos::infra::llm
