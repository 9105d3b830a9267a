#pragma once
// Engine: the continuous-batching loop behind `moxie serve`. It owns one thread, the KV
// cache (one slot per parallel sequence), the forward context, the scheduler and the prefix
// cache. Each step it admits queued requests into free slots (restoring any cached prompt
// prefix), runs every active sequence's next token plus chunks of pending prompts as ONE
// forward pass, samples, and pushes text to each request's RequestStream.
//
//   Engine engine(model, tokenizer, options);
//   auto stream = engine.submit(job);      // null: queue full (503)
//   while (stream->pop(&ev, 100ms)) ...    // until ev.final
//
// The model and tokenizer must outlive the engine.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "moxie/core/dtype.h"
#include "moxie/runtime/request_stream.h"
#include "moxie/runtime/sampler/sampler.h"

namespace moxie {

class JsonVocab;
class Model;
struct Batch;
struct StepItem;
namespace tokenizer {
class Tokenizer;
}

struct EngineOptions {
  int n_parallel = 4;                    // KV cache slots: sequences computed at once
  int64_t n_ctx = 4096;                  // tokens per slot (prompt + answer)
  int64_t max_queue = 64;                // requests waiting for a slot; more get 503
  int64_t step_tokens = 512;             // most tokens in one forward pass
  int64_t prefill_chunk = 256;           // most prompt tokens of one sequence per pass
  int n_threads = 0;                     // 0: the machine's hardware threads
  int64_t prefix_cache_bytes = 256 << 20;  // 0: no prefix cache
  DType kv_type = DType::F32;            // KV cache elements (the CLI asks for F16, see kv_cache.h)
};

struct GenerationJob {
  std::vector<int32_t> prompt;            // not empty; prompt + max_tokens <= n_ctx
  SamplingParams sampling;
  int64_t max_tokens = 16;                // >= 1
  std::vector<std::string> stop_strings;
  std::vector<int32_t> stop_tokens;       // EOS/EOT: end the answer, never shown
};

// A snapshot for /metrics and /health.
struct EngineStats {
  int64_t queue_depth = 0;
  int64_t active = 0;
  int64_t n_slots = 0;
  int64_t steps = 0;
  int64_t prefix_cache_bytes = 0;
  int64_t prefix_cache_entries = 0;
  double tokens_per_s = 0;  // sampled tokens per second over the last few seconds
};

class Engine {
 public:
  // Allocates the KV cache and starts the loop thread. Throws moxie::Error on bad options.
  Engine(const Model& model, const tokenizer::Tokenizer& tokenizer, const EngineOptions& options);
  ~Engine();  // cancels what is left and joins the loop
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a job. Returns null when the queue is full or the engine is draining. Throws
  // moxie::Error when the job is invalid (empty prompt, too long for n_ctx, bad sampling).
  std::shared_ptr<RequestStream> submit(GenerationJob job);

  // Refuses new jobs from now on; waits up to timeout_ms for running and queued ones to
  // end, then cancels the rest (their streams get a final event with cause cancelled).
  void drain(int64_t timeout_ms);

  EngineStats stats() const;
  const EngineOptions& options() const { return options_; }

 private:
  struct Seq;
  struct Loop;
  // The loop thread; the helpers run on it with mu_ held.
  void run_loop();
  Batch build_batch(const std::vector<StepItem>& plan) const;
  void reap_cancelled();
  void admit_queued();
  void sample_step(const std::vector<StepItem>& plan);
  void emit_token(Seq& seq, const SampledToken& token);
  void finish(Seq& seq, StopCause cause, const std::string& error = {});

  const Model& model_;
  const tokenizer::Tokenizer& tokenizer_;
  EngineOptions options_;
  std::unique_ptr<Loop> loop_;  // everything the loop thread owns
  std::once_flag json_vocab_once_;
  std::shared_ptr<const JsonVocab> json_vocab_;  // built by the first JSON-mode job

  mutable std::mutex mu_;  // guards the scheduler, the sequences map and the flags below
  std::condition_variable wake_;
  std::condition_variable idle_cv_;
  std::map<int64_t, std::unique_ptr<Seq>> seqs_;
  int64_t next_id_ = 1;
  bool draining_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace moxie
