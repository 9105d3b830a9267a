#pragma once
// exp8: e^x for a register of floats, shared by this folder's element-wise and attention
// kernels. Only files compiled with the AVX2 flags include it, and the anonymous namespace
// gives each of them its own copy, so no AVX2 code can be linked into another
// instruction set's caller (kernels/registry.h).
#include <immintrin.h>
#include <stdint.h>

#include "moxie/kernels/avx2/lanes.h"

namespace moxie::kernels {
namespace {

// e^x for 8 floats; max relative error about 2e-7 on normal results (measured by the
// ExpAccuracy tests), NaN in gives NaN out, subnormal results are rounded correctly from
// the polynomial's value and overflow gives +inf.
//   x = n*ln2 + r with n = round(x/ln2), |r| <= ln2/2 (ln2 in two parts, Cody-Waite, so
//   n*ln2_hi is exact for |n| < 2^9);
//   e^r = degree-7 Taylor polynomial: truncation error r^8/8! <= 5.3e-9 at |r| = ln2/2,
//   far below float rounding;
//   2^n = 2^(n>>1) * 2^(n - (n>>1)): both halves are normal floats for n in [-150, 128],
//   so no special cases are needed for underflow or overflow.
inline __m256 exp8(__m256 x) {
  // e^-104 rounds to 0 and e^89 overflows: clamping changes no result and bounds n.
  // max/min return their second operand when one is NaN: x goes second to keep NaN.
  x = _mm256_max_ps(_mm256_set1_ps(-104.0f), x);
  x = _mm256_min_ps(_mm256_set1_ps(89.0f), x);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860682030941723212e-6f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n_lo = _mm256_srai_epi32(ni, 1);
  const __m256i n_hi = _mm256_sub_epi32(ni, n_lo);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 scale_lo = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n_lo, bias), 23));
  const __m256 scale_hi = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n_hi, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, scale_lo), scale_hi);
}

// x[i] = e^(x[i] - m) for i < n, returning their sum: the softmax numerators and their
// denominator, for softmax and attention's online softmax.
inline float exp_shifted_sum(float* x, int64_t n, float m) {
  const __m256 vm = _mm256_set1_ps(m);
  __m256 vsum = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    vsum = _mm256_add_ps(vsum, e);
    _mm256_storeu_ps(x + i, e);
  }
  if (i < n) {
    const __m256i t = tail_mask(n - i);
    // Masked-off lanes load 0 and give e^(0 - m); they are zeroed before the sum.
    const __m256 e = exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, t), vm));
    vsum = _mm256_add_ps(vsum, _mm256_and_ps(e, _mm256_castsi256_ps(t)));
    _mm256_maskstore_ps(x + i, t, e);
  }
  return hsum(vsum);
}

}  // namespace
}  // namespace moxie::kernels
