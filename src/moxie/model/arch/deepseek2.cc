// DeepSeek-V2 / V2-Lite / V3 (HF DeepseekV3ForCausalLM, deepseek-ai/DeepSeek-V3
// inference/model.py), GGUF architecture "deepseek2".
//   attention: multi-head latent attention in the absorbed form (layers/attention_mla.h): the
//              cache holds the normalised latent and the roped shared key per token; RoPE on
//              interleaved pairs (the converter keeps the checkpoint's order) with YaRN
//              frequencies, unit cos/sin magnitude and the mscale^2 softmax correction
//   MLP:       layers < leading_dense_block_count: dense SwiGLU (ffn_gate/up/down); the others:
//              routed experts + shared expert(s) (ffn_*_shexp, n_shared * moe_intermediate wide,
//              added without a gate). Router from the config:
//                V3: sigmoid scores, exp_probs_b.bias for selection only, groups scored by the
//                    sum of their top-2, renormalised, * routed_scaling_factor
//                V2: softmax scores, groups scored by their max, * routed_scaling_factor
// Refused with a message naming the feature: multi-token-prediction (nextn) layers and the
// legacy attn_kv_b tensor (config.cc already refuses files without key_length_mla).
#include <string>
#include <vector>

#include "moxie/core/error.h"
#include "moxie/gguf/reader.h"
#include "moxie/model/arch/arch_model.h"
#include "moxie/model/config.h"
#include "moxie/model/layers/attention_mla.h"
#include "moxie/model/layers/ffn_swiglu.h"
#include "moxie/model/layers/moe.h"
#include "moxie/model/layers/residual.h"
#include "moxie/model/tensor_specs.h"
#include "moxie/model/weights.h"

namespace moxie {
namespace {

struct Deepseek2Layer {
  const float* attn_norm;
  MlaWeights attn;
  const float* ffn_norm;
  bool sparse;           // routed experts instead of the dense MLP
  SwigluWeights dense;   // leading dense layers
  MoeWeights experts;    // the other layers
};

// Features this forward does not compute, found by their tensors so the error says what
// the file needs instead of naming the first unused tensor.
void refuse_unsupported(const GgufFile& f, const ModelConfig& c) {
  const std::string mtp_prefix = "blk." + std::to_string(c.n_layer) + ".";
  for (const GgufTensorInfo& t : f.tensors()) {
    const std::string_view name = t.name;
    if (name.substr(0, mtp_prefix.size()) == mtp_prefix || name.find(".nextn.") != std::string_view::npos) {
      throw Error(f.path() + ": tensor \"" + std::string(name) +
                  "\" belongs to a multi-token-prediction (MTP / nextn) layer, which moxie's deepseek2 forward "
                  "does not support; convert the model without its MTP layers");
    }
    if (name.find(".attn_kv_b.") != std::string_view::npos) {
      throw Error(f.path() + ": tensor \"" + std::string(name) +
                  "\" is the legacy joint kv_b projection; moxie's MLA needs the split attn_k_b/attn_v_b "
                  "tensors: re-convert the model with a current converter");
    }
  }
}

class Deepseek2 final : public ArchModel {
 public:
  Deepseek2(const ModelConfig& c, WeightLoader& w)
      : config_(c), rope_(mla_rope_params(c)), softmax_scale_(mla_softmax_scale(c)), router_(router_params(c.moe)) {
    refuse_unsupported(w.file(), c);
    const MoeFeatures moe{.shared_expert = c.moe.n_ff_shexp > 0,
                          .shared_gate = false,
                          .selection_bias = c.moe.gating == Gating::sigmoid};
    for (int64_t il = 0; il < c.n_layer; ++il) {
      Deepseek2Layer l{w.vector(il, "attn_norm"), load_mla_weights(w, c, il), w.vector(il, "ffn_norm"),
                       c.layer_is_moe(il), {}, {}};
      if (l.sparse) {
        l.experts = load_moe_weights(w, il, moe);
      } else {
        l.dense = load_swiglu_weights(w, il);
      }
      layers_.push_back(l);
    }
  }

  KvShape kv_shape() const override { return mla_kv_shape(config_); }

  void layer(int64_t il, ForwardPass& p, float* h) const override {
    const Deepseek2Layer& l = layers_[size_t(il)];
    pre_norm_residual(p, il, "attn_out", l.attn_norm, h, [&](const float* x, float* out) {
      attention_mla(p, il, l.attn, rope_, softmax_scale_, x, out);
    });
    pre_norm_residual(p, il, "ffn_out", l.ffn_norm, h, [&](const float* x, float* out) {
      if (l.sparse) {
        moe_ffn(p, il, l.experts, router_, x, out);
      } else {
        ffn_swiglu(p, l.dense, x, p.n_tok, out);
      }
    });
  }

 private:
  ModelConfig config_;
  kernels::RopeCache rope_;
  float softmax_scale_;
  RouterParams router_;
  std::vector<Deepseek2Layer> layers_;
};

}  // namespace

std::unique_ptr<ArchModel> build_deepseek2(const ModelConfig& c, WeightLoader& w) {
  return std::make_unique<Deepseek2>(c, w);
}

}  // namespace moxie
