// moxie convert: a Hugging Face checkpoint folder -> GGUF.
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "moxie/cli/commands.h"
#include "moxie/cli/progress_bar.h"
#include "moxie/convert/converter.h"
#include "moxie/core/cpu_features.h"
#include "moxie/core/error.h"

namespace moxie::cli {

void register_convert(CLI::App& app) {
  auto* cmd = app.add_subcommand("convert", "Convert a Hugging Face safetensors checkpoint folder to GGUF");
  struct Args {
    std::string dir, out, type = "bf16";
    int threads = 0;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("HF_DIR", args->dir, "folder with config.json, tokenizer.json and *.safetensors")->required();
  cmd->add_option("-o,--output", args->out, "output .gguf file")->required();
  cmd->add_option("--type", args->type, "type of the weight matrices: f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k")
      ->capture_default_str();
  cmd->add_option("-t,--threads", args->threads, "threads (default: physical cores)");
  cmd->callback([args] {
    set_action([args] {
      convert::ConvertOptions o;
      o.hf_dir = args->dir;
      o.out_path = args->out;
      if (!dtype_from_name(args->type, &o.type)) throw Error("convert: unknown type \"" + args->type + "\"");
      o.n_threads = args->threads > 0 ? args->threads : physical_core_count();
      ProgressBar bar("convert");
      o.progress = [&bar](uint64_t done, uint64_t total, const std::string& tensor) {
        bar.update(total ? double(done) / double(total) : 1.0, tensor);
      };
      const convert::ConvertResult r = convert::convert_hf_to_gguf(o);
      bar.finish();
      for (const std::string& note : r.notes) std::fprintf(stderr, "note: %s\n", note.c_str());
      std::printf("wrote %s: %lld tensors, %s weights, %.1f MiB of tensor data\n", args->out.c_str(),
                  static_cast<long long>(r.n_tensors), args->type.c_str(), double(r.n_bytes) / (1 << 20));
      return 0;
    });
  });
}

}  // namespace moxie::cli
