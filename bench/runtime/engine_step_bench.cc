// What one decode step of B sequences costs inside `moxie serve`, without HTTP, split in
// two: the batched forward pass alone (weights, attention, the output matrix), and the
// whole Engine (scheduler, forward, sampling every sequence, detokenizing, pushing events).
// Their difference is the engine's per-step overhead; load.mjs's figures minus the Engine's
// are the HTTP/SSE side.
//
//   MOXIE_BENCH_GGUF=/tmp/perf-serve/q4k-2l.gguf MOXIE_BENCH_THREADS=2 build/bench/engine_step_bench
//
// Counters: ms_per_step, tokens_per_s (B tokens per step). The Engine runs B streaming
// requests of a 16-token prompt and 64 answer tokens at temperature 1 (the OpenAI
// default, as load.mjs sends), timed from every stream's first token to the last.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "moxie/core/thread_pool.h"
#include "moxie/model/batch.h"
#include "moxie/model/forward_pass.h"
#include "moxie/model/model.h"
#include "moxie/runtime/engine.h"
#include "moxie/runtime/kv_cache.h"
#include "moxie/runtime/loaded_model.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kPrompt = 16, kAnswer = 64, kCtx = 512;

const moxie::LoadedModel* model() {
  static std::unique_ptr<moxie::LoadedModel> m = [] {
    std::unique_ptr<moxie::LoadedModel> loaded;
    if (const char* path = std::getenv("MOXIE_BENCH_GGUF"))
      loaded = std::make_unique<moxie::LoadedModel>(moxie::LoadedModel::load(path));
    return loaded;
  }();
  return m.get();
}

int threads() {
  const char* t = std::getenv("MOXIE_BENCH_THREADS");
  return t ? std::atoi(t) : 2;
}

std::vector<int32_t> prompt_of(int64_t seq) {
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < kPrompt; ++i) ids.push_back(int32_t(100 + (seq * 31 + i * 7) % 2000));
  return ids;
}

void set_counters(benchmark::State& state, int64_t batch, double seconds, int64_t steps) {
  state.counters["ms_per_step"] = benchmark::Counter(1e3 * seconds / double(steps));
  state.counters["tokens_per_s"] = benchmark::Counter(double(batch * steps) / seconds);
}

// One forward pass over B decode tokens, each continuing its own sequence's cache.
void BM_ForwardDecode(benchmark::State& state) {
  const moxie::LoadedModel* m = model();
  if (!m) return state.SkipWithError("set MOXIE_BENCH_GGUF to a model file");
  const int64_t batch = state.range(0);
  moxie::ThreadPool pool(threads());
  moxie::ForwardContext ctx(pool);
  moxie::KvCache kv = m->model().make_kv_cache(batch, kCtx);
  std::vector<float> logits(size_t(batch * m->model().config().n_vocab));
  moxie::Batch prefill;
  for (int64_t s = 0; s < batch; ++s) prefill.add_sequence(prompt_of(s), int32_t(s), 0, false);
  m->model().forward(prefill, kv, ctx, logits.data());
  int64_t pos = kPrompt, steps = 0;
  double seconds = 0;
  for (auto _ : state) {
    if (pos == kCtx) {  // rewind every sequence to its prompt
      for (int64_t s = 0; s < batch; ++s) kv.truncate(s, kPrompt);
      pos = kPrompt;
    }
    moxie::Batch step;
    for (int64_t s = 0; s < batch; ++s) step.add(int32_t(200 + (pos * 13 + s) % 2000), int32_t(s), pos, true);
    const auto t0 = Clock::now();
    m->model().forward(step, kv, ctx, logits.data());
    seconds += std::chrono::duration<double>(Clock::now() - t0).count();
    ++pos;
    ++steps;
  }
  set_counters(state, batch, seconds, steps);
}

// B streaming requests through the Engine; the timed part is decode only.
void BM_EngineDecode(benchmark::State& state) {
  const moxie::LoadedModel* m = model();
  if (!m) return state.SkipWithError("set MOXIE_BENCH_GGUF to a model file");
  const int64_t batch = state.range(0);
  moxie::EngineOptions options;
  options.n_parallel = int(batch);
  options.n_ctx = kCtx;
  options.n_threads = threads();
  options.prefix_cache_bytes = 0;
  moxie::Engine engine(m->model(), m->tokenizer(), options);
  double seconds = 0;
  int64_t steps = 0;
  for (auto _ : state) {
    std::vector<std::shared_ptr<moxie::RequestStream>> streams;
    for (int64_t s = 0; s < batch; ++s) {
      moxie::GenerationJob job;
      job.prompt = prompt_of(s);
      job.max_tokens = kAnswer;
      job.sampling.seed = uint64_t(s);
      streams.push_back(engine.submit(std::move(job)));
    }
    std::vector<int> first(size_t(batch), 0), done(size_t(batch), 0);
    int64_t n_first = 0, n_done = 0, steps0 = 0;
    Clock::time_point t0;
    while (n_done < batch) {
      for (int64_t s = 0; s < batch; ++s) {
        moxie::StreamEvent ev;
        if (done[size_t(s)] || !streams[size_t(s)]->pop(&ev, std::chrono::microseconds(200))) continue;
        if (!first[size_t(s)] && !ev.tokens.empty()) {
          first[size_t(s)] = 1;
          if (++n_first == batch) {  // every prompt is in: decode starts
            t0 = Clock::now();
            steps0 = engine.stats().steps;
          }
        }
        if (ev.final) {
          done[size_t(s)] = 1;
          ++n_done;
        }
      }
    }
    seconds += std::chrono::duration<double>(Clock::now() - t0).count();
    steps += engine.stats().steps - steps0;
  }
  set_counters(state, batch, seconds, steps);
}

BENCHMARK(BM_ForwardDecode)->Arg(1)->Arg(8)->Arg(32)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_EngineDecode)->Arg(1)->Arg(8)->Arg(32)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
