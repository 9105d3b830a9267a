#pragma once
// exp16: e^x for a register of floats, shared by this folder's element-wise and attention
// kernels. Only files compiled with the AVX-512 flags include it, and the anonymous namespace
// gives each of them its own copy, so no AVX-512 code can be linked into another
// instruction set's caller (kernels/registry.h).
#include <immintrin.h>
#include <stdint.h>

#include "moxie/kernels/avx512/lanes.h"

namespace moxie::kernels {
namespace {

// e^x for 16 floats, the algorithm of the AVX2 version (max relative error about 2e-7 on
// normal results, measured by the ExpAccuracy tests):
//   x = n*ln2 + r, |r| <= ln2/2 (two-part ln2); e^r by the degree-7 Taylor polynomial
//   (truncation error <= 5.3e-9); then scalef multiplies by 2^n with a single rounding,
//   which also gets subnormal results and overflow to +inf right.
inline __m512 exp16(__m512 x) {
  // e^-104 rounds to 0 and e^89 overflows: clamping changes no result but keeps r finite
  // for x = +-inf. max/min return their second operand when one is NaN: x goes second.
  x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
  x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860682030941723212e-6f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// x[i] = e^(x[i] - m) for i < n, returning their sum: the softmax numerators and their
// denominator, for softmax and attention's online softmax.
inline float exp_shifted_sum(float* x, int64_t n, float m) {
  const __m512 vm = _mm512_set1_ps(m);
  __m512 vsum = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 t = tail_mask(n - i);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(t, x + i), vm));
    vsum = _mm512_mask_add_ps(vsum, t, vsum, e);
    _mm512_mask_storeu_ps(x + i, t, e);
  }
  return _mm512_reduce_add_ps(vsum);
}

}  // namespace
}  // namespace moxie::kernels
