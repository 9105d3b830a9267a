// moxie bench -m FILE.gguf [-p 512[,1024]] [-n 128] [-d 0[,4096]] [-t 2[,4]] [-r 5] [-o md|csv|json]
// Prompt processing (ppP: prefill P tokens, in the engine's chunks) and token generation
// (tgN: N one-token decode steps) in tokens/s, mean and sample standard deviation over -r
// repetitions after one warm-up run, in llama-bench's table layout so the figures line up
// with llama.cpp's. Prompts are random token ids. With -d D the cache first holds D tokens
// (an untimed prefill, made once and truncated back to before every run, as llama-bench
// restores its saved depth state); the test is then named "tg128 @ d4096".
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "moxie/cli/commands.h"
#include "moxie/cli/generation_options.h"
#include "moxie/core/dtype.h"
#include "moxie/core/error.h"
#include "moxie/core/thread_pool.h"
#include "moxie/gguf/reader.h"
#include "moxie/model/model.h"
#include "moxie/runtime/generate.h"
#include "moxie/runtime/loaded_model.h"
#include "moxie/runtime/weights_residency.h"

namespace moxie::cli {
namespace {

struct BenchArgs {
  ModelArgs model;
  std::vector<int64_t> n_prompt{512}, n_gen{128}, n_depth{0};
  std::vector<int> threads;
  int reps = 5;
  std::string output = "md";
  bool warmup_run = true;
};

struct BenchTest {
  int threads = 1;
  int64_t n_prompt = 0, n_gen = 0;  // one of them is 0
  int64_t n_depth = 0;              // tokens already cached when the timed part starts
  std::vector<double> samples_ts;   // tokens/s per repetition
  std::string name() const {
    std::string n = n_prompt > 0 ? "pp" + std::to_string(n_prompt) : "tg" + std::to_string(n_gen);
    return n_depth > 0 ? n + " @ d" + std::to_string(n_depth) : n;
  }
  double mean() const;
  double stddev() const;  // sample standard deviation (n - 1), 0 for one sample
};

double BenchTest::mean() const {
  double s = 0;
  for (double v : samples_ts) s += v;
  return samples_ts.empty() ? 0 : s / double(samples_ts.size());
}

double BenchTest::stddev() const {
  if (samples_ts.size() < 2) return 0;
  const double m = mean();
  double s = 0;
  for (double v : samples_ts) s += (v - m) * (v - m);
  return std::sqrt(s / double(samples_ts.size() - 1));
}

struct ModelInfo {
  std::string description;  // "qwen3moe 0.5M F32"
  uint64_t size_bytes = 0;
  uint64_t n_params = 0;
  std::string cache_type;   // of the KV cache the tests ran with ("f16", "q8"; an MLA model's is "f32")
};

std::string count_label(double n) {
  char buf[32];
  if (n >= 1e9) std::snprintf(buf, sizeof buf, "%.2f B", n / 1e9);
  else std::snprintf(buf, sizeof buf, "%.2f M", n / 1e6);
  return buf;
}

std::string size_label(uint64_t bytes) {
  char buf[32];
  const double mib = double(bytes) / (1024.0 * 1024.0);
  if (mib >= 1024) std::snprintf(buf, sizeof buf, "%.2f GiB", mib / 1024.0);
  else std::snprintf(buf, sizeof buf, "%.2f MiB", mib);
  return buf;
}

// The type that holds most of the weight bytes names the file, as llama-bench's ftype does.
ModelInfo model_info(const Model& model, DType kv_type) {
  ModelInfo info;
  info.cache_type = kv_type_name(model.kv_shape(kv_type).type);
  std::vector<uint64_t> bytes_by_type(64, 0);
  std::vector<std::string> type_names(64);
  for (const GgufTensorInfo& t : model.file().tensors()) {
    info.size_bytes += t.n_bytes;
    info.n_params += uint64_t(t.n_elements());
    const size_t k = size_t(t.type) % bytes_by_type.size();
    bytes_by_type[k] += t.n_bytes;
    type_names[k] = std::string(dtype_name(t.type));
  }
  size_t main_type = 0;
  for (size_t k = 0; k < bytes_by_type.size(); ++k) {
    if (bytes_by_type[k] > bytes_by_type[main_type]) main_type = k;
  }
  std::string params = count_label(double(info.n_params));
  params.erase(params.find(' '), 1);  // "0.52M"
  info.description = std::string(arch_name(model.config().arch)) + " " + params + " " + type_names[main_type];
  return info;
}

std::vector<int32_t> random_ids(int64_t n, int64_t n_vocab, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> token(0, int32_t(n_vocab - 1));
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int32_t& id : ids) id = token(rng);
  return ids;
}

// Brings gen's cache to test.n_depth random tokens, untimed. A cache already filled to that
// depth (by the previous test) is truncated back to it instead of being refilled.
void fill_depth(Generator& gen, const BenchTest& test, int64_t n_vocab, std::mt19937& rng, int64_t* filled_depth) {
  if (*filled_depth == test.n_depth && int64_t(gen.cached_tokens().size()) >= test.n_depth) {
    gen.truncate(test.n_depth);
    return;
  }
  gen.reset();
  if (test.n_depth > 0) gen.prefill(random_ids(test.n_depth, n_vocab, rng));
  *filled_depth = test.n_depth;
}

// One repetition: tokens/s of a prefill of n_prompt tokens or of n_gen decode steps, after
// test.n_depth cached tokens.
double run_once(Generator& gen, const BenchTest& test, int64_t n_vocab, std::mt19937& rng, int64_t* filled_depth) {
  const int64_t n = test.n_prompt > 0 ? test.n_prompt : test.n_gen;
  const std::vector<int32_t> ids = random_ids(n, n_vocab, rng);
  fill_depth(gen, test, n_vocab, rng, filled_depth);
  const auto t0 = std::chrono::steady_clock::now();
  if (test.n_prompt > 0) {
    gen.prefill(ids);
  } else {
    for (int32_t id : ids) gen.decode(id);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return double(n) / s;
}

// llama-bench's table shows the cache types only when they are not its default (f16).
bool shows_cache_type(const ModelInfo& info) { return info.cache_type != "f16"; }

void print_md_header(const ModelInfo& info) {
  const bool cache = shows_cache_type(info);
  std::printf("| %-30s | %10s | %10s | %-10s | %7s |%s %15s | %20s |\n", "model", "size", "params", "backend", "threads",
              cache ? " type_k | type_v |" : "", "test", "t/s");
  std::printf("| %s | %s: | %s: | %s | %s: |%s %s: | %s: |\n", std::string(30, '-').c_str(),
              std::string(9, '-').c_str(), std::string(9, '-').c_str(), std::string(10, '-').c_str(),
              std::string(6, '-').c_str(), cache ? " ------ | ------ |" : "", std::string(14, '-').c_str(),
              std::string(19, '-').c_str());
}

void print_row(const std::string& format, const ModelInfo& info, const BenchTest& t) {
  if (format == "md") {
    char ts[64], cache[64] = "";
    std::snprintf(ts, sizeof ts, "%.2f ± %.2f", t.mean(), t.stddev());
    if (shows_cache_type(info)) {
      std::snprintf(cache, sizeof cache, " %6s | %6s |", info.cache_type.c_str(), info.cache_type.c_str());
    }
    std::printf("| %-30s | %10s | %10s | %-10s | %7d |%s %15s | %20s |\n", info.description.c_str(),
                size_label(info.size_bytes).c_str(), count_label(double(info.n_params)).c_str(), "CPU", t.threads,
                cache, t.name().c_str(), ts);
  } else if (format == "csv") {
    std::printf("\"%s\",%llu,%llu,CPU,%d,%lld,%lld,%lld,%s,%s,\"%s\",%.6f,%.6f\n", info.description.c_str(),
                (unsigned long long)info.size_bytes, (unsigned long long)info.n_params, t.threads,
                (long long)t.n_prompt, (long long)t.n_gen, (long long)t.n_depth, info.cache_type.c_str(),
                info.cache_type.c_str(), t.name().c_str(), t.mean(), t.stddev());
  }
  std::fflush(stdout);
}

void print_json(const ModelInfo& info, const std::vector<BenchTest>& tests) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const BenchTest& t : tests) {
    out.push_back({{"model_type", info.description}, {"model_size", info.size_bytes}, {"model_n_params", info.n_params},
                   {"backend", "CPU"}, {"n_threads", t.threads}, {"n_prompt", t.n_prompt}, {"n_gen", t.n_gen},
                   {"n_depth", t.n_depth}, {"type_k", info.cache_type}, {"type_v", info.cache_type},
                   {"test", t.name()}, {"avg_ts", t.mean()}, {"stddev_ts", t.stddev()}, {"samples_ts", t.samples_ts}});
  }
  std::printf("%s\n", out.dump(2).c_str());
}

std::vector<BenchTest> plan_tests(const BenchArgs& a) {
  std::vector<int> threads = a.threads;
  if (threads.empty()) threads.push_back(thread_count(0));
  std::vector<BenchTest> tests;
  for (int t : threads) {
    if (t < 1) throw Error("bench: -t/--threads values must be at least 1, got " + std::to_string(t));
    for (int64_t d : a.n_depth) {  // llama-bench's order: threads, then depth, then pp and tg tests
      if (d < 0) throw Error("bench: -d/--n-depth values must be >= 0, got " + std::to_string(d));
      for (int64_t p : a.n_prompt) {
        if (p < 0) throw Error("bench: -p values must be >= 0, got " + std::to_string(p));
        if (p > 0) tests.push_back({t, p, 0, d, {}});
      }
      for (int64_t n : a.n_gen) {
        if (n < 0) throw Error("bench: -n values must be >= 0, got " + std::to_string(n));
        if (n > 0) tests.push_back({t, 0, n, d, {}});
      }
    }
  }
  if (tests.empty()) throw Error("bench: nothing to run (all -p and -n values are 0)");
  return tests;
}

int run_bench(const BenchArgs& a) {
  if (a.output != "md" && a.output != "csv" && a.output != "json") {
    throw Error("bench: -o/--output must be md, csv or json, got \"" + a.output + "\"");
  }
  if (a.reps < 1) throw Error("bench: -r/--repetitions must be at least 1, got " + std::to_string(a.reps));
  std::vector<BenchTest> tests = plan_tests(a);
  int64_t n_ctx = a.model.n_ctx;
  for (const BenchTest& t : tests) n_ctx = std::max(n_ctx, t.n_depth + std::max(t.n_prompt, t.n_gen));
  LoadedModel m = load_model(a.model);
  const ModelInfo info = model_info(m.model(), a.model.kv_type());
  const int64_t n_vocab = m.model().config().n_vocab;
  std::mt19937 rng(1234);
  if (a.output == "md") print_md_header(info);
  if (a.output == "csv") {
    std::printf(
        "model_type,model_size,model_n_params,backend,n_threads,n_prompt,n_gen,n_depth,type_k,type_v,test,avg_ts,"
        "stddev_ts\n");
  }
  // One pool and generator per thread count, so tests at the same depth share one fill.
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<Generator> gen;
  int64_t filled_depth = -1;
  for (BenchTest& t : tests) {
    if (!pool || pool->size() != t.threads) {
      gen.reset();
      pool = std::make_unique<ThreadPool>(t.threads);
      gen = std::make_unique<Generator>(m.model(), m.tokenizer(), *pool, n_ctx, 512, a.model.kv_type());
      filled_depth = -1;
    }
    if (a.warmup_run) run_once(*gen, t, n_vocab, rng, &filled_depth);
    for (int r = 0; r < a.reps; ++r) t.samples_ts.push_back(run_once(*gen, t, n_vocab, rng, &filled_depth));
    print_row(a.output, info, t);
  }
  if (a.output == "json") print_json(info, tests);
  return 0;
}

}  // namespace

void register_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Measure prompt processing and generation speed (llama-bench's table)");
  auto args = std::make_shared<BenchArgs>();
  add_model_options(*cmd, args->model, false, false);
  cmd->add_option("-p,--n-prompt", args->n_prompt, "prompt lengths to prefill (comma-separated, repeatable; 0: none)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("-n,--n-gen", args->n_gen, "tokens to generate (comma-separated, repeatable; 0: none)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("-d,--n-depth", args->n_depth,
                  "tokens already in the cache before each test (comma-separated, repeatable; untimed prefill)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("-t,--threads", args->threads, "threads (comma-separated, repeatable; default: physical cores)")
      ->delimiter(',');
  cmd->add_option("-r,--repetitions", args->reps, "repetitions of each test")->capture_default_str();
  cmd->add_option("-o,--output", args->output, "md, csv or json")->capture_default_str();
  cmd->add_flag("!--no-warmup-run", args->warmup_run, "skip the unmeasured warm-up run of each test");
  cmd->callback([args] { set_action([args] { return run_bench(*args); }); });
}

}  // namespace moxie::cli
