#pragma once
// Generator: the generation loop for one sequence, shared by `moxie run`, `moxie chat` and
// (later) the server.
//
//   prompt ids -> reuse the cached prefix -> prefill the rest in chunks -> sample ->
//   feed the token back (one-token decode) -> ... until a stop token, a stop string,
//   max_tokens, a full context or a cancel request.
//
// Text is streamed through a StreamDecoder (whole UTF-8 characters only) and a StopMatcher
// (text that may start a stop string is held back), so a sink never sees a partial
// character or any part of a stop string.
//
// The KV cache is kept between calls: a multi-turn chat re-renders the whole conversation
// and only the tokens after the longest common prefix with the cache are prefilled.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "moxie/core/dtype.h"
#include "moxie/runtime/sampler/sampler.h"

namespace moxie {

class JsonConstraint;
class JsonVocab;
class Model;
class ThreadPool;
namespace tokenizer {
class Tokenizer;
}

enum class FinishReason { length, stop_token, stop_string, context_full, cancelled };
const char* finish_reason_name(FinishReason r);  // "length", "stop_token", ...

struct GenerateOptions {
  SamplingParams sampling;
  int64_t max_tokens = -1;                // -1: until the context is full
  std::vector<std::string> stop_strings;  // matched across token boundaries
  std::vector<int32_t> stop_tokens;       // EOS/EOT: end the answer, never part of the text
  const std::atomic<bool>* cancel = nullptr;  // checked before every forward; true: stop
};

struct GenerateStats {
  int64_t n_cached = 0;     // prompt tokens reused from the cache (not recomputed)
  int64_t n_prefilled = 0;  // prompt tokens run through the model in this call
  double prefill_ms = 0;
  int64_t n_generated = 0;  // tokens sampled (a final stop token included)
  int64_t n_decoded = 0;    // one-token forward passes after the prefill (n_generated - 1 or less)
  double decode_ms = 0;     // those passes plus the sampling of the tokens they produced
  double prefill_tokens_per_s() const { return prefill_ms > 0 ? 1e3 * double(n_prefilled) / prefill_ms : 0; }
  double decode_tokens_per_s() const { return decode_ms > 0 ? 1e3 * double(n_decoded) / decode_ms : 0; }
};

struct GenerateResult {
  std::vector<SampledToken> tokens;  // in order; a stop token that ended the answer is last
  std::string text;                  // everything sent to the sink, concatenated
  FinishReason finish = FinishReason::length;
  GenerateStats stats;
};

// Receives text that is safe to show, as it is produced.
using TextSink = std::function<void(std::string_view piece)>;

class Generator {
 public:
  // A cache of n_ctx tokens (0: the model's training context) of kv_type elements (see
  // Model::kv_shape). prefill_chunk: the most tokens one prefill forward pass takes. The
  // model, tokenizer and pool must outlive it.
  Generator(const Model& model, const tokenizer::Tokenizer& tok, ThreadPool& pool, int64_t n_ctx = 0,
            int64_t prefill_chunk = 512, DType kv_type = DType::F32);
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  // Generates a continuation of prompt (which must not be empty). Throws moxie::Error when
  // the prompt does not fit the context or holds an id outside the vocabulary.
  GenerateResult generate(const std::vector<int32_t>& prompt, const GenerateOptions& options,
                          const TextSink& sink = {});

  // The steps generate() is made of, for benchmarks: append ids (in chunks) and return the
  // logits [n_vocab] of the last one; append one token and return its logits. The pointer
  // is valid until the next call.
  const float* prefill(std::span<const int32_t> ids);
  const float* decode(int32_t id);
  void reset();  // empties the cache
  // Keeps the first n_tokens cached tokens (n_tokens <= cached_tokens().size()), e.g. to
  // rerun a benchmark from the same filled context.
  void truncate(int64_t n_tokens);

  int64_t n_ctx() const;
  const std::vector<int32_t>& cached_tokens() const { return cached_; }  // positions [0, n)

 private:
  void reuse_prefix(const std::vector<int32_t>& prompt);
  void decode_loop(const std::vector<int32_t>& prompt, const GenerateOptions& o, Sampler& sampler, const float* logits,
                   const TextSink& sink, GenerateResult& r, JsonConstraint* json);
  bool cancelled(const GenerateOptions& o) const { return o.cancel && o.cancel->load(std::memory_order_relaxed); }

  struct State;
  const Model& model_;
  const tokenizer::Tokenizer& tok_;
  int64_t prefill_chunk_;
  std::unique_ptr<State> state_;
  std::vector<int32_t> cached_;
  std::shared_ptr<const JsonVocab> json_vocab_;  // built by the first call with sampling.json_object
};

}  // namespace moxie
