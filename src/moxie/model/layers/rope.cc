#include "moxie/model/layers/rope.h"

#include "moxie/kernels/api.h"
#include "moxie/model/config.h"
#include "moxie/model/forward_pass.h"

namespace moxie {

kernels::RopeParams rope_params(const ModelConfig& c, double attn_factor) {
  kernels::RopeParams r;
  r.n_rot = c.rope.n_rot;
  r.freq_base = c.rope.freq_base;
  r.scaling.factor = c.rope.factor;
  r.scaling.attn_factor = float(attn_factor);
  switch (c.rope.scaling) {
    case RopeScaling::none: r.scaling.type = kernels::RopeScalingType::none; break;
    case RopeScaling::linear: r.scaling.type = kernels::RopeScalingType::linear; break;
    case RopeScaling::yarn:
      r.scaling.type = kernels::RopeScalingType::yarn;
      r.scaling.n_ctx_orig = c.rope.n_ctx_orig;
      r.scaling.beta_fast = c.rope.yarn_beta_fast;
      r.scaling.beta_slow = c.rope.yarn_beta_slow;
      r.scaling.ext_factor = 1.0f;
      break;
  }
  return r;
}

void apply_rope(ForwardPass& p, const kernels::RopeCache& rope, float* x, int64_t n_heads, int64_t head_stride,
                int64_t row_stride) {
  const float* table = p.rope_table(rope);
  const int64_t n_rot = rope.n_rot();
  for (int64_t t = 0; t < p.n_tok; ++t) {
    p.kt.rope(x + t * row_stride, n_heads, head_stride, n_rot, table + t * n_rot, p.config.rope.mode);
  }
}

}  // namespace moxie
