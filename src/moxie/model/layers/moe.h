#pragma once
// Mixture-of-experts feed-forward with expert batching:
//
//   logits  = x Wr^T                                   [n_tok][n_expert], one matmul
//   ids, w  = route_tokens(logits)                     top-k experts and weights per token
//   group the (token, slot) pairs by expert, then for each expert that has tokens:
//     gather its tokens' rows -> SwiGLU expert (gate/up share converted activations)
//     -> out[t] += w[t, slot] * y                      weighted scatter-add
//   out    += shared expert(x)  [* sigmoid(x . w_sg) for Qwen2-MoE]
//
// Each selected expert runs once per batch over all its tokens; unselected experts'
// weights are never read (so their pages are never faulted in).
#include <cstdint>

#include "moxie/core/tensor.h"
#include "moxie/model/layers/ffn_swiglu.h"
#include "moxie/model/layers/router.h"

namespace moxie {

struct ForwardPass;
class WeightLoader;

struct MoeFeatures {
  bool shared_expert = false;   // ffn_{gate,up,down}_shexp
  bool shared_gate = false;     // ffn_gate_inp_shexp (Qwen2-MoE's sigmoid gate)
  bool selection_bias = false;  // exp_probs_b.bias (DeepSeek-V3's e_score_correction_bias)
};

struct MoeWeights {
  TensorView router;                      // ffn_gate_inp [n_embd -> n_expert]
  const float* selection_bias = nullptr;  // [n_expert], selection only, never the weights
  TensorView gate_exps, up_exps;          // [n_expert][n_ff_exp][n_embd]
  TensorView down_exps;                   // [n_expert][n_embd][n_ff_exp]
  bool has_shared = false;
  SwigluWeights shared;
  const float* shared_gate = nullptr;     // [n_embd]
};

MoeWeights load_moe_weights(WeightLoader& w, int64_t il, const MoeFeatures& features);

// out [n_tok][n_embd] for x [n_tok][n_embd], the normed input of layer il. Counts expert hits
// into the context's ExpertStats when one is attached.
void moe_ffn(ForwardPass& p, int64_t il, const MoeWeights& w, const RouterParams& router, const float* x, float* out);

}  // namespace moxie
