#include "moxie/model/layers/linear.h"

#include "moxie/kernels/api.h"
#include "moxie/kernels/matmul.h"
#include "moxie/model/forward_pass.h"

namespace moxie {

void linear(ForwardPass& p, const TensorView& w, const float* x, int64_t n_rows, float* y, const float* bias) {
  if (n_rows == 0) return;
  kernels::matmul(p.kt, w, x, n_rows, y, p.pool(), &p.scratch());
  if (bias) add_bias_rows(p, y, bias, n_rows, w.ne[1]);
}

void linear_shared_input(ForwardPass& p, std::initializer_list<Projection> projections, const float* x,
                         int64_t n_rows) {
  if (n_rows == 0) return;
  kernels::PackedActivations packed;
  bool have_packed = false;
  for (const Projection& pr : projections) {
    if (!have_packed || packed.type != p.kt.weights[uint32_t(pr.w.type)].act_type) {
      packed = kernels::pack_activations(p.kt, pr.w.type, x, n_rows, pr.w.ne[0], p.pool(), p.scratch());
      have_packed = true;
    }
    kernels::matmul_packed(p.kt, pr.w, packed, pr.y, pr.w.ne[1], p.pool());
    if (pr.bias) add_bias_rows(p, pr.y, pr.bias, n_rows, pr.w.ne[1]);
  }
}

void rms_norm_rows(ForwardPass& p, const float* x, const float* w, float* y, int64_t n_rows, int64_t n) {
  for (int64_t r = 0; r < n_rows; ++r) p.kt.rmsnorm(x + r * n, w, y + r * n, n, p.config.rms_eps);
}

void add_rows(ForwardPass& p, float* h, const float* d, int64_t n_rows, int64_t n) {
  p.kt.add(h, d, h, n_rows * n);
}

void add_bias_rows(ForwardPass& p, float* y, const float* bias, int64_t n_rows, int64_t n) {
  for (int64_t r = 0; r < n_rows; ++r) p.kt.add(y + r * n, bias, y + r * n, n);
}

}  // namespace moxie
