// File: infra/llm/types.hpp
//
// The provider-neutral vocabulary of the LLM gateway: chat requests, the events a
// streamed answer is made of, usage, embeddings. Providers translate their wire
// formats to and from these types as early as possible (no raw provider JSON travels
// up the layers), and the OpenAI-compatible API translates them back out.
//
// A streamed answer is a sequence of `chat_event`s: text deltas, tool-call deltas
// (OpenAI's shape: the first delta of a call carries its id and name, later ones
// append to its JSON arguments, all keyed by the call's index), then exactly one
// `finish` with the reason and the usage, or one `failure`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace wattos::infra::llm {

struct tool_call {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text, as the model wrote it
};

// An image in a user message (models with the vision capability): a data URL
// (data:image/png|jpeg|webp|gif;base64,...) or an https URL the provider fetches.
struct image_input {
  std::string url;
  std::string detail;  // "", auto, low, high (OpenAI's hint)
  // Where the image stands in its message: the byte offset in `content` it follows
  // (text parts before it, concatenated). npos: after all the text.
  std::size_t at = std::string::npos;
};

// A user message's content as the client sent it: text pieces and images in their
// order, given `content` and the images' offsets. Calls on_text(piece) for each
// non-empty text piece and on_image(image) for each image.
template <typename OnText, typename OnImage>
void for_each_part(const std::string& content, const std::vector<image_input>& images, OnText&& on_text,
                   OnImage&& on_image) {
  std::size_t pos = 0;
  for (const auto& image : images) {
    const std::size_t at = image.at < content.size() ? image.at : content.size();
    if (at > pos) {
      on_text(std::string_view(content).substr(pos, at - pos));
      pos = at;
    }
    on_image(image);
  }
  if (pos < content.size()) on_text(std::string_view(content).substr(pos));
}

struct chat_message {
  std::string role;  // system, user, assistant, tool
  std::string content;
  std::vector<tool_call> tool_calls;  // assistant messages that called tools
  std::string tool_call_id;           // tool messages: the call answered
  std::string name;                   // optional participant or tool name
  std::vector<image_input> images;    // user messages: images, each placed by its `at`
};

// Whether any message carries an image (the call then needs a vision model).
bool has_images(const std::vector<chat_message>& messages);

struct tool_definition {
  std::string name;
  std::string description;
  std::string parameters_json = "{}";  // a JSON Schema object, as text
};

struct chat_request {
  std::string model;  // registry id
  std::vector<chat_message> messages;
  std::vector<tool_definition> tools;
  std::string tool_choice;  // "", "auto", "none", "required", or a tool name
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int> max_tokens;
  std::vector<std::string> stop;
};

struct token_usage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  bool estimated = false;  // the provider reported none: counted from the text
};

struct chat_event {
  enum class kind { text, tool_call, finish, failure };
  kind type = kind::text;
  std::string text;                  // text: the delta
  int tool_index = 0;                // tool_call: which call this delta extends
  std::string tool_id;               // tool_call: set on the call's first delta
  std::string tool_name;             // tool_call: set on the call's first delta
  std::string tool_arguments;        // tool_call: a fragment of the JSON arguments
  std::string finish_reason;         // finish: stop, length, tool_calls, content_filter
  token_usage usage;                 // finish
  std::optional<core::error> error;  // failure

  static chat_event text_delta(std::string t) {
    chat_event e;
    e.text = std::move(t);
    return e;
  }
  static chat_event finished(std::string reason, token_usage u) {
    chat_event e;
    e.type = kind::finish;
    e.finish_reason = std::move(reason);
    e.usage = u;
    return e;
  }
  static chat_event failed(core::error err) {
    chat_event e;
    e.type = kind::failure;
    e.error = std::move(err);
    return e;
  }
};

// A whole answer, assembled from the events (non-streaming calls).
struct chat_result {
  std::string model;  // the model that answered (after fallbacks)
  std::string content;
  std::vector<tool_call> tool_calls;
  std::string finish_reason;
  token_usage usage;
};

struct embedding_request {
  std::string model;
  std::vector<std::string> inputs;
  std::optional<int> dimensions;
};

struct embedding_result {
  std::string model;
  std::vector<std::vector<float>> vectors;
  token_usage usage;
};

struct rerank_request {
  std::string model;
  std::string query;
  std::vector<std::string> documents;
  std::optional<int> top_n;
};

struct rerank_result {
  struct item {
    int index = 0;
    double score = 0;
  };
  std::string model;
  std::vector<item> results;  // best first
  token_usage usage;
};

struct speech_request {
  std::string model;
  std::string input;           // the text to speak
  std::string voice;           // provider voice name
  std::string format = "mp3";  // mp3, wav, opus, aac, flac, pcm
  std::optional<double> speed;
};

struct speech_result {
  std::string model;
  std::string audio;  // the encoded audio bytes
  std::string content_type;
  token_usage usage;
};

struct transcription_request {
  std::string model;
  std::string audio;  // the encoded audio bytes
  std::string filename = "audio.wav";
  std::string content_type = "application/octet-stream";
  std::string language;  // ISO 639-1 hint, optional
};

struct transcription_result {
  std::string model;
  std::string text;
  token_usage usage;
};

// A rough token count for text whose provider reported none (about 4 bytes a token).
inline std::int64_t estimate_tokens(std::string_view text) {
  return static_cast<std::int64_t>((text.size() + 3) / 4);
}

}  // namespace wattos::infra::llm
