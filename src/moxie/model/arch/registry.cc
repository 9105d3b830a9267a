// Arch -> builder. A new architecture is one file in arch/ plus one line here.
#include <string>

#include "moxie/core/error.h"
#include "moxie/model/arch/arch_model.h"
#include "moxie/model/config.h"

namespace moxie {
namespace {

struct ArchEntry {
  Arch arch;
  ArchBuilder build;
};

constexpr ArchEntry kArchBuilders[] = {
    {Arch::llama, build_llama},       {Arch::qwen2, build_qwen2},       {Arch::qwen3, build_qwen3},
    {Arch::qwen2moe, build_qwen2moe}, {Arch::qwen3moe, build_qwen3moe},
    {Arch::deepseek2, build_deepseek2},
};

}  // namespace

std::unique_ptr<ArchModel> build_arch_model(const ModelConfig& config, WeightLoader& weights) {
  std::string have;
  for (const ArchEntry& e : kArchBuilders) {
    if (e.arch == config.arch) return e.build(config, weights);
    have += (have.empty() ? "" : ", ") + std::string(arch_name(e.arch));
  }
  throw Error(std::string("architecture \"") + arch_name(config.arch) +
              "\" has no forward pass in moxie yet (available: " + have + ")");
}

}  // namespace moxie
