// moxie synth: write a synthetic model of a given architecture (tests and benchmarks).
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "moxie/cli/commands.h"
#include "moxie/core/cpu_features.h"
#include "moxie/core/error.h"
#include "moxie/model/synth.h"

namespace moxie::cli {

void register_synth(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth", "Write a GGUF model with random weights and a real tokenizer");
  struct Args {
    std::string arch = "qwen3moe", preset = "tiny", type = "f32", out;
    uint64_t seed = 1;
    int64_t layers = 0, vocab = 0;
    int threads = 0;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("--arch", args->arch, "qwen3moe, qwen2moe, deepseek2, llama, qwen2, qwen3")->capture_default_str();
  cmd->add_option("--preset", args->preset, "tiny, small, or a real model's layer shapes (30b-a3b, a2.7b, v3)")
      ->capture_default_str();
  cmd->add_option("--type", args->type, "type of the weight matrices: f32, f16, bf16, q8_0, q4_k, ...")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "random seed")->capture_default_str();
  cmd->add_option("--layers", args->layers, "number of layers (default: the preset's)");
  cmd->add_option("--vocab", args->vocab, "vocabulary size (default: the preset's)");
  cmd->add_option("-t,--threads", args->threads, "threads (default: physical cores)");
  cmd->add_option("-o,--output", args->out, "output .gguf file")->required();
  cmd->callback([args] {
    set_action([args] {
      SynthOptions o;
      if (!arch_from_name(args->arch, &o.arch)) throw Error("synth: unknown architecture \"" + args->arch + "\"");
      if (!dtype_from_name(args->type, &o.type)) throw Error("synth: unknown type \"" + args->type + "\"");
      o.preset = args->preset;
      o.seed = args->seed;
      o.n_layer = args->layers;
      o.n_vocab = args->vocab;
      o.n_threads = args->threads > 0 ? args->threads : physical_core_count();
      const uint64_t bytes = write_synth_model(o, args->out);
      std::printf("wrote %s: %s preset %s, %s weights, %.1f MiB of tensor data\n", args->out.c_str(),
                  args->arch.c_str(), args->preset.c_str(), args->type.c_str(), double(bytes) / (1 << 20));
      return 0;
    });
  });
}

}  // namespace moxie::cli
