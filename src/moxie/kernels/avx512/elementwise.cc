// AVX-512 element-wise kernels (16 floats per register). Same contracts as the scalar
// reference in ref/elementwise.cc; tails use masked loads/stores so every element takes the
// same arithmetic path. RoPE lives in avx512/rope.cc.
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_ps() and trip false uninitialised
// warnings (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <stdint.h>

#include "moxie/kernels/registry.h"
#include "moxie/kernels/avx512/lanes.h"
#include "moxie/kernels/avx512/exp16.h"

namespace moxie::kernels {

// Defined in avx512/rope.cc (a plain, non-inline function: safe to share between the files).
void rope_avx512(float* x, int64_t n_heads, int64_t head_stride, int64_t n_rot,
                 const float* cos_sin, RopeMode mode);

namespace {

constexpr int64_t kLanes = 16;


// x / (1 + e^-x): one rounding fewer than multiplying by a sigmoid.
__m512 silu16(__m512 x) {
  const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), x));
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

// Sum of squares in double, as the reference: squares of any float neither overflow nor
// underflow, and the sum's rounding error stays far below float precision for any n.
void rmsnorm_avx512(const float* x, const float* w, float* y, int64_t n, float eps) {
  __m512d acc[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()};
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m512 v = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    const __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
    acc[0] = _mm512_fmadd_pd(lo, lo, acc[0]);
    acc[1] = _mm512_fmadd_pd(hi, hi, acc[1]);
  }
  const double mean = _mm512_reduce_add_pd(_mm512_add_pd(acc[0], acc[1])) / double(n) + double(eps);
  const double root = _mm_cvtsd_f64(_mm_sqrt_sd(_mm_setzero_pd(), _mm_set_sd(mean)));
  const __m512 scale = _mm512_set1_ps(float(1.0 / root));
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = tail_mask(n - i);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), scale);
    if (w) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + i));
    _mm512_mask_storeu_ps(y + i, m, v);
  }
}

// The largest non-NaN element, -inf when there is none. max_ps returns its second operand
// when one is NaN, so a NaN in x leaves the running max unchanged (as std::max in the ref).
float max_ignoring_nan(const float* x, int64_t n) {
  const __m512 neg_inf = _mm512_set1_ps(-__builtin_inff());
  __m512 vmax[4] = {neg_inf, neg_inf, neg_inf, neg_inf};
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    for (int j = 0; j < 4; ++j) vmax[j] = _mm512_max_ps(_mm512_loadu_ps(x + i + j * kLanes), vmax[j]);
  }
  for (; i < n; i += kLanes) {
    vmax[0] = _mm512_max_ps(_mm512_mask_loadu_ps(neg_inf, tail_mask(n - i), x + i), vmax[0]);
  }
  return _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(vmax[0], vmax[1]), _mm512_max_ps(vmax[2], vmax[3])));
}

void softmax_avx512(float* x, int64_t n) {
  const float max = max_ignoring_nan(x, n);
  if (max == -__builtin_inff()) {  // fully masked row: zeros, like the reference
    for (int64_t i = 0; i < n; ++i) x[i] = 0.0f;
    return;
  }
  const __m512 inv = _mm512_set1_ps(1.0f / exp_shifted_sum(x, n, max));
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv));
  }
}

void silu_avx512(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, silu16(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

void swiglu_avx512(const float* gate, const float* up, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 g = _mm512_maskz_loadu_ps(m, gate + i), u = _mm512_maskz_loadu_ps(m, up + i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(silu16(g), u));
  }
}

void add_avx512(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
  }
}

void mul_avx512(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
  }
}

void axpy_avx512(float a, const float* x, float* y, int64_t n) {
  const __m512 va = _mm512_set1_ps(a);
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 r = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i));
    _mm512_mask_storeu_ps(y + i, m, r);
  }
}

float dot_f32_avx512(const float* a, const float* b, int64_t n) {
  // Four independent accumulators hide the FMA latency.
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    for (int j = 0; j < 4; ++j) {
      const int64_t o = i + j * kLanes;
      acc[j] = _mm512_fmadd_ps(_mm512_loadu_ps(a + o), _mm512_loadu_ps(b + o), acc[j]);
    }
  }
  for (; i < n; i += kLanes) {
    const __mmask16 m = tail_mask(n - i);
    acc[0] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc[0]);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

// Two passes: the largest non-NaN value, then the first index holding it (all NaN: 0).
int64_t argmax_avx512(const float* x, int64_t n) {
  const __m512 target = _mm512_set1_ps(max_ignoring_nan(x, n));
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 m = tail_mask(n - i);
    const __mmask16 hits = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, x + i), target, _CMP_EQ_OQ);
    if (hits) return i + __builtin_ctz(unsigned(hits));
  }
  return 0;
}

}  // namespace

void register_elementwise_avx512(KernelTable& t) {
  t.rmsnorm = rmsnorm_avx512;
  t.softmax = softmax_avx512;
  t.silu = silu_avx512;
  t.swiglu = swiglu_avx512;
  t.add = add_avx512;
  t.mul = mul_avx512;
  t.axpy = axpy_avx512;
  t.dot_f32 = dot_f32_avx512;
  t.rope = rope_avx512;
  t.argmax = argmax_avx512;
  // topk keeps the scalar reference (inherited through the AVX2 table): router logits are
  // 64-256 floats with k <= 8, where a partial sort is already well under a microsecond.
}

}  // namespace moxie::kernels
