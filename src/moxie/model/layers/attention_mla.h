#pragma once
// DeepSeek-V2/V3 multi-head latent attention (MLA), in the absorbed form that caches only
// the compressed latent and the shared roped key per token (kv_cache.h's MLA layout):
//
//   q        = q_b(rmsnorm(q_a x) * q_a_norm)   or  attn_q x (V2-Lite)   [n_tok][H][nope + rope]
//   [c ; kpe] = kv_a_mqa x                                                [n_tok][kv_lora + rope]
//   c        = rmsnorm(c) * kv_a_norm           kpe is NOT normalised
//   q_pe, kpe = rope(q_pe), rope(kpe)           interleaved pairs, YaRN frequencies
//   cache[seq][pos] = (c, kpe)                  k row = latent, v row = roped key
//   q_abs_h  = W_UK[h]^T q_nope_h               attn_k_b, GGUF {nope, kv_lora, H}   [kv_lora]
//   p_h      = softmax_s((q_abs_h . c_s + q_pe_h . kpe_s) * softmax_scale)   s in [0, pos]
//   o_lat_h  = sum_s p_h[s] c_s                                                       [kv_lora]
//   o_h      = W_UV[h] o_lat_h                  attn_v_b, GGUF {kv_lora, v_head, H}   [v_head]
//   out      = attn_output(concat_h o_h)
//
// This equals HF's naive form (k_nope_h = W_UK[h] c, v_h = W_UV[h] c) by associativity; the
// scale stays 1/sqrt(nope + rope), never 1/sqrt(kv_lora + rope). A sequence with many new
// tokens (a prefill) attends in that naive, "decompressed" form instead: per cached position
// k_nope and v are computed once per head, and the attention itself is 3.4x smaller
// (attention_mla_parts.h says how the form is chosen). The cache is the same for both.
#include <cstdint>
#include <memory>

#include "moxie/core/tensor.h"
#include "moxie/kernels/rope_cache.h"
#include "moxie/runtime/kv_cache.h"

namespace moxie {

struct ForwardPass;
struct ModelConfig;
class WeightLoader;

struct MlaWeights {
  TensorView q_a;                    // [n_embd -> q_lora]; no data when there is no q LoRA
  const float* q_a_norm = nullptr;   // [q_lora]
  TensorView q_b;                    // [q_lora -> H * (nope + rope)]
  TensorView q;                      // [n_embd -> H * (nope + rope)], V2-Lite only
  TensorView kv_a_mqa;               // [n_embd -> kv_lora + rope]
  const float* kv_a_norm = nullptr;  // [kv_lora]
  TensorView k_b;                    // [H][kv_lora][nope]: head h maps q_nope -> q_abs
  TensorView v_b;                    // [H][v_head][kv_lora]: head h maps o_lat -> o
  TensorView k_b_t;                  // [H][nope][kv_lora]: k_b transposed at load, maps c -> k_nope
  std::shared_ptr<const void> k_b_t_memory;  // k_b_t's data unless it was repacked
  TensorView o;                      // [H * v_head -> n_embd]
};

// Which form a sequence's new tokens attend in. automatic (the default) weighs their costs per
// sequence; the others force one form for every sequence (tests, A/B benchmarks). Process-wide;
// the environment variable MOXIE_MLA_FORM=auto|absorbed|decompressed sets the initial value.
enum class MlaForm { automatic, absorbed, decompressed };
void set_mla_form(MlaForm form);
MlaForm mla_form();

// Loads q_a/q_a_norm/q_b when config.mla.q_lora_rank > 0, else attn_q.
MlaWeights load_mla_weights(WeightLoader& w, const ModelConfig& c, int64_t il);

// Per token per layer: k = kv_lora_rank floats (the latent), v = qk_rope floats (the key).
KvShape mla_kv_shape(const ModelConfig& c);

// The RoPE table DeepSeek uses: YaRN frequencies with unit cos/sin magnitude (HF's
// attention_factor mscale / mscale_all_dim is 1; llama.cpp cancels ggml's built-in factor too).
kernels::RopeParams mla_rope_params(const ModelConfig& c);

// mscale^2 / sqrt(qk_nope + qk_rope), mscale = 1 + 0.1 * mscale_all_dim * ln(factor) under YaRN
// (mscale_all_dim = rope.scaling.yarn_log_multiplier / 0.1, as the converter stores it), else 1.
float mla_softmax_scale(const ModelConfig& c);

// out [n_tok][n_embd] for x [n_tok][n_embd], the normed input of layer il. Appends every
// token's latent and roped key to its sequence's cache slots before attending.
void attention_mla(ForwardPass& p, int64_t il, const MlaWeights& w, const kernels::RopeCache& rope,
                   float softmax_scale, const float* x, float* out);

}  // namespace moxie
