// AVX2 + FMA element-wise kernels (8 floats per register). Same contracts as the scalar
// reference in ref/elementwise.cc. Full vectors use plain loads/stores; only the last partial
// vector goes through vmaskmov (whose store form is slow on AMD Zen), so every element takes
// the same arithmetic path. RoPE lives in avx2/rope.cc.
#include <immintrin.h>
#include <stdint.h>

#include "moxie/kernels/registry.h"
#include "moxie/kernels/avx2/lanes.h"
#include "moxie/kernels/avx2/exp8.h"

namespace moxie::kernels {

// Defined in avx2/rope.cc (a plain, non-inline function: safe to share between the files).
void rope_avx2(float* x, int64_t n_heads, int64_t head_stride, int64_t n_rot,
               const float* cos_sin, RopeMode mode);

namespace {

constexpr int64_t kLanes = 8;


// x * sigmoid(x) computed as x / (1 + e^-x): one rounding fewer than multiplying by a sigmoid.
__m256 silu8(__m256 x) {
  const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

// Sum of squares in double, as the reference: squares of any float neither overflow nor
// underflow, and the sum's rounding error stays far below float precision for any n.
void rmsnorm_avx2(const float* x, const float* w, float* y, int64_t n, float eps) {
  __m256d acc[2] = {_mm256_setzero_pd(), _mm256_setzero_pd()};
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256 v = i + kLanes <= n ? _mm256_loadu_ps(x + i) : _mm256_maskload_ps(x + i, tail_mask(n - i));
    const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    acc[0] = _mm256_fmadd_pd(lo, lo, acc[0]);
    acc[1] = _mm256_fmadd_pd(hi, hi, acc[1]);
  }
  const __m256d total = _mm256_add_pd(acc[0], acc[1]);
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(total), _mm256_extractf128_pd(total, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  const double mean = _mm_cvtsd_f64(s) / double(n) + double(eps);
  const double root = _mm_cvtsd_f64(_mm_sqrt_sd(_mm_setzero_pd(), _mm_set_sd(mean)));
  const __m256 scale = _mm256_set1_ps(float(1.0 / root));
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), scale);
    if (w) v = _mm256_mul_ps(v, _mm256_loadu_ps(w + i));
    _mm256_storeu_ps(y + i, v);
  }
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    __m256 v = _mm256_mul_ps(_mm256_maskload_ps(x + i, m), scale);
    if (w) v = _mm256_mul_ps(v, _mm256_maskload_ps(w + i, m));
    _mm256_maskstore_ps(y + i, m, v);
  }
}

// The largest non-NaN element, -inf when there is none. max_ps returns its second operand
// when one is NaN, so a NaN in x leaves the running max unchanged (as std::max in the ref).
float max_ignoring_nan(const float* x, int64_t n) {
  const __m256 neg_inf = _mm256_set1_ps(-__builtin_inff());
  __m256 vmax[4] = {neg_inf, neg_inf, neg_inf, neg_inf};
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    for (int j = 0; j < 4; ++j) vmax[j] = _mm256_max_ps(_mm256_loadu_ps(x + i + j * kLanes), vmax[j]);
  }
  for (; i < n; i += kLanes) {
    const __m256i m = tail_mask(n - i);
    const __m256 v = _mm256_blendv_ps(neg_inf, _mm256_maskload_ps(x + i, m), _mm256_castsi256_ps(m));
    vmax[0] = _mm256_max_ps(v, vmax[0]);
  }
  return hmax(_mm256_max_ps(_mm256_max_ps(vmax[0], vmax[1]), _mm256_max_ps(vmax[2], vmax[3])));
}

void softmax_avx2(float* x, int64_t n) {
  const float max = max_ignoring_nan(x, n);
  if (max == -__builtin_inff()) {  // fully masked row: zeros, like the reference
    for (int64_t i = 0; i < n; ++i) x[i] = 0.0f;
    return;
  }
  const __m256 inv = _mm256_set1_ps(1.0f / exp_shifted_sum(x, n, max));
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(x + i, m, _mm256_mul_ps(_mm256_maskload_ps(x + i, m), inv));
  }
}

void silu_avx2(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm256_storeu_ps(y + i, silu8(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(y + i, m, silu8(_mm256_maskload_ps(x + i, m)));
  }
}

void swiglu_avx2(const float* gate, const float* up, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const __m256 g = _mm256_loadu_ps(gate + i), u = _mm256_loadu_ps(up + i);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(silu8(g), u));
  }
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    const __m256 g = _mm256_maskload_ps(gate + i, m), u = _mm256_maskload_ps(up + i, m);
    _mm256_maskstore_ps(y + i, m, _mm256_mul_ps(silu8(g), u));
  }
}

void add_avx2(const float* a, const float* b, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  }
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(y + i, m, _mm256_add_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m)));
  }
}

void mul_avx2(const float* a, const float* b, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  }
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(y + i, m, _mm256_mul_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m)));
  }
}

void axpy_avx2(float a, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    const __m256 r = _mm256_fmadd_ps(va, _mm256_maskload_ps(x + i, m), _mm256_maskload_ps(y + i, m));
    _mm256_maskstore_ps(y + i, m, r);
  }
}

float dot_f32_avx2(const float* a, const float* b, int64_t n) {
  // Four independent accumulators hide the FMA latency.
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    for (int j = 0; j < 4; ++j) {
      const int64_t o = i + j * kLanes;
      acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(a + o), _mm256_loadu_ps(b + o), acc[j]);
    }
  }
  for (; i < n; i += kLanes) {
    const __m256i m = tail_mask(n - i);
    acc[0] = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), acc[0]);
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
}

// Two passes: the largest non-NaN value, then the first index holding it (all NaN: 0).
int64_t argmax_avx2(const float* x, int64_t n) {
  const __m256 target = _mm256_set1_ps(max_ignoring_nan(x, n));
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const int hits = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), target, _CMP_EQ_OQ));
    if (hits) return i + __builtin_ctz(unsigned(hits));
  }
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    const __m256 eq = _mm256_cmp_ps(_mm256_maskload_ps(x + i, m), target, _CMP_EQ_OQ);
    const int hits = _mm256_movemask_ps(_mm256_and_ps(eq, _mm256_castsi256_ps(m)));
    if (hits) return i + __builtin_ctz(unsigned(hits));
  }
  return 0;
}

// F16C's VCVTPS2PH with round-to-nearest-even, as fp32_to_fp16 (it keeps subnormal halves).
void to_f16_avx2(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  for (; i < n; ++i) y[i] = uint16_t(_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

}  // namespace

void register_elementwise_avx2(KernelTable& t) {
  t.rmsnorm = rmsnorm_avx2;
  t.softmax = softmax_avx2;
  t.silu = silu_avx2;
  t.swiglu = swiglu_avx2;
  t.add = add_avx2;
  t.mul = mul_avx2;
  t.axpy = axpy_avx2;
  t.dot_f32 = dot_f32_avx2;
  t.rope = rope_avx2;
  t.argmax = argmax_avx2;
  t.to_f16 = to_f16_avx2;  // the AVX-512 table keeps it: 8 per instruction already outruns the caller
  // topk keeps the scalar reference: router logits are 64-256 floats and k <= 8, where a
  // partial sort costs well under a microsecond and SIMD selection does not pay.
}

}  // namespace moxie::kernels
