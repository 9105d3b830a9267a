// AVX2 + FMA rotary position embedding, in place. cos_sin holds n_rot/2 interleaved
// (cos, sin) pairs for one position (see rope_cache.h); dims past n_rot are not touched.
#include <immintrin.h>
#include <stdint.h>

#include "moxie/kernels/registry.h"
#include "moxie/kernels/avx2/lanes.h"

namespace moxie::kernels {
namespace {

constexpr int64_t kLanes = 8;

// Pairs (2i, 2i+1): x and cos_sin share the same layout, so 8 floats of each hold 4 pairs.
//   out[2i]   = x[2i] c - x[2i+1] s      (fmaddsub subtracts in even lanes)
//   out[2i+1] = x[2i+1] c + x[2i] s      (and adds in odd lanes)
__m256 rotate_normal8(__m256 v, __m256 cs) {
  const __m256 c = _mm256_moveldup_ps(cs), s = _mm256_movehdup_ps(cs);
  const __m256 swapped = _mm256_permute_ps(v, 0xB1);  // (x[2i+1], x[2i])
  return _mm256_fmaddsub_ps(v, c, _mm256_mul_ps(swapped, s));
}

// Full vectors use plain loads/stores; only the tail uses vmaskmov (slow stores on AMD Zen).
void rope_normal_head(float* x, int64_t n_rot, const float* cos_sin) {
  int64_t j = 0;
  for (; j + kLanes <= n_rot; j += kLanes) {
    _mm256_storeu_ps(x + j, rotate_normal8(_mm256_loadu_ps(x + j), _mm256_loadu_ps(cos_sin + j)));
  }
  if (j < n_rot) {
    const __m256i m = tail_mask(n_rot - j);
    const __m256 v = rotate_normal8(_mm256_maskload_ps(x + j, m), _mm256_maskload_ps(cos_sin + j, m));
    _mm256_maskstore_ps(x + j, m, v);
  }
}

// Pairs (i, i + half), 8 pairs at a time: the 16 floats of cos_sin in (a, b) are split into
// 8 cosines and 8 sines (shuffle within 128-bit halves, then put the 64-bit quarters in order).
//   lo' = lo c - hi s,  hi' = lo s + hi c
void rotate_neox8(__m256 a, __m256 b, __m256& lo, __m256& hi) {
  const __m256 c = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
  const __m256 s = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
  const __m256 new_lo = _mm256_fmsub_ps(lo, c, _mm256_mul_ps(hi, s));
  hi = _mm256_fmadd_ps(lo, s, _mm256_mul_ps(hi, c));
  lo = new_lo;
}

void rope_neox_head(float* x, int64_t n_rot, const float* cos_sin) {
  const int64_t half = n_rot / 2;
  int64_t i = 0;
  for (; i + kLanes <= half; i += kLanes) {
    __m256 lo = _mm256_loadu_ps(x + i), hi = _mm256_loadu_ps(x + half + i);
    rotate_neox8(_mm256_loadu_ps(cos_sin + 2 * i), _mm256_loadu_ps(cos_sin + 2 * i + kLanes), lo, hi);
    _mm256_storeu_ps(x + i, lo);
    _mm256_storeu_ps(x + half + i, hi);
  }
  if (i < half) {
    const int64_t pairs = half - i;
    const __m256i m = tail_mask(pairs);
    __m256 lo = _mm256_maskload_ps(x + i, m), hi = _mm256_maskload_ps(x + half + i, m);
    const __m256 a = _mm256_maskload_ps(cos_sin + 2 * i, tail_mask(2 * pairs));
    const __m256 b = _mm256_maskload_ps(cos_sin + 2 * i + kLanes, tail_mask(2 * pairs - kLanes));
    rotate_neox8(a, b, lo, hi);
    _mm256_maskstore_ps(x + i, m, lo);
    _mm256_maskstore_ps(x + half + i, m, hi);
  }
}

}  // namespace

void rope_avx2(float* x, int64_t n_heads, int64_t head_stride, int64_t n_rot,
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
