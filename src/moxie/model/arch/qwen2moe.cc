// Qwen2-MoE (HF Qwen2MoeForCausalLM: Qwen1.5-MoE, Qwen2-57B-A14B), GGUF architecture "qwen2moe".
//   attention: GQA with q/k/v biases (o_proj without), RoPE NeoX pairs
//   MLP:       softmax router, top-k, NOT renormalised unless qwen2moe.expert_weights_norm
//              says so (HF norm_topk_prob defaults to false), plus a shared expert scaled per
//              token by sigmoid(shared_expert_gate x)
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

struct Qwen2MoeLayer {
  const float* attn_norm;
  GqaWeights attn;
  const float* ffn_norm;
  MoeWeights moe;
};

class Qwen2Moe final : public ArchModel {
 public:
  Qwen2Moe(const ModelConfig& c, WeightLoader& w) : config_(c), rope_(rope_params(c)), router_(router_params(c.moe)) {
    const bool shared = c.moe.n_ff_shexp > 0;
    const MoeFeatures moe{.shared_expert = shared, .shared_gate = shared};
    for (int64_t il = 0; il < c.n_layer; ++il) {
      layers_.push_back({w.vector(il, "attn_norm"), load_gqa_weights(w, il, {.qkv_bias = true, .qk_norm = false}),
                         w.vector(il, "ffn_norm"), load_moe_weights(w, il, moe)});
    }
  }

  KvShape kv_shape() const override { return gqa_kv_shape(config_); }

  void layer(int64_t il, ForwardPass& p, float* h) const override {
    const Qwen2MoeLayer& l = layers_[size_t(il)];
    pre_norm_residual(p, il, "attn_out", l.attn_norm, h,
                      [&](const float* x, float* out) { attention_gqa(p, il, l.attn, rope_, x, out); });
    pre_norm_residual(p, il, "ffn_out", l.ffn_norm, h,
                      [&](const float* x, float* out) { moe_ffn(p, il, l.moe, router_, x, out); });
  }

 private:
  ModelConfig config_;
  kernels::RopeCache rope_;
  RouterParams router_;
  std::vector<Qwen2MoeLayer> layers_;
};

}  // namespace

std::unique_ptr<ArchModel> build_qwen2moe(const ModelConfig& c, WeightLoader& w) {
  return std::make_unique<Qwen2Moe>(c, w);
}

}  // namespace moxie
