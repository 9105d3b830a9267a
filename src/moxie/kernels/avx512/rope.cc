// AVX-512 rotary position embedding, in place. cos_sin holds n_rot/2 interleaved
// (cos, sin) pairs for one position (see rope_cache.h); dims past n_rot are not touched.
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_ps() and trip false uninitialised
// warnings (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <stdint.h>

#include "moxie/kernels/registry.h"
#include "moxie/kernels/avx512/lanes.h"

namespace moxie::kernels {
namespace {

constexpr int64_t kLanes = 16;

// Pairs (2i, 2i+1): x and cos_sin share the same layout, so 16 floats of each hold 8 pairs.
//   out[2i]   = x[2i] c - x[2i+1] s      (fmaddsub subtracts in even lanes)
//   out[2i+1] = x[2i+1] c + x[2i] s      (and adds in odd lanes)
void rope_normal_head(float* x, int64_t n_rot, const float* cos_sin) {
  for (int64_t j = 0; j < n_rot; j += kLanes) {
    const __mmask16 m = tail_mask(n_rot - j);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + j);
    const __m512 cs = _mm512_maskz_loadu_ps(m, cos_sin + j);
    const __m512 c = _mm512_moveldup_ps(cs), s = _mm512_movehdup_ps(cs);
    const __m512 swapped = _mm512_permute_ps(v, 0xB1);  // (x[2i+1], x[2i])
    _mm512_mask_storeu_ps(x + j, m, _mm512_fmaddsub_ps(v, c, _mm512_mul_ps(swapped, s)));
  }
}

// Pairs (i, i + half), 16 pairs at a time: 32 floats of cos_sin are split into 16 cosines
// (even positions) and 16 sines (odd positions) with two-source permutes.
void rope_neox_head(float* x, int64_t n_rot, const float* cos_sin) {
  const int64_t half = n_rot / 2;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (int64_t i = 0; i < half; i += kLanes) {
    const int64_t pairs = half - i < kLanes ? half - i : kLanes;
    const __mmask16 m = tail_mask(pairs);
    const __m512 a = _mm512_maskz_loadu_ps(tail_mask(2 * pairs), cos_sin + 2 * i);
    const __m512 b = _mm512_maskz_loadu_ps(tail_mask(2 * pairs - kLanes), cos_sin + 2 * i + kLanes);
    const __m512 c = _mm512_permutex2var_ps(a, even, b), s = _mm512_permutex2var_ps(a, odd, b);
    const __m512 lo = _mm512_maskz_loadu_ps(m, x + i), hi = _mm512_maskz_loadu_ps(m, x + half + i);
    _mm512_mask_storeu_ps(x + i, m, _mm512_fmsub_ps(lo, c, _mm512_mul_ps(hi, s)));
    _mm512_mask_storeu_ps(x + half + i, m, _mm512_fmadd_ps(lo, s, _mm512_mul_ps(hi, c)));
  }
}

}  // namespace

void rope_avx512(float* x, int64_t n_heads, int64_t head_stride, int64_t n_rot,
                 const float* cos_sin, RopeMode mode) {
  for (int64_t h = 0; h < n_heads; ++h) {
    if (mode == RopeMode::normal) {
      rope_normal_head(x + h * head_stride, n_rot, cos_sin);
    } else {
      rope_neox_head(x + h * head_stride, n_rot, cos_sin);
    }
  }
}

}  // namespace moxie::kernels
