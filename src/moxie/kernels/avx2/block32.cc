// AVX2 gemm for the 32-element block weights, and float -> Q8_0 / Q8_1 activation rows.
//
// A weight block is unpacked to 32 unsigned bytes u = q + offset (offset 8 for Q4_0, 16 for
// Q5_0, 12 for MXFP4, 0 for Q4_1/Q5_1), so one maddubs (u8 x s8 -> s16, no saturation as
// u <= 31) gives the products; the offset is taken back out with offset * sum(x), computed once
// per activation block and shared by every weight row of the tile. Q8_0 weights are signed and
// use the sign trick instead: maddubs(|w|, sign(x, w)). That needs activations in -127..127,
// which to_act guarantees (a stored -128 would overflow, as in ggml).
//
// Tiling: kRows weight rows x kToks tokens per inner loop, so each unpacked weight block is
// used kToks times and each activation block kRows times.
#include <immintrin.h>
#include <string.h>

#include "moxie/core/quant_blocks.h"
#include "moxie/kernels/registry.h"
#include "moxie/kernels/avx2/lanes.h"

namespace moxie::kernels {
namespace {

constexpr int kRows = 4;
constexpr int kToks = 2;
constexpr int64_t kTokChunk = 64;  // tokens whose activations stay in L2 while weights stream
// Software prefetch this far ahead in each weight row (several rows stream at once).
constexpr int kPrefetchBytes = 512;

// 16 bytes of nibble pairs -> 32 codes 0..15 in element order (low nibbles first).
__m256i nibbles(const uint8_t* qs) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(q, 4), q);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// qh bit j -> 0x10 in byte j (the fifth bit of element j).
__m256i fifth_bits(const uint8_t* qh) {
  uint32_t bits;
  memcpy(&bits, qh, 4);
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(int(bits)),
      _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
  const __m256i bit = _mm256_set1_epi64x(int64_t(0x8040201008040201ull));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

float half(uint16_t h) { return _cvtsh_ss(h); }

float e8m0_half(uint8_t e) {  // 2^(e - 128), see quant/block32_codec.h
  const uint32_t bits = e < 2 ? 0x00200000u << e : uint32_t(e - 1) << 23;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

// Weight traits: codes() returns the 32 bytes described above, scale() the block's d, min()
// its m. kOffset is what codes() added; kSigned marks Q8_0's signed codes.
struct Q4_0 {
  using Block = BlockQ4_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 8;
  static constexpr bool kSigned = false, kMin = false;
  static __m256i codes(const Block* b) { return nibbles(b->qs); }
  static float scale(const Block* b) { return half(b->d); }
  static float min(const Block*) { return 0.0f; }
};

struct Q4_1 {
  using Block = BlockQ4_1;
  using Act = BlockQ8_1;
  static constexpr int kOffset = 0;
  static constexpr bool kSigned = false, kMin = true;
  static __m256i codes(const Block* b) { return nibbles(b->qs); }
  static float scale(const Block* b) { return half(b->d); }
  static float min(const Block* b) { return half(b->m); }
};

struct Q5_0 {
  using Block = BlockQ5_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 16;
  static constexpr bool kSigned = false, kMin = false;
  static __m256i codes(const Block* b) { return _mm256_or_si256(nibbles(b->qs), fifth_bits(b->qh)); }
  static float scale(const Block* b) { return half(b->d); }
  static float min(const Block*) { return 0.0f; }
};

struct Q5_1 {
  using Block = BlockQ5_1;
  using Act = BlockQ8_1;
  static constexpr int kOffset = 0;
  static constexpr bool kSigned = false, kMin = true;
  static __m256i codes(const Block* b) { return _mm256_or_si256(nibbles(b->qs), fifth_bits(b->qh)); }
  static float scale(const Block* b) { return half(b->d); }
  static float min(const Block* b) { return half(b->m); }
};

struct Q8_0 {
  using Block = BlockQ8_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 0;
  static constexpr bool kSigned = true, kMin = false;
  static __m256i codes(const Block* b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qs)); }
  static float scale(const Block* b) { return half(b->d); }
  static float min(const Block*) { return 0.0f; }
};

struct MXFP4 {
  using Block = BlockMXFP4;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 12;  // doubled E2M1 values -12..12 shifted to 0..24
  static constexpr bool kSigned = false, kMin = false;
  static __m256i codes(const Block* b) {
    const __m256i table = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0));
    return _mm256_shuffle_epi8(table, nibbles(b->qs));
  }
  static float scale(const Block* b) { return e8m0_half(b->e); }
  static float min(const Block*) { return 0.0f; }
};

// 8 int32 lanes, each the sum of 4 products u8 * s8.
__m256i dot_unsigned(__m256i u, __m256i x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), _mm256_set1_epi16(1));
}

__m256i dot_signed(__m256i w, __m256i x) {
  return dot_unsigned(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
}

// C[t, r] for R rows x T tokens over nb blocks. w/x point at the tile's first row/token.
template <class W, int R, int T>
void gemm_tile(int64_t nb, const char* w, int64_t w_stride, const char* x, int64_t x_stride, float* c,
               int64_t c_stride) {
  using Block = typename W::Block;
  using Act = typename W::Act;
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();

  for (int64_t b = 0; b < nb; ++b) {
    __m256i xq[T], x_offset[T];
    __m256 dx[T], sx[T];
    for (int t = 0; t < T; ++t) {
      const Act* xb = reinterpret_cast<const Act*>(x + t * x_stride) + b;
      xq[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb->qs));
      dx[t] = _mm256_set1_ps(half(xb->d));
      if constexpr (W::kOffset != 0) x_offset[t] = dot_unsigned(_mm256_set1_epi8(W::kOffset), xq[t]);
      if constexpr (W::kMin) sx[t] = _mm256_set1_ps(half(xb->s) * 0.125f);  // spread over 8 lanes
    }
    for (int r = 0; r < R; ++r) {
      const Block* wb = reinterpret_cast<const Block*>(w + r * w_stride) + b;
      _mm_prefetch(reinterpret_cast<const char*>(wb) + kPrefetchBytes, _MM_HINT_T0);
      const __m256i u = W::codes(wb);
      const __m256 dw = _mm256_set1_ps(W::scale(wb));
      const __m256 mw = _mm256_set1_ps(W::min(wb));
      for (int t = 0; t < T; ++t) {
        __m256i isum = W::kSigned ? dot_signed(u, xq[t]) : dot_unsigned(u, xq[t]);
        if constexpr (W::kOffset != 0) isum = _mm256_sub_epi32(isum, x_offset[t]);
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, dx[t]), acc[r][t]);
        if constexpr (W::kMin) acc[r][t] = _mm256_fmadd_ps(mw, sx[t], acc[r][t]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) c[t * c_stride + r] = hsum(acc[r][t]);
}

// All rows x tokens [t0, t1): full tiles, then single tokens, then single rows.
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
  for (int64_t t0 = 0; t0 < n_tok; t0 += kTokChunk) {
    const int64_t t1 = t0 + kTokChunk < n_tok ? t0 + kTokChunk : n_tok;
    int64_t r = 0;
    for (; r + kRows <= n_rows; r += kRows) {
      gemm_rows<W, kRows>(nb, wp + r * w_stride, w_stride, xp, x_stride, t0, t1, c + r, c_stride);
    }
    for (; r < n_rows; ++r) gemm_rows<W, 1>(nb, wp + r * w_stride, w_stride, xp, x_stride, t0, t1, c + r, c_stride);
  }
}

// roundf semantics (halves away from zero), matching the reference quantizer bit for bit:
// truncate, then step away from zero when the dropped fraction (exact) is at least 0.5.
__m256 round_half_away(__m256 v) {
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 frac = _mm256_and_ps(_mm256_sub_ps(v, t), abs_mask);
  const __m256 step = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_andnot_ps(abs_mask, v));  // +-1
  return _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ), step));
}

// One block of 32 floats -> 32 codes stored at qs; returns d = amax / 127 (fp32) and the
// code sum in *sum.
float quantize_block_q8(const float* x, int8_t* qs, int* sum) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 v[4];
  __m256 amax = _mm256_setzero_ps();
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm256_loadu_ps(x + 8 * i);
    amax = _mm256_max_ps(amax, _mm256_and_ps(v[i], abs_mask));
  }
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  const float d = _mm_cvtss_f32(m) / 127;
  const __m256 id = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
  __m256i q[4];
  for (int i = 0; i < 4; ++i) q[i] = _mm256_cvtps_epi32(round_half_away(_mm256_mul_ps(v[i], id)));
  const __m256i sums = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1));
  s = _mm_hadd_epi32(s, s);
  s = _mm_hadd_epi32(s, s);
  *sum = _mm_cvtsi128_si32(s);
  // packs work per 128-bit lane; the permute puts the 4-element groups back in order.
  const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
  const __m256i ordered = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), ordered);
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

void register_block32_avx2(KernelTable& t) {
  t.weights[uint32_t(DType::Q4_0)] = {DType::Q8_0, to_q8_0, gemm<Q4_0>};
  t.weights[uint32_t(DType::Q4_1)] = {DType::Q8_1, to_q8_1, gemm<Q4_1>};
  t.weights[uint32_t(DType::Q5_0)] = {DType::Q8_0, to_q8_0, gemm<Q5_0>};
  t.weights[uint32_t(DType::Q5_1)] = {DType::Q8_1, to_q8_1, gemm<Q5_1>};
  t.weights[uint32_t(DType::Q8_0)] = {DType::Q8_0, to_q8_0, gemm<Q8_0>};
  t.weights[uint32_t(DType::MXFP4)] = {DType::Q8_0, to_q8_0, gemm<MXFP4>};
}

}  // namespace moxie::kernels
