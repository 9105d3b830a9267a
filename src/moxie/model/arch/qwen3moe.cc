// Qwen3-MoE (HF Qwen3MoeForCausalLM), GGUF architecture "qwen3moe".
//   attention: GQA, no biases, RMSNorm per head on q and k ("only on the head dim") before
//              RoPE, NeoX pairs (the converter keeps HF's q/k rows as they are)
//   MLP:       softmax router over all experts, top-k, renormalised (norm_topk_prob, which
//              llama.cpp hard-codes on); no shared expert
#include <vector>

#include "moxie/model/arch/arch_model.h"
#include "moxie/model/config.h"
#include "moxie/model/layers/attention_gqa.h"
#include "moxie/model/layers/moe.h"
#include "moxie/model/layers/residual.h"
#include "moxie/model/layers/rope.h"
#include "moxie/model/weights.h"

namespace moxie {
namespace {

struct Qwen3MoeLayer {
  const float* attn_norm;
  GqaWeights attn;
  const float* ffn_norm;
  MoeWeights moe;
};

class Qwen3Moe final : public ArchModel {
 public:
  Qwen3Moe(const ModelConfig& c, WeightLoader& w) : config_(c), rope_(rope_params(c)), router_(router_params(c.moe)) {
    for (int64_t il = 0; il < c.n_layer; ++il) {
      layers_.push_back({w.vector(il, "attn_norm"), load_gqa_weights(w, il, {.qkv_bias = false, .qk_norm = true}),
                         w.vector(il, "ffn_norm"), load_moe_weights(w, il, {})});
    }
  }

  KvShape kv_shape() const override { return gqa_kv_shape(config_); }

  void layer(int64_t il, ForwardPass& p, float* h) const override {
    const Qwen3MoeLayer& l = layers_[size_t(il)];
    pre_norm_residual(p, il, "attn_out", l.attn_norm, h,
                      [&](const float* x, float* out) { attention_gqa(p, il, l.attn, rope_, x, out); });
    pre_norm_residual(p, il, "ffn_out", l.ffn_norm, h,
                      [&](const float* x, float* out) { moe_ffn(p, il, l.moe, router_, x, out); });
  }

 private:
  ModelConfig config_;
  kernels::RopeCache rope_;
  RouterParams router_;
  std::vector<Qwen3MoeLayer> layers_;
};

}  // namespace

std::unique_ptr<ArchModel> build_qwen3moe(const ModelConfig& c, WeightLoader& w) {
  return std::make_unique<Qwen3Moe>(c, w);
}

}  // namespace moxie
