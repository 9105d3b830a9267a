#include "moxie/cli/generation_options.h"

#include <algorithm>

#include <CLI/CLI.hpp>

#include "moxie/cli/progress_bar.h"
#include "moxie/core/cpu_features.h"
#include "moxie/core/error.h"
#include "moxie/model/model.h"
#include "moxie/runtime/loaded_model.h"
#include "moxie/runtime/weights_residency.h"
#include "moxie/server/default_model.h"

namespace moxie::cli {

void add_cache_type_option(CLI::App& cmd, std::string& cache_type) {
  cmd.add_option("--cache-type", cache_type,
                 "KV cache element type: f16 (default, half the memory and bandwidth of f32), f32, or q8 "
                 "(int8 with one scale per head row: half of f16, for long contexts); "
                 "DeepSeek (MLA) models always keep an f32 latent cache")
      ->check(CLI::IsMember({"f16", "f32", "q8"}))
      ->capture_default_str();
}

void add_model_options(CLI::App& cmd, ModelArgs& a, bool warmup_default, bool with_threads) {
  a.warmup = warmup_default;
  a.path = server::default_model_path();  // the bundled demo model, as `moxie serve` uses
  cmd.add_option("-m,--model", a.path, std::string("GGUF model file (default: ") + server::kDefaultModelPath + ")");
  if (with_threads) {
    cmd.add_option("-t,--threads", a.threads, "threads (default: physical cores)")->check(CLI::NonNegativeNumber);
  }
  cmd.add_option("-c,--ctx", a.n_ctx, "context size in tokens (default: the training context, at most 4096)")
      ->check(CLI::NonNegativeNumber);
  add_cache_type_option(cmd, a.cache_type);
  cmd.add_flag("--repack,!--no-repack", a.repack,
               "copy Q4_K/Q8_0 matrices into the AVX-512 kernels' interleaved layout at load, when they fit in "
               "RAM (default: on; off keeps every weight in place in the file mapping)");
  cmd.add_flag("--mlock", a.mlock, "lock the weights in memory so they are never paged out");
  cmd.add_flag("--warmup,!--no-warmup", a.warmup,
               std::string("read every weight page at load, with a progress bar (default: ") +
                   (warmup_default ? "on" : "off") + ")");
}

void add_sampling_options(CLI::App& cmd, SamplingArgs& a) {
  SamplingParams& p = a.params;
  cmd.add_option("-n,--n-predict", a.n_predict, "tokens to generate (-1: until an end token or a full context)")
      ->capture_default_str();
  cmd.add_option("--temp", p.temperature, "temperature (0: greedy)")->capture_default_str();
  cmd.add_option("--top-k", p.top_k, "keep the k most likely tokens (0: off)")->capture_default_str();
  cmd.add_option("--top-p", p.top_p, "nucleus sampling: keep the smallest set with this probability (1: off)")
      ->capture_default_str();
  cmd.add_option("--min-p", p.min_p, "keep tokens at least this fraction as likely as the best (0: off)")
      ->capture_default_str();
  cmd.add_option("--repeat-penalty", p.repeat_penalty, "penalise repeated tokens (1: off)")->capture_default_str();
  cmd.add_option("--repeat-last-n", p.repeat_last_n, "tokens the penalties look back on (-1: all)")
      ->capture_default_str();
  cmd.add_option("--presence-penalty", p.presence_penalty, "subtracted once from every token seen")
      ->capture_default_str();
  cmd.add_option("--frequency-penalty", p.frequency_penalty, "subtracted per occurrence")->capture_default_str();
  cmd.add_option("-s,--seed", p.seed, "random seed")->capture_default_str();
  cmd.add_option("--stop", a.stop, "stop when the text contains this string (repeatable)")->allow_extra_args(false);
  cmd.add_flag("--ignore-eos", a.ignore_eos, "do not stop at the model's end tokens");
  cmd.add_flag("--json-mode", p.json_object, "answer with one JSON object (constrained decoding; stops when it closes)");
}

int thread_count(int requested) { return requested > 0 ? requested : physical_core_count(); }

int64_t context_size(const ModelArgs& a, const LoadedModel& m) {
  constexpr int64_t kDefaultContext = 4096;
  return a.n_ctx > 0 ? a.n_ctx : std::min(m.model().config().n_ctx_train, kDefaultContext);
}

LoadedModel load_model(const ModelArgs& a) {
  ModelOptions options;
  options.repack = a.repack;
  LoadedModel m = LoadedModel::load(a.path, options);
  const GgufFile& file = m.model().file();
  if (const std::string warning = memory_warning(file); !warning.empty()) {
    std::fprintf(stderr, "moxie: warning: %s\n", warning.c_str());
  }
  if (a.warmup && !memory_warning(file).empty()) {
    std::fprintf(stderr, "moxie: skipping the warmup: the weights do not fit in memory\n");
  } else if (a.warmup) {
    ProgressBar bar("loading weights");
    const double mib = 1024.0 * 1024.0;
    touch_weights(m.model(), [&](uint64_t done, uint64_t total) {
      char detail[64];
      std::snprintf(detail, sizeof detail, "%.0f / %.0f MiB", double(done) / mib, double(total) / mib);
      bar.update(total ? double(done) / double(total) : 1.0, detail);
    });
  }
  if (a.mlock) lock_weights(m.model());
  return m;
}

GenerateOptions make_generate_options(const SamplingArgs& a, const LoadedModel& m) {
  if (a.n_predict < -1) throw Error("-n/--n-predict must be -1 (no limit) or a token count, got " + std::to_string(a.n_predict));
  GenerateOptions o;
  o.sampling = a.params;
  o.max_tokens = a.n_predict;
  o.stop_strings = a.stop;
  if (!a.ignore_eos) o.stop_tokens = m.end_tokens();
  return o;
}

void print_stats(std::FILE* out, double load_ms, const GenerateStats& s) {
  std::fprintf(out, "load %.1f ms | prompt %lld tokens (%lld cached), %.1f tokens/s | generation %lld tokens, %.1f tokens/s\n",
               load_ms, (long long)s.n_prefilled, (long long)s.n_cached, s.prefill_tokens_per_s(),
               (long long)s.n_generated, s.decode_tokens_per_s());
}

}  // namespace moxie::cli
