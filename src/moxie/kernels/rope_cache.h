#pragma once
// RoPE (cos, sin) tables: the angles and magnitudes the `rope` kernel (api.h) applies.
//
// For one position `pos`, pair i < n_rot/2 is rotated by the angle pos * inv_freq[i], with
//   inv_freq[i] = freq_base^(-2i / n_rot)                               (no scaling)
//   inv_freq[i] = freq_base^(-2i / n_rot) / factor                      (linear)
//   inv_freq[i] = mix of the two above per YaRN (below)                 (yarn)
// and cos and sin are both multiplied by `magnitude()`. The semantics are ggml's
// (ggml_rope_ext / rope_yarn), computed in double and rounded to float once.
//
// YaRN (Peng et al. 2023), as ggml implements it:
//   corr(b)  = n_rot * ln(n_ctx_orig / (2*pi*b)) / (2 * ln freq_base)
//   low      = max(0, floor(corr(beta_fast))), high = min(n_rot - 1, ceil(corr(beta_slow)))
//              (clamped to n_rot - 1, not n_rot/2 - 1, as both ggml and HF do)
//   ramp[i]  = (1 - clamp((i - low) / max(0.001, high - low), 0, 1)) * ext_factor
//   inv_freq = base_freq / factor * (1 - ramp[i]) + base_freq * ramp[i]
//              (pairs below `low` keep their frequency, pairs above `high` are interpolated)
//   magnitude = attn_factor * (1 + 0.1 * ln(factor))   when ext_factor != 0, else attn_factor
//
// Who applies which YaRN scale (the split that is easy to get wrong):
//   - HF's generic YaRN (Qwen) multiplies cos/sin by 1 + 0.1 ln(factor): pass attn_factor = 1.
//   - HF's DeepseekV3YarnRotaryEmbedding multiplies cos/sin by
//     yarn_mscale(factor, mscale) / yarn_mscale(factor, mscale_all_dim) (1.0 for V3): pass
//     attn_factor = deepseek_yarn_attn_factor(...), which cancels the built-in 1 + 0.1 ln(factor)
//     (llama.cpp's deepseek2 graph does the same).
//   - DeepSeek's softmax scale correction, 1/sqrt(qk_head_dim) * yarn_mscale(factor,
//     mscale_all_dim)^2, belongs to the attention layer and is NOT applied here.
//
// Not covered (no target model uses them): per-dim frequency factors (llama3 / LongRoPE
// rope_freqs tensors) and HF's YaRN `truncate = false` (unrounded correction dims).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace moxie::kernels {

enum class RopeScalingType { none, linear, yarn };

struct RopeScaling {
  RopeScalingType type = RopeScalingType::none;
  float factor = 1.0f;       // context extension s (linear, yarn): frequencies divided by s
  int64_t n_ctx_orig = 0;    // yarn: original_max_position_embeddings (tokens)
  float beta_fast = 32.0f;   // yarn: rotations per context above which pairs extrapolate
  float beta_slow = 1.0f;    // yarn: rotations per context below which pairs interpolate
  float ext_factor = 1.0f;   // yarn: weight of the extrapolation ramp (ggml's ext_factor)
  float attn_factor = 1.0f;  // multiplies cos and sin (every type)
};

struct RopeParams {
  int64_t n_rot = 0;          // rotated dims per head; even
  float freq_base = 10000.0f; // rope_theta
  RopeScaling scaling;
};

// yarn_get_mscale of HF: 1 + 0.1 * mscale * ln(factor) for factor > 1, else 1.
double yarn_mscale(double factor, double mscale = 1.0);

// attn_factor that makes this cache's YaRN magnitude equal HF DeepseekV3YarnRotaryEmbedding's
// yarn_mscale(factor, mscale) / yarn_mscale(factor, mscale_all_dim).
double deepseek_yarn_attn_factor(double factor, double mscale, double mscale_all_dim);

struct YarnCorrectionDims {
  double low = 0.0, high = 0.0;  // pair indices, already floored/ceiled and clamped
};
YarnCorrectionDims yarn_correction_dims(int64_t n_rot, int64_t n_ctx_orig, double freq_base,
                                        double beta_fast, double beta_slow);

class RopeCache {
 public:
  // Validates the parameters; throws moxie::Error naming the bad field.
  explicit RopeCache(const RopeParams& params);

  int64_t n_rot() const { return n_rot_; }
  // Writes n_rot/2 interleaved pairs: cos_sin[2i] = m*cos(pos*inv_freq[i]),
  // cos_sin[2i+1] = m*sin(pos*inv_freq[i]), m = magnitude(). Negative pos rotates backwards.
  void fill(int64_t pos, float* cos_sin) const;
  // Radians per position of pair i (i < n_rot/2), after scaling.
  double inv_freq(int64_t i) const { return inv_freq_[static_cast<std::size_t>(i)]; }
  double magnitude() const { return magnitude_; }

 private:
  int64_t n_rot_ = 0;
  std::vector<double> inv_freq_;  // [n_rot/2]
  double magnitude_ = 1.0;
};

}  // namespace moxie::kernels
