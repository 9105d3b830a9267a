#pragma once
// The pre-norm residual step every decoder layer is made of:
//   h += block(rmsnorm(h) * norm_weight)
// traced as `name` (attn_out / ffn_out, as the numpy reference names them).
#include <cstdint>

#include "moxie/model/forward_pass.h"
#include "moxie/model/layers/linear.h"

namespace moxie {

// block(const float* x_normed [n_tok][n_embd], float* out [n_tok][n_embd])
template <class Block>
void pre_norm_residual(ForwardPass& p, int64_t il, const char* name, const float* norm_weight, float* h,
                       Block&& block) {
  const int64_t n_embd = p.config.n_embd;
  float* x = p.ws().get(Buf::normed, p.n_tok * n_embd);
  float* out = p.ws().get(Buf::block_out, p.n_tok * n_embd);
  rms_norm_rows(p, h, norm_weight, x, p.n_tok, n_embd);
  block(static_cast<const float*>(x), out);
  p.trace(name, il, out, n_embd);
  add_rows(p, h, out, p.n_tok, n_embd);
}

}  // namespace moxie
