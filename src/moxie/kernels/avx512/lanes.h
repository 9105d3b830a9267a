#pragma once
// The tail mask and lane transposes shared by this folder's kernels. Only files compiled with the AVX-512 flags
// include it, and the anonymous namespace gives each its own copy (kernels/registry.h).
#include <immintrin.h>
#include <stdint.h>

namespace moxie::kernels {
namespace {

// Lanes [0, count) set: the mask for the next min(count, 16) floats (none when count <= 0).
inline __mmask16 tail_mask(int64_t count) {
  return count >= 16 ? __mmask16(0xFFFF) : count <= 0 ? __mmask16(0) : __mmask16((1u << count) - 1u);
}

// r[4 * L + m] = sum of the lanes of a[4 * m + L]: sixteen horizontal sums in one transpose
// (halves, then quarters, then within 128-bit lanes), about 2.5 instructions per sum. V is
// __m512 (float sums) or __m512i (int32 sums); the shuffles only move bits.
inline __m512 as_ps(__m512 x) { return x; }
inline __m512 as_ps(__m512i x) { return _mm512_castsi512_ps(x); }
inline void from_ps(__m512 x, __m512& out) { out = x; }
inline void from_ps(__m512 x, __m512i& out) { out = _mm512_castps_si512(x); }
inline __m512 add_lanes(__m512 x, __m512 y) { return _mm512_add_ps(x, y); }
inline __m512i add_lanes(__m512i x, __m512i y) { return _mm512_add_epi32(x, y); }

template <typename V>
__attribute__((always_inline)) inline V sum_lanes16(const V* a) {
  const auto f = [](V x) { return as_ps(x); };
  const auto back = [](__m512 x) {
    V r;
    from_ps(x, r);
    return r;
  };
  const auto add = [](V x, V y) { return add_lanes(x, y); };
  V s[8], t[4];
  for (int i = 0; i < 8; ++i) {  // s[i] = [8 half-sums of a[2i] | 8 of a[2i+1]]
    s[i] = add(back(_mm512_shuffle_f32x4(f(a[2 * i]), f(a[2 * i + 1]), 0x44)),
               back(_mm512_shuffle_f32x4(f(a[2 * i]), f(a[2 * i + 1]), 0xEE)));
  }
  for (int i = 0; i < 4; ++i) {  // 128-bit lane L of t[i]: 4 partial sums of a[4i + L]
    t[i] = add(back(_mm512_shuffle_f32x4(f(s[2 * i]), f(s[2 * i + 1]), 0x88)),
               back(_mm512_shuffle_f32x4(f(s[2 * i]), f(s[2 * i + 1]), 0xDD)));
  }
  const V u = add(back(_mm512_unpacklo_ps(f(t[0]), f(t[1]))), back(_mm512_unpackhi_ps(f(t[0]), f(t[1]))));
  const V v = add(back(_mm512_unpacklo_ps(f(t[2]), f(t[3]))), back(_mm512_unpackhi_ps(f(t[2]), f(t[3]))));
  return add(back(_mm512_shuffle_ps(f(u), f(v), _MM_SHUFFLE(1, 0, 1, 0))),
             back(_mm512_shuffle_ps(f(u), f(v), _MM_SHUFFLE(3, 2, 3, 2))));
}

}  // namespace
}  // namespace moxie::kernels
