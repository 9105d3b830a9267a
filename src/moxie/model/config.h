#pragma once
// ModelConfig: the one validated source of every number a forward pass uses, read from
// GGUF metadata with the keys llama.cpp's converter writes. Loading fails with the key's
// name when a value is missing or out of range, or names the architecture or feature
// moxie does not support.
#include <cstdint>
#include <string>

#include "moxie/kernels/api.h"

namespace moxie {

class GgufFile;

enum class Arch { llama, qwen2, qwen3, qwen2moe, qwen3moe, deepseek2 };
const char* arch_name(Arch a);
bool arch_from_name(std::string_view name, Arch* out);

enum class Gating { softmax, sigmoid };
enum class RopeScaling { none, linear, yarn };

struct RopeConfig {
  float freq_base = 10000.0f;
  int64_t n_rot = 0;  // rotated dims per head
  kernels::RopeMode mode = kernels::RopeMode::normal;
  RopeScaling scaling = RopeScaling::none;
  float factor = 1.0f;            // context extension factor (freq_scale = 1 / factor)
  int64_t n_ctx_orig = 0;         // YaRN: original training context
  float yarn_beta_fast = 32.0f;
  float yarn_beta_slow = 1.0f;
  float yarn_log_multiplier = 0;  // DeepSeek: 0.1 * mscale_all_dim (the softmax-scale correction)
};

struct MoeConfig {
  int64_t n_expert = 0;       // 0: dense model
  int64_t n_expert_used = 0;  // top-k
  int64_t n_ff_exp = 0;       // hidden size of one routed expert
  int64_t n_expert_shared = 0;
  int64_t n_ff_shexp = 0;     // hidden size of the shared expert(s), all together
  Gating gating = Gating::softmax;
  bool norm_topk = false;     // renormalise the selected weights to sum 1
  float weights_scale = 1.0f; // routed_scaling_factor
  int64_t n_group = 1;        // group-limited selection: groups ...
  int64_t n_group_used = 1;   // ... and how many groups may be used
  int64_t n_leading_dense = 0;  // the first layers use a dense FFN
};

struct MlaConfig {
  int64_t q_lora_rank = 0;   // 0: plain q projection (V2-Lite)
  int64_t kv_lora_rank = 0;  // compressed latent per token
  int64_t qk_nope = 0;       // non-rotated part of each q/k head
  int64_t qk_rope = 0;       // rotated part (shared k_pe)
  int64_t v_head = 0;
};

struct ModelConfig {
  Arch arch = Arch::llama;
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_ctx_train = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim_k = 0;  // per-head q/k size (MLA: qk_nope + qk_rope)
  int64_t head_dim_v = 0;
  int64_t n_ff = 0;        // dense FFN hidden size (leading dense layers, dense models)
  float rms_eps = 1e-6f;
  bool qk_norm = false;    // per-head RMSNorm on q and k (Qwen3)
  RopeConfig rope;
  MoeConfig moe;
  MlaConfig mla;

  bool is_moe() const { return moe.n_expert > 0; }
  bool is_mla() const { return mla.kv_lora_rank > 0; }
  bool layer_is_moe(int64_t il) const { return is_moe() && il >= moe.n_leading_dense; }
  // KV cache bytes per token per layer at f32: MLA keeps the latent and the rope key only.
  int64_t kv_floats_per_token_layer() const;
};

// Reads and validates the config. Throws moxie::Error naming the file and key.
ModelConfig read_model_config(const GgufFile& file);

}  // namespace moxie
