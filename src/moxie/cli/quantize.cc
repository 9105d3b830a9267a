// moxie quantize: rewrite a GGUF model with a quantization recipe (q4_k_m, q8_0, ...).
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "moxie/cli/commands.h"
#include "moxie/cli/progress_bar.h"
#include "moxie/core/cpu_features.h"
#include "moxie/quantize/quantizer.h"
#include "moxie/quantize/recipe.h"

namespace moxie::cli {

void register_quantize(CLI::App& app) {
  auto* cmd = app.add_subcommand("quantize", "Quantize a GGUF model with a mixed recipe");
  struct Args {
    std::string in, out, type;
    int threads = 0;
    bool allow_requantize = false;
  };
  auto args = std::make_shared<Args>();
  std::string names;
  for (const std::string& n : quantize::recipe_names()) names += (names.empty() ? "" : ", ") + n;
  cmd->add_option("IN", args->in, "input .gguf")->required();
  cmd->add_option("OUT", args->out, "output .gguf")->required();
  cmd->add_option("TYPE", args->type, "recipe: " + names)->required();
  cmd->add_option("-t,--threads", args->threads, "threads (default: physical cores)");
  cmd->add_flag("--allow-requantize", args->allow_requantize, "quantize tensors that are already quantized");
  cmd->callback([args] {
    set_action([args] {
      quantize::QuantizeOptions o;
      o.in_path = args->in;
      o.out_path = args->out;
      o.recipe = args->type;
      o.allow_requantize = args->allow_requantize;
      o.n_threads = args->threads > 0 ? args->threads : physical_core_count();
      ProgressBar bar("quantize");
      o.progress = [&bar](uint64_t done, uint64_t total, const std::string& tensor) {
        bar.update(total ? double(done) / double(total) : 1.0, tensor);
      };
      const quantize::QuantizeResult r = quantize::quantize_gguf(o);
      bar.finish();
      std::string mix;
      for (const auto& [type, n] : r.tensors_per_type) {
        mix += (mix.empty() ? "" : ", ") + std::to_string(n) + " " + std::string(dtype_name(type));
      }
      std::printf("wrote %s: %lld tensors (%s), %.1f MiB -> %.1f MiB\n", args->out.c_str(),
                  static_cast<long long>(r.n_tensors), mix.c_str(), double(r.in_bytes) / (1 << 20),
                  double(r.out_bytes) / (1 << 20));
      return 0;
    });
  });
}

}  // namespace moxie::cli
