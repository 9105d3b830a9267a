#pragma once
// Lane helpers shared by this folder's kernels: tail masks and horizontal reductions of an
// 8-float register. Only files compiled with the AVX2 flags include it, and the anonymous
// namespace gives each its own copy (kernels/registry.h).
#include <immintrin.h>
#include <stdint.h>

namespace moxie::kernels {
namespace {

// Lanes [0, count) set: the mask for the next min(count, 8) floats (none when count <= 0;
// clamping also keeps int(count) from wrapping on huge n).
inline __m256i tail_mask(int64_t count) {
  if (count > 8) count = 8;
  if (count < 0) count = 0;
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace
}  // namespace moxie::kernels
