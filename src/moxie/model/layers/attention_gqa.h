#pragma once
// Grouped-query attention over the KV cache (llama, Qwen2/3, their MoE variants):
//
//   q = x Wq^T (+ bq), k = x Wk^T (+ bk), v = x Wv^T (+ bv)      one matmul each, all tokens
//   q, k = rmsnorm per head (Qwen3's q_norm/k_norm)             optional
//   q, k = rope(q, k) at each token's position
//   cache[seq][pos] = (k, v)                                      for every token first, then
//   o_h  = softmax(q_h . K_kvh^T / sqrt(head_dim_k)) V_kvh        over the sequence's slots
//                                                                 [0, pos]: causal by position
//   out  = o Wo^T
//
// Query head h reads KV head h / (n_head / n_head_kv) (HF repeat_kv).
#include <cstdint>

#include "moxie/core/tensor.h"
#include "moxie/kernels/rope_cache.h"
#include "moxie/runtime/kv_cache.h"

namespace moxie {

struct ForwardPass;
struct ModelConfig;
class WeightLoader;

struct GqaFeatures {
  bool qkv_bias = false;  // Qwen2, Qwen2-MoE
  bool qk_norm = false;   // Qwen3, Qwen3-MoE
};

struct GqaWeights {
  TensorView q, k, v, o;  // [n_embd -> n_head * dk], [-> n_kv * dk], [-> n_kv * dv], [n_head * dv -> n_embd]
  const float* q_bias = nullptr;  // [n_head * dk]
  const float* k_bias = nullptr;  // [n_kv * dk]
  const float* v_bias = nullptr;  // [n_kv * dv]
  const float* q_norm = nullptr;  // [dk]
  const float* k_norm = nullptr;  // [dk]
};

GqaWeights load_gqa_weights(WeightLoader& w, int64_t il, const GqaFeatures& features);

// Per token per layer: k = n_head_kv * head_dim_k floats, v = n_head_kv * head_dim_v floats.
KvShape gqa_kv_shape(const ModelConfig& c);

// out [n_tok][n_embd] for the pass's tokens, x [n_tok][n_embd] the normed input of layer il.
void attention_gqa(ForwardPass& p, int64_t il, const GqaWeights& w, const kernels::RopeCache& rope, const float* x,
                   float* out);

}  // namespace moxie
