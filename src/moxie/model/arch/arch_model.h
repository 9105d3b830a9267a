#pragma once
// ArchModel: what one architecture contributes to a forward pass, its decoder layers.
// The embedding lookup, the final norm and the output head are the same for every
// architecture and live in Model. Each architecture is one file in this folder that loads
// its layer weights through WeightLoader and writes its layer like the HF modeling file,
// calling the shared layers (layers/) explicitly. registry.cc maps Arch -> builder.
#include <cstdint>
#include <memory>

#include "moxie/runtime/kv_cache.h"

namespace moxie {

struct ForwardPass;
struct ModelConfig;
class WeightLoader;

class ArchModel {
 public:
  virtual ~ArchModel() = default;
  // What this architecture's attention keeps per token per layer.
  virtual KvShape kv_shape() const = 0;
  // Decoder layer il over the pass's tokens: updates the residual stream h [n_tok][n_embd].
  virtual void layer(int64_t il, ForwardPass& p, float* h) const = 0;
};

using ArchBuilder = std::unique_ptr<ArchModel> (*)(const ModelConfig& config, WeightLoader& weights);

// The builder for config.arch; throws moxie::Error naming an architecture without a forward.
std::unique_ptr<ArchModel> build_arch_model(const ModelConfig& config, WeightLoader& weights);

// One per architecture file.
std::unique_ptr<ArchModel> build_llama(const ModelConfig& config, WeightLoader& weights);
std::unique_ptr<ArchModel> build_qwen2(const ModelConfig& config, WeightLoader& weights);
std::unique_ptr<ArchModel> build_qwen3(const ModelConfig& config, WeightLoader& weights);
std::unique_ptr<ArchModel> build_qwen2moe(const ModelConfig& config, WeightLoader& weights);
std::unique_ptr<ArchModel> build_qwen3moe(const ModelConfig& config, WeightLoader& weights);
std::unique_ptr<ArchModel> build_deepseek2(const ModelConfig& config, WeightLoader& weights);

}  // namespace moxie
