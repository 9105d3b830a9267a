#pragma once
// Backend: what an eval asks of a model, whether it runs here (LocalBackend, a GGUF file
// through the engine) or behind an OpenAI-compatible endpoint (OpenAiBackend).
#include <cstdint>
#include <string>
#include <vector>

#include "moxie/eval/prompt.h"

namespace moxie::eval {

// Log-likelihoods of several continuations of one context.
struct ChoiceScores {
  std::vector<double> logprob;      // [n_choices] sum of log softmax over the choice's tokens
  std::vector<int64_t> n_tokens;    // [n_choices] continuation tokens scored
  std::vector<bool> greedy;         // [n_choices] every token was the argmax
  int64_t prompt_tokens = 0;        // context once plus every choice's tokens
};

struct TextScore {
  double nll_sum = 0;       // over the scored tokens, natural log
  int64_t n_scored = 0;     // tokens of the text after the first
  int64_t prompt_tokens = 0;
};

struct Generation {
  std::string text;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t server_cost_nanodollars = -1;  // usage.cost from the endpoint, -1: none
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Whether multiple_choice and perplexity tasks can run (they need log-likelihoods).
  virtual bool scores_text() const = 0;
  // How many questions may be asked at once from different threads.
  virtual int concurrency() const = 0;
  // Each throws moxie::Error naming the model and what failed.
  virtual ChoiceScores score_choices(const Prompt& context, const std::vector<std::string>& choices) = 0;
  virtual TextScore score_text(const std::string& text) = 0;
  virtual Generation generate(const Prompt& prompt, int64_t max_tokens, const std::vector<std::string>& stop) = 0;
};

}  // namespace moxie::eval
