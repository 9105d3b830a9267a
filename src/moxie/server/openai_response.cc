#include "moxie/server/openai_response.h"

#include <nlohmann/json.hpp>

#include "moxie/runtime/request_stream.h"
#include "moxie/runtime/sampler/sampler.h"
#include "moxie/tokenizer/stream_decoder.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie::server {
namespace {

using nlohmann::json;

std::string shown_text(const tokenizer::Tokenizer& tok, int32_t id) {
  std::string out;
  tokenizer::append_valid_utf8(std::string(tok.token_bytes(id)), false, &out);
  return out;
}

json byte_list(const tokenizer::Tokenizer& tok, int32_t id) {
  json bytes = json::array();
  for (unsigned char c : tok.token_bytes(id)) bytes.push_back(int(c));
  return bytes;
}

json choice_base(const ResponseMeta& m, const std::string& finish_reason) {
  return json{{"index", 0}, {"logprobs", nullptr},
              {"finish_reason", finish_reason.empty() ? json(nullptr) : json(finish_reason)}};
}

}  // namespace

std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string sse_event(const json& j) { return "data: " + dump_json(j) + "\n\n"; }

json usage_json(const RequestRecord& r, std::optional<int64_t> cost_nanodollars) {
  json usage{{"prompt_tokens", r.prompt_tokens},
             {"completion_tokens", r.completion_tokens},
             {"total_tokens", r.prompt_tokens + r.completion_tokens},
             {"prompt_tokens_details", {{"cached_tokens", r.cached_tokens}}}};
  if (cost_nanodollars) usage["cost"] = {{"currency", "USD"}, {"nanodollars", *cost_nanodollars}};
  return usage;
}

json logprobs_json(bool chat, const std::vector<SampledToken>& tokens, const tokenizer::Tokenizer& tok) {
  if (chat) {
    json content = json::array();
    for (const SampledToken& t : tokens) {
      json top = json::array();
      for (const TokenLogprob& alt : t.top)
        top.push_back({{"token", shown_text(tok, alt.token)}, {"logprob", alt.logprob}, {"bytes", byte_list(tok, alt.token)}});
      content.push_back({{"token", shown_text(tok, t.token)},
                         {"logprob", t.logprob},
                         {"bytes", byte_list(tok, t.token)},
                         {"top_logprobs", top}});
    }
    return json{{"content", content}};
  }
  json texts = json::array(), lps = json::array(), tops = json::array();
  for (const SampledToken& t : tokens) {
    texts.push_back(shown_text(tok, t.token));
    lps.push_back(t.logprob);
    json top = json::object();
    for (const TokenLogprob& alt : t.top) top[shown_text(tok, alt.token)] = alt.logprob;
    tops.push_back(top);
  }
  return json{{"tokens", texts}, {"token_logprobs", lps}, {"top_logprobs", tops}};
}

json completion_json(const ResponseMeta& m, const std::string& text, const std::string& finish_reason,
                     const std::vector<SampledToken>& tokens, const tokenizer::Tokenizer& tok,
                     const RequestRecord& record, std::optional<int64_t> cost_nanodollars) {
  json choice = choice_base(m, finish_reason);
  if (m.chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text}};
  } else {
    choice["text"] = text;
  }
  if (m.logprobs) choice["logprobs"] = logprobs_json(m.chat, tokens, tok);
  return json{{"id", m.id},
              {"object", m.chat ? "chat.completion" : "text_completion"},
              {"created", m.created},
              {"model", m.model},
              {"system_fingerprint", "moxie"},
              {"choices", json::array({choice})},
              {"usage", usage_json(record, cost_nanodollars)}};
}

json stream_chunk_json(const ResponseMeta& m, const std::string& text, bool first, const std::string& finish_reason,
                       const std::vector<SampledToken>& tokens, const tokenizer::Tokenizer& tok,
                       bool with_usage_null) {
  json choice = choice_base(m, finish_reason);
  if (m.chat) {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (!text.empty() || (first && finish_reason.empty())) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  if (m.logprobs && !tokens.empty()) choice["logprobs"] = logprobs_json(m.chat, tokens, tok);
  json chunk{{"id", m.id},
             {"object", m.chat ? "chat.completion.chunk" : "text_completion"},
             {"created", m.created},
             {"model", m.model},
             {"system_fingerprint", "moxie"},
             {"choices", json::array({choice})}};
  if (with_usage_null) chunk["usage"] = nullptr;
  return chunk;
}

json stream_usage_json(const ResponseMeta& m, const RequestRecord& record, std::optional<int64_t> cost_nanodollars) {
  return json{{"id", m.id},
              {"object", m.chat ? "chat.completion.chunk" : "text_completion"},
              {"created", m.created},
              {"model", m.model},
              {"system_fingerprint", "moxie"},
              {"choices", json::array()},
              {"usage", usage_json(record, cost_nanodollars)}};
}

}  // namespace moxie::server
