// Scalar reference of the decode attention kernel (api.h, AttentionArgs): the oracle the
// SIMD versions are tested against. Dots, softmax and the weighted sum of V run in double,
// head by head, straight from the definition; F16 cached rows are widened exactly.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "moxie/core/half.h"
#include "moxie/kernels/registry.h"

namespace moxie::kernels {
namespace {

// Element i of a cached row of kv_type elements (F16 widened exactly).
double cached(DType kv_type, const void* row, int64_t i) {
  if (kv_type == DType::F16) return double(fp16_to_fp32(static_cast<const uint16_t*>(row)[i]));
  return double(static_cast<const float*>(row)[i]);
}

// The address of element i of a cached buffer of kv_type elements.
const void* offset(DType kv_type, const void* base, int64_t i) {
  return static_cast<const char*>(base) + row_bytes(kv_type, i);
}

double dot_double(const float* q, DType kv_type, const void* k, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += double(q[i]) * cached(kv_type, k, i);
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
      double dot = dot_double(a.q + i * a.q_stride, a.kv_type, offset(a.kv_type, a.k, s * a.k_stride + g * a.dk), a.dk);
      if (a.dk2 > 0) {
        dot += dot_double(a.q2 + i * a.q2_stride, a.kv_type, offset(a.kv_type, a.k2, s * a.k2_stride + g * a.dk2), a.dk2);
      }
      p[size_t(s)] = double(a.scale) * dot;
      max = std::max(max, p[size_t(s)]);
    }
    double sum = 0.0;
    for (double& x : p) sum += (x = std::exp(x - max));
    std::fill(o.begin(), o.end(), 0.0);
    for (int64_t s = 0; s < a.n_pos; ++s) {
      const void* v = offset(a.kv_type, a.v, s * a.v_stride + g * a.dv);
      for (int64_t d = 0; d < a.dv; ++d) o[size_t(d)] += p[size_t(s)] * cached(a.kv_type, v, d);
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
