#pragma once
// The register tiles of the AVX2 decode attention kernels, shared by the F32/F16 kernel
// (attention.cc, which reads them from the cached rows) and the int8 one (attention_i8.cc,
// which widens its rows to floats in L1 first, then runs the same tiles on them). Only files
// compiled with the AVX2 flags include it (lanes.h).
#include <immintrin.h>
#include <stdint.h>

#include "moxie/kernels/registry.h"
#include "moxie/kernels/avx2/lanes.h"

namespace moxie::kernels {
namespace {

constexpr int64_t kLanes = 8;
constexpr int64_t kScorePos = 4;         // pass 1: positions per tile
constexpr int64_t kScoreHeads = 2;       // pass 1: heads per tile
constexpr int64_t kValueHeads = 4;       // pass 2: heads per tile
constexpr int64_t kDimChunks = 2;        // pass 2: registers of o per head (16 floats)
constexpr int64_t kVBlockRows = 8;       // pass 2: rows per block, reused from L1 by every tile
constexpr int64_t kTouchAheadRows = 16;  // how far ahead each pass touches its rows
constexpr int64_t kPrefetchAheadRows = 64;  // and prefetches them

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// The next min(count, 8) floats at x (lanes past count are 0, nothing past them is read).
inline __m256 load(const float* x, int64_t count) {
  return count >= kLanes ? _mm256_loadu_ps(x) : _mm256_maskload_ps(x, tail_mask(count));
}

inline void store(float* x, int64_t count, __m256 v) {
  if (count >= kLanes) _mm256_storeu_ps(x, v);
  else if (count > 0) _mm256_maskstore_ps(x, tail_mask(count), v);
}

// As load, from F16 cached rows.
inline __m256 load(const uint16_t* x, int64_t count) {
  if (count >= kLanes) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x)));
  uint16_t part[kLanes] = {};
  for (int64_t i = 0; i < count; ++i) part[i] = x[i];
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(part)));
}

// r[j] = sum of the lanes of a[j], j < 8: two horizontal-add levels give each 128-bit half
// the 4-lane sums of a[0..3] (low) and a[4..7] (high); adding the halves finishes them.
__attribute__((always_inline)) inline __m256 sum_lanes8(const __m256* a) {
  const __m256 g1 = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
  const __m256 g2 = _mm256_hadd_ps(_mm256_hadd_ps(a[4], a[5]), _mm256_hadd_ps(a[6], a[7]));
  return _mm256_add_ps(_mm256_permute2f128_ps(g1, g2, 0x20), _mm256_permute2f128_ps(g1, g2, 0x31));
}

// acc[4 * h + p] += q_h[0, d) * k_p[0, d) lane-wise, for the tile's 2 heads and 4 positions.
// Inlined so the accumulators live in registers, not behind a pointer.
template <typename T>
__attribute__((always_inline)) inline void dot_tile(const float* const* q, const T* const* k, int64_t d,
                                                    __m256* acc) {
  for (int64_t i = 0; i < d; i += kLanes) {
    __m256 kv[kScorePos];
    for (int p = 0; p < kScorePos; ++p) kv[p] = load(k[p] + i, d - i);
    for (int h = 0; h < kScoreHeads; ++h) {
      const __m256 qv = load(q[h] + i, d - i);
      for (int p = 0; p < kScorePos; ++p) acc[4 * h + p] = _mm256_fmadd_ps(kv[p], qv, acc[4 * h + p]);
    }
  }
}

// Writes a pass-1 tile's scores r (lane 4h + p: head h, position p) to out[h * stride + p]
// for its n_h valid heads and n_p valid positions; adds them to what is there when `add`.
// A whole tile is two 128-bit stores (a scalar loop for it measured about 5% of pass 1).
inline void store_scores(__m256 r, float* out, int64_t stride, int64_t n_h, int64_t n_p, bool add) {
  static_assert(kScoreHeads == 2 && kScorePos == 4, "one 128-bit half per head");
  if (n_h >= kScoreHeads && n_p >= kScorePos && !add) {
    _mm_storeu_ps(out, _mm256_castps256_ps128(r));
    _mm_storeu_ps(out + stride, _mm256_extractf128_ps(r, 1));
    return;
  }
  float x[kLanes];
  _mm256_storeu_ps(x, r);
  for (int64_t h = 0; h < min64(kScoreHeads, n_h); ++h) {
    for (int64_t p = 0; p < min64(kScorePos, n_p); ++p) {
      out[h * stride + p] = add ? out[h * stride + p] + x[4 * h + p] : x[4 * h + p];
    }
  }
}

// A pass-2 tile's kValueHeads heads: their weights at the block's first row (e[h][r] for row
// r) and their outputs at dim 0. Heads h >= n_valid repeat a valid head's pointers (clamped
// indices) and are never written.
struct ValueHeads {
  const float* e[kValueHeads];
  float* o[kValueHeads];
  int64_t n_valid;
};

// For kv head g's query heads [h0, h0 + 4): weights of head i at e + i * e_stride.
inline ValueHeads value_heads(const AttentionArgs& a, const float* e, int64_t e_stride, int64_t g, int64_t h0) {
  ValueHeads t;
  for (int h = 0; h < kValueHeads; ++h) {
    const int64_t i = g * a.n_q + min64(h0 + h, a.n_q - 1);
    t.e[h] = e + i * e_stride;
    t.o[h] = a.o + i * a.o_stride;
  }
  t.n_valid = min64(kValueHeads, a.n_q - h0);
  return t;
}

// o_h[d0, d0 + 16) += sum over rows r < n_rows of e_h[r] * v_r[0, 16), row r at v + r *
// v_stride, for the tile's heads; only the first `dims` (>= 1) of the 16 are read and written.
template <typename T>
void value_tile(const ValueHeads& t, const T* v, int64_t v_stride, int64_t n_rows, int64_t d0, int64_t dims) {
  const float* eh[kValueHeads];
  float* oh[kValueHeads];
  // Heads past the group accumulate into sink so every store below is unconditional and acc
  // stays in registers (a store loop bounded at run time makes GCC spill it on every row).
  alignas(32) float sink[kDimChunks * kLanes] = {};
  __m256 acc[kValueHeads][kDimChunks];
  for (int h = 0; h < kValueHeads; ++h) {
    eh[h] = t.e[h];
    oh[h] = h < t.n_valid ? t.o[h] + d0 : sink;
    for (int c = 0; c < kDimChunks; ++c) acc[h][c] = load(oh[h] + c * kLanes, dims - c * kLanes);
  }
  for (int64_t r = 0; r < n_rows; ++r) {
    const T* row = v + r * v_stride;
    __m256 vv[kDimChunks];
    for (int c = 0; c < kDimChunks; ++c) vv[c] = load(row + c * kLanes, dims - c * kLanes);
    for (int h = 0; h < kValueHeads; ++h) {
      const __m256 e = _mm256_broadcast_ss(eh[h] + r);
      for (int c = 0; c < kDimChunks; ++c) acc[h][c] = _mm256_fmadd_ps(vv[c], e, acc[h][c]);
    }
  }
  for (int h = 0; h < kValueHeads; ++h) {
    for (int c = 0; c < kDimChunks; ++c) store(oh[h] + c * kLanes, dims - c * kLanes, acc[h][c]);
  }
}

}  // namespace
}  // namespace moxie::kernels
