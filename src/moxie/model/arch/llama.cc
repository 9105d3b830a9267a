// Llama (HF LlamaForCausalLM) and Mixtral-style llama with experts (HF
// MixtralForCausalLM), both GGUF architecture "llama".
//   attention: GQA, no biases. RoPE with consecutive pairs (2i, 2i+1): HF rotates halves,
//              but llama.cpp's converter permutes each head's q/k rows so that the stored
//              weights rotate in consecutive pairs, which gives the same q.k.
//   MLP:       SwiGLU, or (llama.expert_count > 0) a softmax router, top-k, renormalised
//              (Mixtral's routing_weights /= sum), no shared expert.
#include <vector>

#include "moxie/model/arch/arch_model.h"
#include "moxie/model/config.h"
#include "moxie/model/layers/attention_gqa.h"
#include "moxie/model/layers/ffn_swiglu.h"
#include "moxie/model/layers/moe.h"
#include "moxie/model/layers/residual.h"
#include "moxie/model/layers/rope.h"
#include "moxie/model/weights.h"

namespace moxie {
namespace {

struct LlamaLayer {
  const float* attn_norm;
  GqaWeights attn;
  const float* ffn_norm;
  bool sparse;        // Mixtral: routed experts instead of the dense MLP
  SwigluWeights mlp;  // dense layers
  MoeWeights moe;     // sparse layers
};

class Llama final : public ArchModel {
 public:
  Llama(const ModelConfig& c, WeightLoader& w) : config_(c), rope_(rope_params(c)) {
    if (c.is_moe()) router_ = router_params(c.moe);
    for (int64_t il = 0; il < c.n_layer; ++il) {
      LlamaLayer l{w.vector(il, "attn_norm"), load_gqa_weights(w, il, {}), w.vector(il, "ffn_norm"),
                   c.layer_is_moe(il), {}, {}};
      if (l.sparse) {
        l.moe = load_moe_weights(w, il, {});
      } else {
        l.mlp = load_swiglu_weights(w, il);
      }
      layers_.push_back(l);
    }
  }

  KvShape kv_shape() const override { return gqa_kv_shape(config_); }

  void layer(int64_t il, ForwardPass& p, float* h) const override {
    const LlamaLayer& l = layers_[size_t(il)];
    pre_norm_residual(p, il, "attn_out", l.attn_norm, h,
                      [&](const float* x, float* out) { attention_gqa(p, il, l.attn, rope_, x, out); });
    pre_norm_residual(p, il, "ffn_out", l.ffn_norm, h, [&](const float* x, float* out) {
      if (l.sparse) {
        moe_ffn(p, il, l.moe, router_, x, out);
      } else {
        ffn_swiglu(p, l.mlp, x, p.n_tok, out);
      }
    });
  }

 private:
  ModelConfig config_;
  kernels::RopeCache rope_;
  RouterParams router_;
  std::vector<LlamaLayer> layers_;
};

}  // namespace

std::unique_ptr<ArchModel> build_llama(const ModelConfig& c, WeightLoader& w) { return std::make_unique<Llama>(c, w); }

}  // namespace moxie
