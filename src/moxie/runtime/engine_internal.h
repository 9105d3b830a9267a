#pragma once
// What the engine's loop thread owns, shared by engine.cc and engine_loop.cc only.
#include <chrono>
#include <deque>
#include <thread>
#include <utility>
#include <vector>

#include "moxie/core/thread_pool.h"
#include "moxie/model/forward_pass.h"
#include "moxie/model/model.h"
#include "moxie/runtime/engine.h"
#include "moxie/runtime/kv_cache.h"
#include "moxie/runtime/prefix_cache.h"
#include "moxie/runtime/sampler/json_constraint.h"
#include "moxie/runtime/sampler/stop.h"
#include "moxie/runtime/scheduler.h"
#include "moxie/tokenizer/stream_decoder.h"

namespace moxie {

using Clock = std::chrono::steady_clock;

inline double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// tokens_per_s in EngineStats averages over this window.
constexpr double kThroughputWindowS = 5.0;

struct Engine::Seq {
  Seq(int64_t seq_id, GenerationJob j, const tokenizer::Tokenizer& tok, int32_t n_vocab)
      : id(seq_id), job(std::move(j)), stream(std::make_shared<RequestStream>()), sampler(job.sampling, n_vocab),
        decoder(tok, /*skip_special=*/false), stop(job.stop_strings), history(job.prompt),
        t_submit(Clock::now()) {}

  int64_t id;
  GenerationJob job;
  std::shared_ptr<RequestStream> stream;
  Sampler sampler;
  tokenizer::StreamDecoder decoder;
  StopMatcher stop;
  std::vector<int32_t> history;  // prompt, then every sampled token
  std::unique_ptr<JsonConstraint> json;  // JSON mode: masks each draw; complete() ends the answer
  int64_t n_generated = 0;
  Clock::time_point t_submit, t_last_token;
  RequestRecord record;
};

struct Engine::Loop {
  Loop(const Model& model, const EngineOptions& o)
      : pool(o.n_threads > 0 ? o.n_threads : int(std::max(1u, std::thread::hardware_concurrency()))),
        kv(model.make_kv_cache(o.n_parallel, o.n_ctx, o.kv_type)),
        ctx(pool),
        scheduler({o.n_parallel, o.max_queue, o.step_tokens, o.prefill_chunk}),
        prefix(KvCache::bytes_per_token(model.kv_shape(o.kv_type)), o.prefix_cache_bytes),
        logits(size_t(o.n_parallel) * size_t(model.config().n_vocab)) {}

  ThreadPool pool;
  KvCache kv;
  ForwardContext ctx;
  Scheduler scheduler;
  PrefixCache prefix;
  std::vector<float> logits;  // [n_parallel][n_vocab]: at most one row per sequence per step
  int64_t steps = 0;
  std::deque<std::pair<Clock::time_point, int64_t>> sampled;  // (step end, tokens sampled)

  // Packs positions [0, n) of a slot into a prefix-cache blob: per token, every layer's k then v.
  std::vector<uint8_t> pack(int slot, int64_t n) const;
  void unpack(const std::vector<uint8_t>& blob, int slot, int64_t n);
};

}  // namespace moxie
