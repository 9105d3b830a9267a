// Scalar reference of the decode attention kernel (api.h, AttentionArgs): the oracle the
// SIMD versions are tested against. Dots, softmax and the weighted sum of V run in double,
// head by head, straight from the definition.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "moxie/kernels/registry.h"

namespace moxie::kernels {
namespace {

double dot_double(const float* a, const float* b, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += double(a[i]) * double(b[i]);
  return s;
}

void attention_ref(const AttentionArgs& a) {
  const int64_t n_heads = a.n_kv * a.n_q;
  std::vector<double> p(size_t(a.n_pos));
  std::vector<double> o(size_t(a.dv));
  // Every head's output is computed before any is written: o may alias q.
  std::vector<float> out(size_t(n_heads * a.dv));
  for (int64_t i = 0; i < n_heads; ++i) {
    const int64_t g = i / a.n_q;  // kv head
    double max = -std::numeric_limits<double>::infinity();
    for (int64_t s = 0; s < a.n_pos; ++s) {
      double dot = dot_double(a.q + i * a.q_stride, a.k + s * a.k_stride + g * a.dk, a.dk);
      if (a.dk2 > 0) dot += dot_double(a.q2 + i * a.q2_stride, a.k2 + s * a.k2_stride + g * a.dk2, a.dk2);
      p[size_t(s)] = double(a.scale) * dot;
      max = std::max(max, p[size_t(s)]);
    }
    double sum = 0.0;
    for (double& x : p) sum += (x = std::exp(x - max));
    std::fill(o.begin(), o.end(), 0.0);
    for (int64_t s = 0; s < a.n_pos; ++s) {
      const float* v = a.v + s * a.v_stride + g * a.dv;
      for (int64_t d = 0; d < a.dv; ++d) o[size_t(d)] += p[size_t(s)] * double(v[d]);
    }
    for (int64_t d = 0; d < a.dv; ++d) out[size_t(i * a.dv + d)] = float(o[size_t(d)] / sum);
  }
  for (int64_t i = 0; i < n_heads; ++i) {
    for (int64_t d = 0; d < a.dv; ++d) a.o[i * a.o_stride + d] = out[size_t(i * a.dv + d)];
  }
}

}  // namespace

void register_attention_ref(KernelTable& t) { t.attention = attention_ref; }

}  // namespace moxie::kernels
