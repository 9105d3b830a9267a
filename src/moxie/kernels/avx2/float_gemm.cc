// AVX2 gemm for float weights. Every weight type dots with F32 activations: F16 widens with
// F16C's VCVTPH2PS, BF16 widens exactly by a 16-bit shift (AVX2 has no BF16 dot product, and
// F32 activations keep the result exact up to F32 accumulation).
//
// Blocking: a tile of kRowTile weight rows x kTokTile activation rows keeps its accumulators
// in the 16 ymm registers; each weight vector loaded is used kTokTile times. Row tiles are the
// outer loop, then L1-sized blocks of k, so the tile's rows stay in L1 while the token tiles
// stream past. Each output's
// operations do not depend on its tile, so results are identical however rows are split.
#include <immintrin.h>
#include <string.h>

#include "moxie/kernels/registry.h"
#include "moxie/kernels/avx2/lanes.h"

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

// Adds elements [i0, i1) of R weight rows x T tokens into the accumulators acc[t * kRowTile + r],
// kept in memory between calls so that a long k can be cut into L1-sized blocks. i0 is a
// multiple of kStep; a last partial step (i1 == k) is zero-padded. Each accumulator lane sees the
// same operations whatever the blocking, so results do not depend on it.
template <class K, int R, int T>
void accumulate(int64_t i0, int64_t i1, const char* w, int64_t w_stride, const char* x, int64_t x_stride,
                __m256* acc_mem) {
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = acc_mem[t * kRowTile + r];
  int64_t i = i0;
  for (; i + kStep <= i1; i += kStep) {
    __m256 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = _mm256_loadu_ps(reinterpret_cast<const float*>(x + t * x_stride) + i);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = K::load_w(w + r * w_stride + i * K::kWBytes);
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  if (i < i1) {
    __m256 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = load_x_tail(x + t * x_stride + i * 4, i1 - i);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = load_w_tail<K>(w + r * w_stride + i * K::kWBytes, i1 - i);
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc_mem[t * kRowTile + r] = acc[r][t];
}

using AccumulateFn = void (*)(int64_t, int64_t, const char*, int64_t, const char*, int64_t, __m256*);

// kTiles<K>[R-1][T-1] handles the ragged edges with exactly-sized tiles.
template <class K>
constexpr AccumulateFn kTiles[kRowTile][kTokTile] = {
    {accumulate<K, 1, 1>, accumulate<K, 1, 2>},
    {accumulate<K, 2, 1>, accumulate<K, 2, 2>},
    {accumulate<K, 3, 1>, accumulate<K, 3, 2>},
    {accumulate<K, 4, 1>, accumulate<K, 4, 2>},
};

// Tokens whose accumulators are kept at once (kRowTile * kTokGroup vectors: 8 KiB of stack).
constexpr int64_t kTokGroup = 64;
// A k-block of one tile's weight rows and activation rows fits this much of a 32 KiB L1.
constexpr int64_t kL1BlockBytes = 24 << 10;

template <class K>
int64_t k_block_elems(int64_t k) {
  constexpr int64_t kBytesPerElem = kRowTile * K::kWBytes + kTokTile * 4;
  constexpr int64_t kElems = kL1BlockBytes / kBytesPerElem / kStep * kStep;
  return k < kElems ? k : kElems;
}

// One row tile against tokens [0, n_tok) of x: k-blocks outer so the tile's weights stay in L1.
template <class K>
void row_tile(int64_t k, const char* w, int64_t w_stride, int64_t rows, const char* x, int64_t x_stride,
              int64_t n_tok, float* c, int64_t c_stride) {
  alignas(32) __m256 acc[kRowTile * kTokGroup];
  const int64_t kb = k_block_elems<K>(k);
  for (int64_t g0 = 0; g0 < n_tok; g0 += kTokGroup) {
    const int64_t group = n_tok - g0 < kTokGroup ? n_tok - g0 : kTokGroup;
    for (int64_t j = 0; j < group * kRowTile; ++j) acc[j] = _mm256_setzero_ps();
    for (int64_t i0 = 0; i0 < k; i0 += kb) {
      const int64_t i1 = k - i0 < kb ? k : i0 + kb;
      for (int64_t t0 = 0; t0 < group; t0 += kTokTile) {
        const int64_t toks = group - t0 < kTokTile ? group - t0 : kTokTile;
        kTiles<K>[rows - 1][toks - 1](i0, i1, w, w_stride, x + (g0 + t0) * x_stride, x_stride, acc + t0 * kRowTile);
      }
    }
    for (int64_t t = 0; t < group; ++t)
      for (int64_t r = 0; r < rows; ++r) c[(g0 + t) * c_stride + r] = hsum(acc[t * kRowTile + r]);
  }
}

template <class K>
void gemm(int64_t k, const void* w, int64_t w_stride, int64_t n_rows, const void* x, int64_t x_stride,
          int64_t n_tok, float* c, int64_t c_stride) {
  const char* w_bytes = static_cast<const char*>(w);
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowTile) {
    const int64_t rows = n_rows - r0 < kRowTile ? n_rows - r0 : kRowTile;
    row_tile<K>(k, w_bytes + r0 * w_stride, w_stride, rows, static_cast<const char*>(x), x_stride, n_tok, c + r0,
                c_stride);
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
