#pragma once
// The sampler chain that turns one token's logits into the next token, in llama.cpp's
// order: logit bias -> repetition/presence/frequency penalties -> top-k -> top-p -> min-p
// -> temperature -> a seeded draw. temperature <= 0 is greedy (argmax after bias and
// penalties). The same seed and inputs always give the same tokens.
//
// Cost: every truncation keeps a prefix of one ranking (higher logit first, lower id first
// on ties), so the kept set is found by selection, never by sorting the vocabulary, and
// the draw walks the kept tokens in id order. A draw is a few vector passes over the
// logits (about 0.1 ms for 151,936 tokens), not a sort (13 ms): the server samples every
// sequence of a batch after each step.
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace moxie {

struct SamplingParams {
  float temperature = 1.0f;     // <= 0: greedy
  int32_t top_k = 0;            // 0: off
  float top_p = 1.0f;           // 1: off
  float min_p = 0.0f;           // 0: off; keep tokens with p >= min_p * p_max
  float repeat_penalty = 1.0f;  // 1: off; divides positive logits, multiplies negative ones
  int32_t repeat_last_n = 64;   // how many recent tokens the penalties look at (-1: all)
  float presence_penalty = 0.0f;   // subtracted once from every token seen
  float frequency_penalty = 0.0f;  // subtracted per occurrence
  std::vector<std::pair<int32_t, float>> logit_bias;  // added to the raw logit
  uint64_t seed = 0;
  int32_t n_top_logprobs = 0;   // how many alternatives to report with each token
  // JSON mode: the answer is one JSON object. Read by the engine and the generator, which
  // pass a JsonConstraint (json_constraint.h) as the mask; the Sampler itself ignores it.
  bool json_object = false;
};

// Edits a copy of the raw logits [n_vocab] before the chain, e.g. -inf on the tokens JSON
// mode forbids. Reported logprobs still come from the raw logits.
class LogitMask {
 public:
  virtual ~LogitMask() = default;
  virtual void apply(std::span<float> logits) = 0;
};

struct TokenLogprob {
  int32_t token = -1;
  float logprob = 0.0f;  // natural log of the model's probability (raw logits, before the chain)
};

struct SampledToken {
  int32_t token = -1;
  float logprob = 0.0f;
  std::vector<TokenLogprob> top;  // the n_top_logprobs most likely tokens, most likely first
};

class Sampler {
 public:
  // Throws moxie::Error naming the parameter when a value is out of range.
  Sampler(const SamplingParams& params, int32_t n_vocab);

  // Picks the next token. history: the tokens so far (prompt and generated), for penalties.
  // mask, when given, edits the logits first.
  SampledToken sample(std::span<const float> logits, std::span<const int32_t> history, LogitMask* mask = nullptr);

 private:
  // One token of the pool the truncations cut: p is its probability within the pool.
  struct Candidate {
    int32_t token;
    float logit;
    float p;
  };
  void prepare(std::span<const float> logits, std::span<const int32_t> history, LogitMask* mask);
  void apply_bias_and_penalties(std::span<const int32_t> history);
  // top-k, min-p, top-p: the lowest-ranked token kept, or nothing when all finite tokens stay.
  bool find_cut(int64_t best, Candidate* last_kept);
  void pool_top_k();                        // candidates_: the top_k best-ranked tokens
  void pool_by_probability(int64_t best);   // candidates_: the tokens min-p or top-p may keep
  int32_t draw(float max, const Candidate* last_kept);
  // known_log_z: the raw logits' log-normaliser when the draw already computed it.
  void fill_logprobs(std::span<const float> logits, SampledToken& out, std::optional<double> known_log_z);

  SamplingParams params_;
  int32_t n_vocab_;
  uint64_t rng_state_;
  std::vector<float> work_;            // [n_vocab]: the logits the chain edits (mask, bias, penalties)
  std::span<const float> chain_;       // what the chain reads this call: the raw logits, or work_
  std::vector<float> scratch_;         // [n_vocab]: tempered weights, raw probabilities
  std::vector<Candidate> candidates_;  // the pool top-k, min-p and top-p select from
  std::vector<double> block_sums_;     // the draw's running sums, one per block of weights
  std::vector<int32_t> counts_;        // occurrences in the penalty window
};

}  // namespace moxie
