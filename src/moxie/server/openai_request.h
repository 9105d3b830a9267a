#pragma once
// The request bodies of POST /v1/chat/completions and /v1/completions, parsed and checked
// into one struct. Every bad field is an ApiError (400) naming the parameter, e.g.
//   'temperature' must be a number between 0 and 2
// Fields moxie does not know are ignored, as OpenAI's own clients send extras.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "moxie/runtime/sampler/sampler.h"

namespace moxie::server {

struct CompletionRequest {
  bool chat = true;
  std::string model;  // empty: the server's first model
  // chat: [{"role", "content"}, ...] with content flattened to a string (or null)
  std::shared_ptr<const nlohmann::ordered_json> messages;
  // completions: a string prompt, or token ids when prompt_is_tokens
  std::string prompt;
  std::vector<int32_t> prompt_tokens;
  bool prompt_is_tokens = false;

  SamplingParams sampling;
  bool seed_given = false;  // no seed: the server draws one per request
  std::optional<int64_t> max_tokens;  // max_tokens or max_completion_tokens
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;
  int top_logprobs = 0;
};

// Throws ApiError (400) for malformed JSON, invalid UTF-8, wrong types and bad values.
CompletionRequest parse_chat_request(std::string_view body);
CompletionRequest parse_completion_request(std::string_view body);

// Shared by /tokenize and the others: the body as a JSON object, or ApiError 400.
nlohmann::json parse_json_object(std::string_view body);

}  // namespace moxie::server
