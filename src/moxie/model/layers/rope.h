#pragma once
// RoPE as the model config describes it, applied to the heads of a batch's rows.
#include <cstdint>

#include "moxie/kernels/rope_cache.h"

namespace moxie {

struct ForwardPass;
struct ModelConfig;

// The cos/sin table parameters of a config. attn_factor multiplies cos and sin: 1 for
// HF's generic YaRN (the table then carries 1 + 0.1 ln(factor) itself); DeepSeek passes
// kernels::deepseek_yarn_attn_factor(...).
kernels::RopeParams rope_params(const ModelConfig& c, double attn_factor = 1.0);

// Rotates, for every token t of the pass, the first n_rot dims of n_heads heads at
// x + t * row_stride + h * head_stride (floats), at the token's position.
void apply_rope(ForwardPass& p, const kernels::RopeCache& rope, float* x, int64_t n_heads, int64_t head_stride,
                int64_t row_stride);

}  // namespace moxie
