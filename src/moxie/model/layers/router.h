#pragma once
// The MoE router: which experts each token uses and with what weight. One algorithm covers
// Mixtral, Qwen2-MoE, Qwen3-MoE, DeepSeek-V2 and DeepSeek-V3:
//
//   probs     = softmax(logits) | sigmoid(logits)        over all experts
//   selection = probs + selection_bias                   (V3's e_score_correction_bias)
//   groups    : score each group (V3: sum of its top-2 selection scores; V2: its max), keep the
//               best n_group_used groups, exclude the rest
//   experts   = top-k of selection                       (lower index first on ties)
//   weights   = probs[experts]                           the bias never reaches the weights
//   weights  /= sum(weights)                             if norm_topk
//   weights  *= weights_scale                            routed_scaling_factor
//
// llama.cpp scores V2's groups by top-2 sum too; we follow the HF/DeepSeek code (max).
#include <cstdint>

#include "moxie/model/config.h"

namespace moxie {

struct RouterParams {
  int64_t n_expert = 0;
  int64_t k = 0;  // experts per token
  Gating gating = Gating::softmax;
  bool norm_topk = false;
  float weights_scale = 1.0f;
  int64_t n_group = 1;
  int64_t n_group_used = 1;
  bool group_score_top2 = false;  // true: sum of the top-2 scores (V3); false: max (V2)
};

RouterParams router_params(const MoeConfig& moe);

// logits [n_tok][n_expert] -> expert ids [n_tok][k] and weights [n_tok][k].
// selection_bias [n_expert] may be nullptr.
void route_tokens(const RouterParams& p, const float* logits, int64_t n_tok, const float* selection_bias,
                  int32_t* ids, float* weights);

}  // namespace moxie
