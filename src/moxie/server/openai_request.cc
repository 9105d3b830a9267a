#include "moxie/server/openai_request.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include <nlohmann/json.hpp>

#include "moxie/server/api_error.h"

namespace moxie::server {
namespace {

using nlohmann::json;

constexpr int64_t kMaxTokensLimit = 1 << 24;
constexpr size_t kMaxStops = 4;

std::string shortest(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A finite number in [lo, hi], else 400 naming the parameter.
double number_in(const json& body, const char* key, double lo, double hi) {
  const json& v = body.at(key);
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < lo || v.get<double>() > hi)
    throw invalid_param(key, "must be a number between " + shortest(lo) + " and " + shortest(hi));
  return v.get<double>();
}

int64_t integer_in(const json& body, const char* key, int64_t lo, int64_t hi) {
  const json& v = body.at(key);
  bool ok = v.is_number_integer();
  if (ok && v.is_number_unsigned()) ok = v.get<uint64_t>() <= uint64_t(hi);
  if (ok) ok = v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
  if (!ok) throw invalid_param(key, "must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi));
  return v.get<int64_t>();
}

bool boolean(const json& body, const char* key) {
  const json& v = body.at(key);
  if (!v.is_boolean()) throw invalid_param(key, "must be a boolean");
  return v.get<bool>();
}

bool present(const json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && !it->is_null();
}

std::vector<std::string> parse_stop(const json& v) {
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array() || v.size() > kMaxStops)
    throw invalid_param("stop", "must be a string or an array of at most 4 strings");
  std::vector<std::string> stops;
  for (const json& s : v) {
    if (!s.is_string()) throw invalid_param("stop", "must be a string or an array of at most 4 strings");
    stops.push_back(s.get<std::string>());
  }
  return stops;
}

void parse_logit_bias(const json& v, SamplingParams& p) {
  if (!v.is_object()) throw invalid_param("logit_bias", "must be an object mapping token ids to numbers");
  for (const auto& [key, bias] : v.items()) {
    size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(key, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != key.size() || id < 0 || id > std::numeric_limits<int32_t>::max())
      throw invalid_param("logit_bias", "has a key that is not a token id: " + json(key).dump());
    if (!bias.is_number() || !std::isfinite(bias.get<double>()) || std::fabs(bias.get<double>()) > 100)
      throw invalid_param("logit_bias", "values must be numbers between -100 and 100");
    p.logit_bias.emplace_back(int32_t(id), bias.get<float>());
  }
}

// Parameters shared by both endpoints.
void parse_sampling(const json& b, CompletionRequest& r) {
  SamplingParams& p = r.sampling;
  if (present(b, "temperature")) p.temperature = float(number_in(b, "temperature", 0, 2));
  if (present(b, "top_p")) p.top_p = float(number_in(b, "top_p", 0, 1));
  if (present(b, "top_k")) p.top_k = int32_t(integer_in(b, "top_k", 0, 1 << 20));
  if (present(b, "min_p")) p.min_p = float(number_in(b, "min_p", 0, 1));
  if (present(b, "presence_penalty")) p.presence_penalty = float(number_in(b, "presence_penalty", -2, 2));
  if (present(b, "frequency_penalty")) p.frequency_penalty = float(number_in(b, "frequency_penalty", -2, 2));
  if (present(b, "repetition_penalty")) p.repeat_penalty = float(number_in(b, "repetition_penalty", 0.01, 10));
  r.seed_given = present(b, "seed");
  if (r.seed_given)
    p.seed = uint64_t(integer_in(b, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
  if (present(b, "logit_bias")) parse_logit_bias(b.at("logit_bias"), p);
  if (present(b, "max_tokens")) r.max_tokens = integer_in(b, "max_tokens", 1, kMaxTokensLimit);
  if (present(b, "max_completion_tokens"))
    r.max_tokens = integer_in(b, "max_completion_tokens", 1, kMaxTokensLimit);
  if (present(b, "n") && integer_in(b, "n", 1, 128) != 1) throw invalid_param("n", "must be 1 (moxie returns one choice)");
  if (present(b, "stop")) r.stop = parse_stop(b.at("stop"));
  if (present(b, "stream")) r.stream = boolean(b, "stream");
  if (present(b, "stream_options")) {
    const json& so = b.at("stream_options");
    if (!so.is_object()) throw invalid_param("stream_options", "must be an object");
    if (!r.stream) throw invalid_param("stream_options", "is only allowed when 'stream' is true");
    if (present(so, "include_usage")) {
      if (!so.at("include_usage").is_boolean()) throw invalid_param("stream_options.include_usage", "must be a boolean");
      r.include_usage = so.at("include_usage").get<bool>();
    }
  }
  if (present(b, "response_format")) {
    const json& rf = b.at("response_format");
    if (!rf.is_object() || !rf.contains("type") || !rf.at("type").is_string())
      throw invalid_param("response_format", "must be an object with a string 'type'");
    const std::string type = rf.at("type").get<std::string>();
    // json_object: constrained decoding (JSON mode). JSON schemas are not implemented: refuse
    // rather than return text that was never checked against the schema.
    if (type == "json_object") {
      p.json_object = true;
    } else if (type != "text") {
      throw invalid_param("response_format.type",
                          "'" + type + "' is not supported by this server yet (only 'text' and 'json_object')");
    }
  }
  if (present(b, "model")) {
    if (!b.at("model").is_string()) throw invalid_param("model", "must be a string");
    r.model = b.at("model").get<std::string>();
  }
}

// Content as a string: a plain string, or the concatenated text of [{"type": "text", ...}].
json flatten_content(const json& content, size_t i) {
  const std::string param = "messages[" + std::to_string(i) + "].content";
  if (content.is_null() || content.is_string()) return content;
  if (!content.is_array()) throw invalid_param(param, "must be a string or an array of text parts");
  std::string text;
  for (const json& part : content) {
    if (!part.is_object() || part.value("type", json()) != "text" || !part.contains("text") || !part.at("text").is_string())
      throw invalid_param(param, "parts must be {\"type\": \"text\", \"text\": string} (this model reads text only)");
    text += part.at("text").get<std::string>();
  }
  return text;
}

std::shared_ptr<const nlohmann::ordered_json> parse_messages(const json& b) {
  if (!b.contains("messages")) throw ApiError(400, "'messages' is required", "messages", "missing_required_parameter");
  const json& ms = b.at("messages");
  if (!ms.is_array() || ms.empty()) throw invalid_param("messages", "must be a non-empty array of messages");
  auto out = std::make_shared<nlohmann::ordered_json>(nlohmann::ordered_json::array());
  for (size_t i = 0; i < ms.size(); ++i) {
    const json& m = ms[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) throw invalid_param(at, "must be an object");
    if (!m.contains("role") || !m.at("role").is_string()) throw invalid_param(at + ".role", "must be a string");
    const std::string role = m.at("role").get<std::string>();
    if (role != "system" && role != "developer" && role != "user" && role != "assistant" && role != "tool")
      throw invalid_param(at + ".role", "must be one of system, developer, user, assistant, tool");
    nlohmann::ordered_json msg = nlohmann::ordered_json::parse(m.dump());  // keeps tool_calls, name, ...
    msg["role"] = role == "developer" ? "system" : role;
    msg["content"] = nlohmann::ordered_json::parse(flatten_content(m.value("content", json()), i).dump());
    if (msg["content"].is_null() && role != "assistant") throw invalid_param(at + ".content", "is required");
    out->push_back(std::move(msg));
  }
  return out;
}

}  // namespace

json parse_json_object(std::string_view body) {
  json b;
  try {
    b = json::parse(body.begin(), body.end());
  } catch (const json::exception& e) {
    // Also covers numbers beyond double's range and invalid UTF-8 inside strings, which nlohmann's parser rejects.
    throw ApiError(400, std::string("the request body is not valid JSON: ") + e.what(), {}, "invalid_json");
  }
  if (!b.is_object()) throw ApiError(400, "the request body must be a JSON object", {}, "invalid_json");
  return b;
}

CompletionRequest parse_chat_request(std::string_view body) {
  const json b = parse_json_object(body);
  CompletionRequest r;
  r.chat = true;
  r.messages = parse_messages(b);
  parse_sampling(b, r);
  if (present(b, "logprobs")) r.logprobs = boolean(b, "logprobs");
  if (present(b, "top_logprobs")) {
    r.top_logprobs = int(integer_in(b, "top_logprobs", 0, 20));
    if (!r.logprobs) throw invalid_param("top_logprobs", "requires 'logprobs' to be true");
  }
  r.sampling.n_top_logprobs = r.top_logprobs;
  return r;
}

CompletionRequest parse_completion_request(std::string_view body) {
  const json b = parse_json_object(body);
  CompletionRequest r;
  r.chat = false;
  if (!b.contains("prompt")) throw ApiError(400, "'prompt' is required", "prompt", "missing_required_parameter");
  const json& p = b.at("prompt");
  if (p.is_string()) {
    r.prompt = p.get<std::string>();
  } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
    r.prompt = p[0].get<std::string>();
  } else if (p.is_array() && !p.empty() && std::all_of(p.begin(), p.end(), [](const json& t) {
               return t.is_number_integer() && t.get<int64_t>() >= 0 && t.get<int64_t>() <= INT32_MAX;
             })) {
    r.prompt_is_tokens = true;
    for (const json& t : p) r.prompt_tokens.push_back(t.get<int32_t>());
  } else {
    throw invalid_param("prompt", "must be a string or an array of token ids (one prompt per request)");
  }
  parse_sampling(b, r);
  if (present(b, "logprobs")) {
    r.top_logprobs = int(integer_in(b, "logprobs", 0, 5));
    r.logprobs = true;
  }
  r.sampling.n_top_logprobs = r.top_logprobs;
  if (present(b, "echo") && boolean(b, "echo")) throw invalid_param("echo", "is not supported");
  return r;
}

}  // namespace moxie::server
