// AVX-512 (VNNI) gemm for the 32-element block weights, and float -> Q8_0 / Q8_1 rows.
//
// vpdpbusd multiplies unsigned bytes by signed bytes. Every weight block is therefore unpacked
// to unsigned codes u = q + offset (Q4_0: 8, Q5_0: 16, MXFP4: 12, Q8_0: 128 by flipping the
// sign bit, Q4_1/Q5_1: 0) and the offset is removed by starting the accumulator at
// -offset * sum(x) per 4-byte group: that start value depends only on the activation block, so
// it is computed once per tile and shared by all its weight rows. Sums are exact (no
// saturation: |u * x| <= 255 * 128, 4 per lane).
//
// One zmm holds two consecutive blocks (block b in the low 256 bits, b + 1 in the high), so a
// step is 64 multiply-adds per (row, token) pair; a tile is kRows rows x kToks tokens.
#include <immintrin.h>
#include <string.h>

#include "moxie/core/quant_blocks.h"
#include "moxie/kernels/registry.h"

// GCC 12's intrinsic headers build "undefined" vectors from themselves (_mm512_undefined_*),
// which -Wuninitialized reports inside every cast/insert/convert; the warnings are false.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace moxie::kernels {
namespace {

constexpr int kRows = 4;
constexpr int kToks = 4;
constexpr int kGemvRows = 8;  // rows per tile when there is a single token
constexpr int64_t kTokChunk = 64;  // tokens whose activations stay in L2 while weights stream
// Software prefetch this far ahead in each weight row: with several rows streaming at once the
// hardware prefetcher alone left a matvec well short of DRAM bandwidth.
constexpr int kPrefetchBytes = 512;

__m256i nibbles(const uint8_t* qs) {  // 16 bytes -> 32 codes 0..15, low nibbles first
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(q, 4), q);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

__m256i fifth_bits(const uint8_t* qh) {  // qh bit j -> 0x10 in byte j
  uint32_t bits;
  memcpy(&bits, qh, 4);
  return _mm256_maskz_mov_epi8(__mmask32(bits), _mm256_set1_epi8(0x10));
}

float half(uint16_t h) { return _cvtsh_ss(h); }

float e8m0_half(uint8_t e) {  // 2^(e - 128), see quant/block32_codec.h
  const uint32_t bits = e < 2 ? 0x00200000u << e : uint32_t(e - 1) << 23;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

// Weight traits: codes() = 32 unsigned bytes q + kOffset, scale() = d, min() = m.
struct Q4_0 {
  using Block = BlockQ4_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 8;
  static constexpr bool kMin = false;
  static __m256i codes(const Block* b) { return nibbles(b->qs); }
  static float scale(const Block* b) { return half(b->d); }
  static float min(const Block*) { return 0.0f; }
};

struct Q4_1 {
  using Block = BlockQ4_1;
  using Act = BlockQ8_1;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true;
  static __m256i codes(const Block* b) { return nibbles(b->qs); }
  static float scale(const Block* b) { return half(b->d); }
  static float min(const Block* b) { return half(b->m); }
};

struct Q5_0 {
  using Block = BlockQ5_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 16;
  static constexpr bool kMin = false;
  static __m256i codes(const Block* b) { return _mm256_or_si256(nibbles(b->qs), fifth_bits(b->qh)); }
  static float scale(const Block* b) { return half(b->d); }
  static float min(const Block*) { return 0.0f; }
};

struct Q5_1 {
  using Block = BlockQ5_1;
  using Act = BlockQ8_1;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true;
  static __m256i codes(const Block* b) { return _mm256_or_si256(nibbles(b->qs), fifth_bits(b->qh)); }
  static float scale(const Block* b) { return half(b->d); }
  static float min(const Block* b) { return half(b->m); }
};

struct Q8_0 {
  using Block = BlockQ8_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 128;
  static constexpr bool kMin = false;
  static __m256i codes(const Block* b) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qs));
    return _mm256_xor_si256(q, _mm256_set1_epi8(char(0x80)));  // q + 128 as unsigned
  }
  static float scale(const Block* b) { return half(b->d); }
  static float min(const Block*) { return 0.0f; }
};

struct MXFP4 {
  using Block = BlockMXFP4;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 12;  // doubled E2M1 values -12..12 shifted to 0..24
  static constexpr bool kMin = false;
  static __m256i codes(const Block* b) {
    const __m256i table = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0));
    return _mm256_shuffle_epi8(table, nibbles(b->qs));
  }
  static float scale(const Block* b) { return e8m0_half(b->e); }
  static float min(const Block*) { return 0.0f; }
};

__m512i join(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }
__m512 join(float lo, float hi) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(lo)), _mm256_set1_ps(hi), 1);
}

// Tile accumulators: 16 float lanes per (row, token), summed horizontally at the end.
template <int R, int T>
struct Acc {
  __m512 v[R][T];
};

// Blocks b and b + 1 (kPair) or block b alone (upper half zero) into the accumulators.
template <class W, int R, int T, bool kPair>
__attribute__((always_inline)) inline void gemm_step(int64_t b, const char* w, int64_t w_stride,
                                                     const char* x, int64_t x_stride, Acc<R, T>& acc) {
  using Block = typename W::Block;
  using Act = typename W::Act;
  __m512i xq[T], start[T];
  __m512 dx[T], sx[T];
  for (int t = 0; t < T; ++t) {
    const Act* xb = reinterpret_cast<const Act*>(x + t * x_stride) + b;
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[0].qs));
    const __m256i hi = kPair ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[1].qs))
                             : _mm256_setzero_si256();
    xq[t] = join(lo, hi);
    dx[t] = join(half(xb[0].d), kPair ? half(xb[1].d) : 0.0f);
    start[t] = _mm512_setzero_si512();
    if constexpr (W::kOffset != 0) {
      const __m512i offset_sum = _mm512_dpbusd_epi32(start[t], _mm512_set1_epi8(char(W::kOffset)), xq[t]);
      start[t] = _mm512_sub_epi32(start[t], offset_sum);
    }
    if constexpr (W::kMin) sx[t] = join(half(xb[0].s) * 0.125f, kPair ? half(xb[1].s) * 0.125f : 0.0f);
  }
  for (int r = 0; r < R; ++r) {
    const Block* wb = reinterpret_cast<const Block*>(w + r * w_stride) + b;
    _mm_prefetch(reinterpret_cast<const char*>(wb) + kPrefetchBytes, _MM_HINT_T0);
    const __m512i u = join(W::codes(wb), kPair ? W::codes(wb + 1) : _mm256_setzero_si256());
    const __m512 dw = join(W::scale(wb), kPair ? W::scale(wb + 1) : 0.0f);
    __m512 mw;
    if constexpr (W::kMin) mw = join(W::min(wb), kPair ? W::min(wb + 1) : 0.0f);
    for (int t = 0; t < T; ++t) {
      const __m512i isum = _mm512_dpbusd_epi32(start[t], u, xq[t]);
      acc.v[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, dx[t]), acc.v[r][t]);
      if constexpr (W::kMin) acc.v[r][t] = _mm512_fmadd_ps(mw, sx[t], acc.v[r][t]);  // m * s / 8, 8 lanes
    }
  }
}

template <class W, int R, int T>
void gemm_tile(int64_t nb, const char* w, int64_t w_stride, const char* x, int64_t x_stride, float* c,
               int64_t c_stride) {
  Acc<R, T> acc;
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc.v[r][t] = _mm512_setzero_ps();
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) gemm_step<W, R, T, true>(b, w, w_stride, x, x_stride, acc);
  if (b < nb) gemm_step<W, R, T, false>(b, w, w_stride, x, x_stride, acc);
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) c[t * c_stride + r] = _mm512_reduce_add_ps(acc.v[r][t]);
}

// All rows of one row tile x tokens [t0, t1): full token tiles, then single tokens.
template <class W, int R>
void gemm_rows(int64_t nb, const char* w, int64_t w_stride, const char* x, int64_t x_stride, int64_t t0,
               int64_t t1, float* c, int64_t c_stride) {
  int64_t t = t0;
  for (; t + kToks <= t1; t += kToks) {
    gemm_tile<W, R, kToks>(nb, w, w_stride, x + t * x_stride, x_stride, c + t * c_stride, c_stride);
  }
  for (; t < t1; ++t) gemm_tile<W, R, 1>(nb, w, w_stride, x + t * x_stride, x_stride, c + t * c_stride, c_stride);
}

template <class W>
void gemm(int64_t k, const void* w, int64_t w_stride, int64_t n_rows, const void* x, int64_t x_stride,
          int64_t n_tok, float* c, int64_t c_stride) {
  const int64_t nb = k / kQK32;
  const char* wp = static_cast<const char*>(w);
  const char* xp = static_cast<const char*>(x);
  if (n_tok == 1) {
    // One token: twice the rows per tile, so twice the weight streams are in flight.
    int64_t r = 0;
    for (; r + kGemvRows <= n_rows; r += kGemvRows) {
      gemm_tile<W, kGemvRows, 1>(nb, wp + r * w_stride, w_stride, xp, x_stride, c + r, c_stride);
    }
    for (; r < n_rows; ++r) gemm_tile<W, 1, 1>(nb, wp + r * w_stride, w_stride, xp, x_stride, c + r, c_stride);
    return;
  }
  for (int64_t t0 = 0; t0 < n_tok; t0 += kTokChunk) {
    const int64_t t1 = t0 + kTokChunk < n_tok ? t0 + kTokChunk : n_tok;
    int64_t r = 0;
    for (; r + kRows <= n_rows; r += kRows) {
      gemm_rows<W, kRows>(nb, wp + r * w_stride, w_stride, xp, x_stride, t0, t1, c + r, c_stride);
    }
    for (; r < n_rows; ++r) gemm_rows<W, 1>(nb, wp + r * w_stride, w_stride, xp, x_stride, t0, t1, c + r, c_stride);
  }
}

// roundf semantics (halves away from zero) bit for bit: truncate, then step away from zero
// when the dropped fraction (computed exactly) is at least one half.
__m512 round_half_away(__m512 v) {
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512 step = _mm512_castsi512_ps(_mm512_or_si512(
      _mm512_castps_si512(_mm512_set1_ps(1.0f)),
      _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(int(0x80000000u)))));  // +-1
  return _mm512_mask_add_ps(t, up, t, step);
}

// One block of 32 floats -> codes at qs; returns d = amax / 127 (fp32), the code sum in *sum.
float quantize_block_q8(const float* x, int8_t* qs, int* sum) {
  const __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
  const float d = amax / 127;
  const __m512 id = _mm512_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
  const __m512i q_lo = _mm512_cvttps_epi32(round_half_away(_mm512_mul_ps(lo, id)));
  const __m512i q_hi = _mm512_cvttps_epi32(round_half_away(_mm512_mul_ps(hi, id)));
  *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q_lo, q_hi));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), _mm512_cvtepi32_epi8(q_lo));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 16), _mm512_cvtepi32_epi8(q_hi));
  return d;
}

void to_q8_0(const float* x, void* y, int64_t k) {
  BlockQ8_0* out = static_cast<BlockQ8_0*>(y);
  for (int64_t i = 0; i < k / kQK32; ++i) {
    int sum;
    const float d = quantize_block_q8(x + i * kQK32, out[i].qs, &sum);
    out[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
  }
}

void to_q8_1(const float* x, void* y, int64_t k) {
  BlockQ8_1* out = static_cast<BlockQ8_1*>(y);
  for (int64_t i = 0; i < k / kQK32; ++i) {
    int sum;
    const float d = quantize_block_q8(x + i * kQK32, out[i].qs, &sum);
    out[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
    out[i].s = _cvtss_sh(float(sum) * d, _MM_FROUND_TO_NEAREST_INT);
  }
}

}  // namespace

void register_block32_avx512(KernelTable& t) {
  t.weights[uint32_t(DType::Q4_0)] = {DType::Q8_0, to_q8_0, gemm<Q4_0>};
  t.weights[uint32_t(DType::Q4_1)] = {DType::Q8_1, to_q8_1, gemm<Q4_1>};
  t.weights[uint32_t(DType::Q5_0)] = {DType::Q8_0, to_q8_0, gemm<Q5_0>};
  t.weights[uint32_t(DType::Q5_1)] = {DType::Q8_1, to_q8_1, gemm<Q5_1>};
  t.weights[uint32_t(DType::Q8_0)] = {DType::Q8_0, to_q8_0, gemm<Q8_0>};
  t.weights[uint32_t(DType::MXFP4)] = {DType::Q8_0, to_q8_0, gemm<MXFP4>};
}

}  // namespace moxie::kernels
