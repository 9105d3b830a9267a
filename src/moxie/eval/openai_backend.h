#pragma once
// OpenAiBackend: any OpenAI-compatible endpoint (moxie serve, llama.cpp's server, vLLM, a
// hosted API), for generative tasks. Raw prompts go to POST /v1/completions, chat prompts
// to POST /v1/chat/completions, greedy (temperature 0). Up to `concurrency` requests run
// at once (the runner's threads); a 429, a 5xx or a failed connection is retried after
// backoff_ms * 2^attempt (at most 30 s), or after the Retry-After the server sent.
#include <cstdint>
#include <string>

#include "moxie/eval/backend.h"

namespace moxie::eval {

struct EndpointOptions {
  std::string url;          // "http://host:port" (a trailing /v1 is accepted)
  std::string model;        // the "model" field of requests
  std::string api_key;      // sent as "Authorization: Bearer ..."; empty: none
  int concurrency = 4;
  int max_retries = 5;
  int64_t backoff_ms = 500;
  int64_t timeout_s = 300;
};

class OpenAiBackend : public Backend {
 public:
  // Throws moxie::Error for a url that is not http(s)://host[:port][/v1].
  explicit OpenAiBackend(EndpointOptions options);
  bool scores_text() const override { return false; }
  int concurrency() const override { return options_.concurrency; }
  ChoiceScores score_choices(const Prompt&, const std::vector<std::string>&) override;
  TextScore score_text(const std::string&) override;
  Generation generate(const Prompt& prompt, int64_t max_tokens, const std::vector<std::string>& stop) override;

 private:
  std::string post_with_retries(const std::string& path, const std::string& body);
  EndpointOptions options_;
  std::string base_;  // scheme://host:port
};

}  // namespace moxie::eval
