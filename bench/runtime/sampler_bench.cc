// Cost of one Sampler::sample call on a Qwen3-sized vocabulary (151,936 logits), for the
// sampling settings a server sees: the OpenAI default (temperature 1, nothing truncated),
// top-p, top-k, min-p, greedy, and with top_logprobs. The engine samples every sequence of
// a batch after each decode step, so this cost is paid once per generated token.
//
// Two logit distributions: "flat" (standard normal: a random-weight synth model, where
// top-p keeps most of the vocabulary) and "peaked" (normal with sigma 4: a trained model,
// where a few hundred tokens hold nearly all the mass).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "moxie/runtime/sampler/sampler.h"

namespace {

constexpr int32_t kVocab = 151936;

std::vector<float> logits_with_sigma(float sigma) {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> logits(static_cast<size_t>(kVocab));
  for (float& l : logits) l = normal(rng);
  return logits;
}

void BM_Sample(benchmark::State& state, moxie::SamplingParams params, float sigma) {
  const std::vector<float> logits = logits_with_sigma(sigma);
  std::vector<int32_t> history(64);
  for (size_t i = 0; i < history.size(); ++i) history[i] = int32_t(i * 997 % kVocab);
  params.seed = 7;
  moxie::Sampler sampler(params, kVocab);
  for (auto _ : state) benchmark::DoNotOptimize(sampler.sample(logits, history).token);
  state.counters["tokens_per_s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}

moxie::SamplingParams with(void (*edit)(moxie::SamplingParams&)) {
  moxie::SamplingParams p;
  edit(p);
  return p;
}

const auto kDefault = moxie::SamplingParams{};
const auto kGreedy = with([](moxie::SamplingParams& p) { p.temperature = 0; });
const auto kTopP = with([](moxie::SamplingParams& p) { p.top_p = 0.9f; });
const auto kTopK = with([](moxie::SamplingParams& p) { p.top_k = 40; });
const auto kMinP = with([](moxie::SamplingParams& p) { p.min_p = 0.05f; });
const auto kChain = with([](moxie::SamplingParams& p) {
  p.temperature = 0.7f;
  p.top_k = 40;
  p.top_p = 0.95f;
  p.repeat_penalty = 1.1f;
});
const auto kLogprobs = with([](moxie::SamplingParams& p) { p.n_top_logprobs = 5; });

#define SAMPLE_CASE(name, params)                                                                     \
  BENCHMARK_CAPTURE(BM_Sample, name##_flat, params, 1.0f)->Unit(benchmark::kMicrosecond)->MinTime(0.3); \
  BENCHMARK_CAPTURE(BM_Sample, name##_peaked, params, 4.0f)->Unit(benchmark::kMicrosecond)->MinTime(0.3)

SAMPLE_CASE(default_t1, kDefault);
SAMPLE_CASE(greedy, kGreedy);
SAMPLE_CASE(top_p_0_9, kTopP);
SAMPLE_CASE(top_k_40, kTopK);
SAMPLE_CASE(min_p_0_05, kMinP);
SAMPLE_CASE(chain_t0_7_k40_p0_95_rep1_1, kChain);
SAMPLE_CASE(top_logprobs_5, kLogprobs);

}  // namespace

BENCHMARK_MAIN();
