// Scalar reference of the element-wise kernels: the oracle the SIMD versions are tested
// against. Plain loops, accumulating in double wherever that makes the answer more exact.
// Never optimise this file.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "moxie/core/half.h"
#include "moxie/kernels/registry.h"

namespace moxie::kernels {
namespace {

void rmsnorm_ref(const float* x, const float* w, float* y, int64_t n, float eps) {
  double sum_sq = 0.0;
  for (int64_t i = 0; i < n; ++i) sum_sq += double(x[i]) * double(x[i]);
  const double scale = 1.0 / std::sqrt(sum_sq / double(n) + double(eps));
  for (int64_t i = 0; i < n; ++i) {
    const double weight = w ? double(w[i]) : 1.0;
    y[i] = float(double(x[i]) * scale * weight);
  }
}

// An all -inf row (a fully masked attention row) has no mass to share out: it becomes all
// zeros rather than NaN. The SIMD versions do the same.
void softmax_ref(float* x, int64_t n) {
  double max = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) max = std::max(max, double(x[i]));
  if (max == -std::numeric_limits<double>::infinity()) {
    for (int64_t i = 0; i < n; ++i) x[i] = 0.0f;
    return;
  }
  std::vector<double> e(static_cast<size_t>(n));
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    e[size_t(i)] = std::exp(double(x[i]) - max);
    sum += e[size_t(i)];
  }
  for (int64_t i = 0; i < n; ++i) x[i] = float(e[size_t(i)] / sum);
}

double silu_double(double x) { return x / (1.0 + std::exp(-x)); }

void silu_ref(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = float(silu_double(double(x[i])));
}

void swiglu_ref(const float* gate, const float* up, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = float(silu_double(double(gate[i])) * double(up[i]));
}

void add_ref(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void mul_ref(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}

void axpy_ref(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = float(double(y[i]) + double(a) * double(x[i]));
}

float dot_f32_ref(const float* a, const float* b, int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += double(a[i]) * double(b[i]);
  return float(sum);
}

// Rotates (x[lo], x[hi]) by the angle whose (cos, sin) are given.
void rotate_pair(float* x, int64_t lo, int64_t hi, double c, double s) {
  const double a = x[lo], b = x[hi];
  x[lo] = float(a * c - b * s);
  x[hi] = float(a * s + b * c);
}

void rope_ref(float* x, int64_t n_heads, int64_t head_stride, int64_t n_rot, const float* cos_sin,
              RopeMode mode) {
  const int64_t half = n_rot / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* head = x + h * head_stride;
    for (int64_t i = 0; i < half; ++i) {
      const double c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
      if (mode == RopeMode::normal) {
        rotate_pair(head, 2 * i, 2 * i + 1, c, s);
      } else {
        rotate_pair(head, i, i + half, c, s);
      }
    }
  }
}

// Index of the first element equal to the largest non-NaN value; 0 when every element is NaN.
int64_t argmax_ref(const float* x, int64_t n) {
  int64_t best = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(x[i])) continue;
    if (best < 0 || x[i] > x[best]) best = i;
  }
  return best < 0 ? 0 : best;
}

// The k first indices in the order "larger value first, lower index first on ties", with
// NaN ranked below every number (so a NaN never displaces a real logit).
void topk_ref(const float* x, int64_t n, int64_t k, int32_t* idx) {
  std::vector<int32_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[size_t(i)] = int32_t(i);
  auto ranks_before = [x](int32_t a, int32_t b) {
    const bool a_nan = std::isnan(x[a]), b_nan = std::isnan(x[b]);
    if (a_nan != b_nan) return b_nan;
    if (!a_nan && x[a] != x[b]) return x[a] > x[b];
    return a < b;
  };
  std::partial_sort(order.begin(), order.begin() + k, order.end(), ranks_before);
  for (int64_t j = 0; j < k; ++j) idx[j] = order[size_t(j)];
}

void to_f16_ref(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_fp16(x[i]);
}

}  // namespace

void register_elementwise_ref(KernelTable& t) {
  t.rmsnorm = rmsnorm_ref;
  t.softmax = softmax_ref;
  t.silu = silu_ref;
  t.swiglu = swiglu_ref;
  t.add = add_ref;
  t.mul = mul_ref;
  t.axpy = axpy_ref;
  t.dot_f32 = dot_f32_ref;
  t.rope = rope_ref;
  t.argmax = argmax_ref;
  t.topk = topk_ref;
  t.to_f16 = to_f16_ref;
}

}  // namespace moxie::kernels
