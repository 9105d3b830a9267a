// AVX2 gemm for float weights. Every weight type dots with F32 activations: F16 widens with
// F16C's VCVTPH2PS, BF16 widens exactly by a 16-bit shift (AVX2 has no BF16 dot product, and
// F32 activations keep the result exact up to F32 accumulation).
//
// Blocking: a tile of kRowTile weight rows x kTokTile activation rows keeps its accumulators
// in the 16 ymm registers; each weight vector loaded is used kTokTile times. Row tiles are the
// outer loop so the tile's rows stay in L1 while the token tiles stream past. Each output's
// operations do not depend on its tile, so results are identical however rows are split.
#include <immintrin.h>
#include <string.h>

#include "moxie/kernels/registry.h"

namespace moxie::kernels {
namespace {

constexpr int kRowTile = 4;
constexpr int kTokTile = 2;
constexpr int kStep = 8;  // floats per ymm

// The first n < 8 elements of a row, zero-padded to a full step (AVX2 has no 16-bit masked load).
template <int kBytes>
void copy_tail(const char* p, int64_t n, char (&buf)[8 * kBytes]) {
  memset(buf, 0, sizeof(buf));
  memcpy(buf, p, size_t(n) * kBytes);
}

__m256 widen_f16(__m128i h) { return _mm256_cvtph_ps(h); }
__m256 widen_bf16(__m128i b) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(b), 16)); }

// How one step of 8 weights is loaded as floats (whole, or the first n zero-padded).
struct F32Weights {
  static constexpr int kWBytes = 4;
  static __m256 load_w(const char* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
};
struct F16Weights {
  static constexpr int kWBytes = 2;
  static __m256 load_w(const char* p) { return widen_f16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
};
struct Bf16Weights {
  static constexpr int kWBytes = 2;
  static __m256 load_w(const char* p) { return widen_bf16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
};

template <class K>
__m256 load_w_tail(const char* p, int64_t n) {
  char buf[8 * K::kWBytes];
  copy_tail<K::kWBytes>(p, n, buf);
  return K::load_w(buf);
}

__m256 load_x_tail(const char* p, int64_t n) {
  char buf[8 * 4];
  copy_tail<4>(p, n, buf);
  return _mm256_loadu_ps(reinterpret_cast<const float*>(buf));
}

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// C[t][r] for R weight rows x T tokens over the full k (a zero-padded step covers the tail).
template <class K, int R, int T>
void tile(int64_t k, const char* w, int64_t w_stride, const char* x, int64_t x_stride, float* c,
          int64_t c_stride) {
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + kStep <= k; i += kStep) {
    __m256 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = _mm256_loadu_ps(reinterpret_cast<const float*>(x + t * x_stride) + i);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = K::load_w(w + r * w_stride + i * K::kWBytes);
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  if (i < k) {
    __m256 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = load_x_tail(x + t * x_stride + i * 4, k - i);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = load_w_tail<K>(w + r * w_stride + i * K::kWBytes, k - i);
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) c[t * c_stride + r] = hsum(acc[r][t]);
}

using TileFn = void (*)(int64_t, const char*, int64_t, const char*, int64_t, float*, int64_t);

// kTiles<K>[R-1][T-1] handles the ragged edges with exactly-sized tiles.
template <class K>
constexpr TileFn kTiles[kRowTile][kTokTile] = {
    {tile<K, 1, 1>, tile<K, 1, 2>},
    {tile<K, 2, 1>, tile<K, 2, 2>},
    {tile<K, 3, 1>, tile<K, 3, 2>},
    {tile<K, 4, 1>, tile<K, 4, 2>},
};

template <class K>
void gemm(int64_t k, const void* w, int64_t w_stride, int64_t n_rows, const void* x, int64_t x_stride,
          int64_t n_tok, float* c, int64_t c_stride) {
  const char* w_bytes = static_cast<const char*>(w);
  const char* x_bytes = static_cast<const char*>(x);
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowTile) {
    const int64_t rows = n_rows - r0 < kRowTile ? n_rows - r0 : kRowTile;
    for (int64_t t0 = 0; t0 < n_tok; t0 += kTokTile) {
      const int64_t toks = n_tok - t0 < kTokTile ? n_tok - t0 : kTokTile;
      kTiles<K>[rows - 1][toks - 1](k, w_bytes + r0 * w_stride, w_stride, x_bytes + t0 * x_stride, x_stride,
                                    c + t0 * c_stride + r0, c_stride);
    }
  }
}

void f32_to_f32_act(const float* x, void* y, int64_t k) { memcpy(y, x, size_t(k) * sizeof(float)); }

}  // namespace

void register_float_gemm_avx2(KernelTable& t) {
  t.weights[uint32_t(DType::F32)] = {DType::F32, f32_to_f32_act, gemm<F32Weights>};
  t.weights[uint32_t(DType::F16)] = {DType::F32, f32_to_f32_act, gemm<F16Weights>};
  t.weights[uint32_t(DType::BF16)] = {DType::F32, f32_to_f32_act, gemm<Bf16Weights>};
}

}  // namespace moxie::kernels
