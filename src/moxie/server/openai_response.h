#pragma once
// JSON bodies of OpenAI's responses: whole chat/text completions, streaming chunks, usage,
// logprobs. Pure functions of their inputs, so they are tested without a server.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace moxie {
struct RequestRecord;
struct SampledToken;
namespace tokenizer {
class Tokenizer;
}
}  // namespace moxie

namespace moxie::server {

// Identifies one response: "chatcmpl-..." or "cmpl-...", its model alias and Unix time.
struct ResponseMeta {
  bool chat = true;
  std::string id;
  std::string model;
  int64_t created = 0;
  bool logprobs = false;
};

// cost_nanodollars: what metering billed, shown as "cost": {"currency": "USD",
// "nanodollars": N} (absent when no price is known).
nlohmann::json usage_json(const RequestRecord& r, std::optional<int64_t> cost_nanodollars = std::nullopt);
// Chat: {"content": [{token, logprob, bytes, top_logprobs}]}; completions: the legacy
// {tokens, token_logprobs, top_logprobs} shape. Token text is the token's bytes with
// invalid UTF-8 replaced (bytes holds the raw ones).
nlohmann::json logprobs_json(bool chat, const std::vector<SampledToken>& tokens, const tokenizer::Tokenizer& tok);

// The whole answer of a non-streaming request.
nlohmann::json completion_json(const ResponseMeta& m, const std::string& text, const std::string& finish_reason,
                               const std::vector<SampledToken>& tokens, const tokenizer::Tokenizer& tok,
                               const RequestRecord& record, std::optional<int64_t> cost_nanodollars = std::nullopt);

// One SSE chunk. first: the chat chunk carrying the assistant role; finish_reason empty
// while generating; with_usage_null: include_usage was asked, so chunks carry "usage": null.
nlohmann::json stream_chunk_json(const ResponseMeta& m, const std::string& text, bool first, const std::string& finish_reason,
                                 const std::vector<SampledToken>& tokens, const tokenizer::Tokenizer& tok,
                                 bool with_usage_null);
// The last chunk when include_usage was asked: no choices, the usage.
nlohmann::json stream_usage_json(const ResponseMeta& m, const RequestRecord& record,
                                 std::optional<int64_t> cost_nanodollars = std::nullopt);

// "data: <json>\n\n"
std::string sse_event(const nlohmann::json& j);
// json::dump that never throws on bytes that are not UTF-8 (they become U+FFFD).
std::string dump_json(const nlohmann::json& j);

}  // namespace moxie::server
