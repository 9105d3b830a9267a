// Qwen2 and Qwen2.5 dense (HF Qwen2ForCausalLM), GGUF architecture "qwen2".
//   attention: GQA with q/k/v biases (o_proj without), RoPE NeoX pairs
//   MLP:       SwiGLU
#include <vector>

#include "moxie/model/arch/arch_model.h"
#include "moxie/model/config.h"
#include "moxie/model/layers/attention_gqa.h"
#include "moxie/model/layers/ffn_swiglu.h"
#include "moxie/model/layers/residual.h"
#include "moxie/model/layers/rope.h"
#include "moxie/model/weights.h"

namespace moxie {
namespace {

struct Qwen2Layer {
  const float* attn_norm;
  GqaWeights attn;
  const float* ffn_norm;
  SwigluWeights mlp;
};

class Qwen2 final : public ArchModel {
 public:
  Qwen2(const ModelConfig& c, WeightLoader& w) : config_(c), rope_(rope_params(c)) {
    for (int64_t il = 0; il < c.n_layer; ++il) {
      layers_.push_back({w.vector(il, "attn_norm"), load_gqa_weights(w, il, {.qkv_bias = true, .qk_norm = false}),
                         w.vector(il, "ffn_norm"), load_swiglu_weights(w, il)});
    }
  }

  KvShape kv_shape() const override { return gqa_kv_shape(config_); }

  void layer(int64_t il, ForwardPass& p, float* h) const override {
    const Qwen2Layer& l = layers_[size_t(il)];
    pre_norm_residual(p, il, "attn_out", l.attn_norm, h,
                      [&](const float* x, float* out) { attention_gqa(p, il, l.attn, rope_, x, out); });
    pre_norm_residual(p, il, "ffn_out", l.ffn_norm, h,
                      [&](const float* x, float* out) { ffn_swiglu(p, l.mlp, x, p.n_tok, out); });
  }

 private:
  ModelConfig config_;
  kernels::RopeCache rope_;
  std::vector<Qwen2Layer> layers_;
};

}  // namespace

std::unique_ptr<ArchModel> build_qwen2(const ModelConfig& c, WeightLoader& w) { return std::make_unique<Qwen2>(c, w); }

}  // namespace moxie
