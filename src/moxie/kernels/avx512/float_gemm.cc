// AVX-512 gemm for float weights. F32 and F16 weights dot with F32 activations (F16 widened
// with VCVTPH2PS in the loop); BF16 weights dot with BF16 activations through AVX512_BF16's
// VDPBF16PS, which multiplies pairs exactly and accumulates in F32.
//
// Blocking: a tile of kRowTile weight rows x kTokTile activation rows keeps kRowTile*kTokTile
// accumulators in registers, so each weight vector loaded is used kTokTile times. Row tiles
// are the outer loop, then blocks of k sized so the tile's rows stay in L1 while the token
// tiles stream past (for k = 4096 BF16 the whole rows would not fit).
// Every output owns one accumulator whose sequence of operations does not depend on the tile
// it sits in, so results are bit-identical however callers split rows and tokens.
#include <immintrin.h>
#include <string.h>

#include "moxie/kernels/registry.h"

namespace moxie::kernels {
namespace {

constexpr int kRowTile = 4;
constexpr int kTokTile = 4;

// Mask of the low n lanes, n < 32.
inline uint32_t low_lanes(int64_t n) { return (uint32_t(1) << n) - 1; }

// Each policy says how one step of kStep elements of a weight row and an activation row are
// loaded (whole or the first n lanes) and multiplied into an F32 accumulator.
struct F32Weights {
  static constexpr int kStep = 16, kWBytes = 4, kXBytes = 4;
  using WVec = __m512;
  using XVec = __m512;
  static WVec load_w(const char* p) { return _mm512_loadu_ps(p); }
  static WVec load_w(const char* p, int64_t n) { return _mm512_maskz_loadu_ps(__mmask16(low_lanes(n)), p); }
  static XVec load_x(const char* p) { return _mm512_loadu_ps(p); }
  static XVec load_x(const char* p, int64_t n) { return _mm512_maskz_loadu_ps(__mmask16(low_lanes(n)), p); }
  static __m512 fma(__m512 acc, WVec w, XVec x) { return _mm512_fmadd_ps(w, x, acc); }
};

struct F16Weights {
  static constexpr int kStep = 16, kWBytes = 2, kXBytes = 4;
  using WVec = __m512;
  using XVec = __m512;
  static WVec load_w(const char* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static WVec load_w(const char* p, int64_t n) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(__mmask16(low_lanes(n)), p));
  }
  static XVec load_x(const char* p) { return _mm512_loadu_ps(p); }
  static XVec load_x(const char* p, int64_t n) { return _mm512_maskz_loadu_ps(__mmask16(low_lanes(n)), p); }
  static __m512 fma(__m512 acc, WVec w, XVec x) { return _mm512_fmadd_ps(w, x, acc); }
};

struct Bf16Weights {
  static constexpr int kStep = 32, kWBytes = 2, kXBytes = 2;
  using WVec = __m512i;
  using XVec = __m512i;
  static WVec load_w(const char* p) { return _mm512_loadu_si512(p); }
  static WVec load_w(const char* p, int64_t n) { return _mm512_maskz_loadu_epi16(__mmask32(low_lanes(n)), p); }
  static XVec load_x(const char* p) { return _mm512_loadu_si512(p); }
  static XVec load_x(const char* p, int64_t n) { return _mm512_maskz_loadu_epi16(__mmask32(low_lanes(n)), p); }
  static __m512 fma(__m512 acc, WVec w, XVec x) { return _mm512_dpbf16_ps(acc, (__m512bh)w, (__m512bh)x); }
};

// Adds elements [i0, i1) of R weight rows x T tokens into the accumulators acc[t * kRowTile + r],
// which live in memory between calls so that a long k can be cut into L1-sized blocks. i0 is a
// multiple of kStep; a last partial step (i1 == k) is masked. The order of operations on each
// accumulator lane does not depend on the blocking, so results do not either.
template <class K, int R, int T>
void accumulate(int64_t i0, int64_t i1, const char* w, int64_t w_stride, const char* x, int64_t x_stride,
                __m512* acc_mem) {
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = acc_mem[t * kRowTile + r];
  int64_t i = i0;
  for (; i + K::kStep <= i1; i += K::kStep) {
    typename K::XVec xv[T];
    for (int t = 0; t < T; ++t) xv[t] = K::load_x(x + t * x_stride + i * K::kXBytes);
    for (int r = 0; r < R; ++r) {
      const typename K::WVec wv = K::load_w(w + r * w_stride + i * K::kWBytes);
      for (int t = 0; t < T; ++t) acc[r][t] = K::fma(acc[r][t], wv, xv[t]);
    }
  }
  if (i < i1) {
    const int64_t n = i1 - i;
    typename K::XVec xv[T];
    for (int t = 0; t < T; ++t) xv[t] = K::load_x(x + t * x_stride + i * K::kXBytes, n);
    for (int r = 0; r < R; ++r) {
      const typename K::WVec wv = K::load_w(w + r * w_stride + i * K::kWBytes, n);
      for (int t = 0; t < T; ++t) acc[r][t] = K::fma(acc[r][t], wv, xv[t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc_mem[t * kRowTile + r] = acc[r][t];
}

using AccumulateFn = void (*)(int64_t, int64_t, const char*, int64_t, const char*, int64_t, __m512*);

// kTiles<K>[R-1][T-1] handles the ragged edges with exactly-sized tiles.
template <class K>
constexpr AccumulateFn kTiles[kRowTile][kTokTile] = {
    {accumulate<K, 1, 1>, accumulate<K, 1, 2>, accumulate<K, 1, 3>, accumulate<K, 1, 4>},
    {accumulate<K, 2, 1>, accumulate<K, 2, 2>, accumulate<K, 2, 3>, accumulate<K, 2, 4>},
    {accumulate<K, 3, 1>, accumulate<K, 3, 2>, accumulate<K, 3, 3>, accumulate<K, 3, 4>},
    {accumulate<K, 4, 1>, accumulate<K, 4, 2>, accumulate<K, 4, 3>, accumulate<K, 4, 4>},
};

// Tokens whose accumulators are kept at once (kRowTile * kTokGroup vectors: 16 KiB of stack).
constexpr int64_t kTokGroup = 64;
// A k-block of one tile's weight rows and activation rows fits this much of L1 (48 KiB on Zen 5,
// 32+ on others), so the rows stay there while the token tiles pass.
constexpr int64_t kL1BlockBytes = 32 << 10;

template <class K>
int64_t k_block_elems(int64_t k) {
  constexpr int64_t kBytesPerElem = kRowTile * K::kWBytes + kTokTile * K::kXBytes;
  constexpr int64_t kElems = kL1BlockBytes / kBytesPerElem / K::kStep * K::kStep;
  return k < kElems ? k : kElems;
}

// One row tile against tokens [0, n_tok) of x: k-blocks outer so the tile's weights stay in L1.
template <class K>
void row_tile(int64_t k, const char* w, int64_t w_stride, int64_t rows, const char* x, int64_t x_stride,
              int64_t n_tok, float* c, int64_t c_stride) {
  alignas(64) __m512 acc[kRowTile * kTokGroup];
  const int64_t kb = k_block_elems<K>(k);
  for (int64_t g0 = 0; g0 < n_tok; g0 += kTokGroup) {
    const int64_t group = n_tok - g0 < kTokGroup ? n_tok - g0 : kTokGroup;
    for (int64_t j = 0; j < group * kRowTile; ++j) acc[j] = _mm512_setzero_ps();
    for (int64_t i0 = 0; i0 < k; i0 += kb) {
      const int64_t i1 = k - i0 < kb ? k : i0 + kb;
      for (int64_t t0 = 0; t0 < group; t0 += kTokTile) {
        const int64_t toks = group - t0 < kTokTile ? group - t0 : kTokTile;
        kTiles<K>[rows - 1][toks - 1](i0, i1, w, w_stride, x + (g0 + t0) * x_stride, x_stride, acc + t0 * kRowTile);
      }
    }
    for (int64_t t = 0; t < group; ++t)
      for (int64_t r = 0; r < rows; ++r) c[(g0 + t) * c_stride + r] = _mm512_reduce_add_ps(acc[t * kRowTile + r]);
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

// Round to nearest even on the bit pattern, NaN kept a quiet NaN: bit-identical to
// fp32_to_bf16 in core/half.h (VCVTNEPS2BF16 would flush denormals instead).
__m256i bf16_from_f32_bits(__m512i v) {
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(v, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(v, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  const __m512i magnitude = _mm512_and_si512(v, _mm512_set1_epi32(0x7fffffff));
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(magnitude, _mm512_set1_epi32(0x7f800000));
  const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(v, 16), _mm512_set1_epi32(0x40));
  return _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(rounded, nan, quiet));
}

void f32_to_bf16_act(const float* x, void* y, int64_t k) {
  char* out = static_cast<char*>(y);
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    const __m256i b = bf16_from_f32_bits(_mm512_loadu_si512(x + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 2 * i), b);
  }
  if (i < k) {
    const __mmask16 m = __mmask16(low_lanes(k - i));
    _mm256_mask_storeu_epi16(out + 2 * i, m, bf16_from_f32_bits(_mm512_maskz_loadu_epi32(m, x + i)));
  }
}

}  // namespace

void register_float_gemm_avx512(KernelTable& t) {
  t.weights[uint32_t(DType::F32)] = {DType::F32, f32_to_f32_act, gemm<F32Weights>};
  t.weights[uint32_t(DType::F16)] = {DType::F32, f32_to_f32_act, gemm<F16Weights>};
  t.weights[uint32_t(DType::BF16)] = {DType::BF16, f32_to_bf16_act, gemm<Bf16Weights>};
}

}  // namespace moxie::kernels
