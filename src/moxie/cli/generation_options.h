#pragma once
// Options and steps shared by the generation subcommands (run, chat): the model file and
// its memory handling, threads, context, and the sampling options that map onto
// SamplingParams.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "moxie/runtime/generate.h"
#include "moxie/runtime/kv_cache.h"
#include "moxie/runtime/sampler/sampler.h"

namespace CLI {
class App;
}

namespace moxie {
class LoadedModel;
}

namespace moxie::cli {

struct ModelArgs {
  std::string path;
  int threads = 0;      // 0: physical cores
  int64_t n_ctx = 0;    // 0: context_size() picks
  bool mlock = false;
  bool warmup = false;  // touch every weight page at load, with a progress bar
  bool repack = true;   // ModelOptions::repack
  std::string cache_type = "f16";  // --cache-type: KV cache elements, llama.cpp's default
  DType kv_type() const { return kv_type_from_name(cache_type); }
};

// llama.cpp's command-line defaults (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05), so
// the two engines sample alike out of the box.
inline SamplingParams cli_default_sampling() {
  SamplingParams p;
  p.temperature = 0.8f;
  p.top_k = 40;
  p.top_p = 0.95f;
  p.min_p = 0.05f;
  return p;
}

struct SamplingArgs {
  SamplingParams params = cli_default_sampling();
  int64_t n_predict = -1;  // -1: until an end token or a full context
  std::vector<std::string> stop;
  bool ignore_eos = false;
};

// -m/--model, -t/--threads (unless with_threads is false), -c/--ctx, --cache-type, --mlock,
// --warmup/--no-warmup (default as given).
void add_model_options(CLI::App& cmd, ModelArgs& a, bool warmup_default, bool with_threads = true);
// --cache-type f16|f32 into cache_type (serve adds it without the other model options).
void add_cache_type_option(CLI::App& cmd, std::string& cache_type);
// -n, --temp, --top-k, --top-p, --min-p, --repeat-penalty, --repeat-last-n,
// --presence-penalty, --frequency-penalty, --seed, --stop (repeatable), --ignore-eos, --json-mode.
void add_sampling_options(CLI::App& cmd, SamplingArgs& a);

int thread_count(int requested);  // requested, or the physical core count when 0
// -c when given, else the model's training context capped at 4096 tokens (llama.cpp's
// default): the f32 KV cache of a 128k-token context would not fit most machines.
int64_t context_size(const ModelArgs& a, const LoadedModel& m);
// Opens the model, warns when it is larger than RAM, then warms up and locks as asked.
LoadedModel load_model(const ModelArgs& a);
GenerateOptions make_generate_options(const SamplingArgs& a, const LoadedModel& m);
// "load 12.3 ms | prompt 20 tokens, 123.4 tokens/s | generation 50 tokens, 45.6 tokens/s"
void print_stats(std::FILE* out, double load_ms, const GenerateStats& s);

}  // namespace moxie::cli
