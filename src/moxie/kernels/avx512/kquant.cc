// AVX-512 (VNNI) gemm for the K-quant weights Q4_K, Q5_K, Q6_K and Q8_K against Q8_K
// activations, and the float -> Q8_K conversion.
//
// Each weight super-block (256 elements) is first unpacked once into a common form: its
// quants as unsigned bytes in element order (4 x 64), the scale of each element pair as an
// int16 (so VPMADDUBSW's pair sums go straight into VPDPWSSD, which multiplies them by the
// scale and accumulates in int32), its fp32 super-block scale and a per-type correction:
//   Q4_K, Q5_K: -dmin * m_j for the 8 sub-blocks, times each token's dx * sum(x in j),
//   Q6_K, Q8_K: the quants are stored with an offset (q + 32, q + 128); the offset times
//               the scale is an int16 coefficient of the activation's bsums, added in int32.
// Blocking: kRowTile weight rows are unpacked for up to kChunkBlocks super-blocks (into L1),
// then for each tile of up to kTokTile tokens every unpacked row is dotted with the whole
// tile, its vectors held in registers. Every output's sequence of operations is independent
// of the tile it sits in, so results do not depend on how callers split rows or tokens.
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "moxie/core/quant_blocks.h"
#include "moxie/kernels/registry.h"

// GCC 12's own _mm512_cast*256*_*512 bodies trip these on their undefined upper halves.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace moxie::kernels {
namespace {

constexpr int kRowTile = 4;
constexpr int kTokTile = 8;
constexpr int kChunkBlocks = 16;  // super-blocks unpacked at once: 4 rows x 16 x 640 B = 40 KiB

struct alignas(64) Unpacked {
  __m512i q[4];   // quants, unsigned bytes; q[v] holds elements 64v .. 64v + 63
  __m512i sc[4];  // int16 lane p of sc[v]: the scale of elements 64v + 2p and 64v + 2p + 1
  __m256i aux;    // Q4_K/Q5_K: 8 floats -dmin * m_j; Q6_K/Q8_K: 16 int16 bsum coefficients
  float d;        // the super-block scale as fp32
};

// idx[v] lane p = scale index of elements 64v + 2p: 2v + p/16 for 32-element sub-blocks
// (Q4_K, Q5_K), 4v + p/8 for 16-element groups (Q6_K).
// Built at compile time: a constructor run at start-up would execute AVX-512 code on any CPU.
struct ScaleIndex {
  alignas(64) int16_t per32[4][32] = {};
  alignas(64) int16_t per16[4][32] = {};
  constexpr ScaleIndex() {
    for (int v = 0; v < 4; ++v) {
      for (int p = 0; p < 32; ++p) {
        per32[v][p] = int16_t(2 * v + p / 16);
        per16[v][p] = int16_t(4 * v + p / 8);
      }
    }
  }
};
constexpr ScaleIndex kScaleIndex;

__m512i load512(const void* p) { return _mm512_loadu_si512(p); }
__m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// The eight 6-bit scales (low 8 bytes) and mins (high 8 bytes) of a Q4_K/Q5_K block.
void unpack_scales_k4(const uint8_t* packed, uint64_t* scales, uint64_t* mins) {
  uint32_t u[3];
  memcpy(u, packed, 12);
  const uint32_t sc_lo = u[0] & 0x3f3f3f3f, m_lo = u[1] & 0x3f3f3f3f;
  const uint32_t sc_hi = (u[2] & 0x0f0f0f0f) | (((u[0] >> 6) & 0x03030303) << 4);
  const uint32_t m_hi = ((u[2] >> 4) & 0x0f0f0f0f) | (((u[1] >> 6) & 0x03030303) << 4);
  *scales = sc_lo | (uint64_t(sc_hi) << 32);
  *mins = m_lo | (uint64_t(m_hi) << 32);
}

// Scales, mins and d of a Q4_K/Q5_K block into u.
void unpack_affine_meta(uint16_t d, uint16_t dmin, const uint8_t* packed, Unpacked* u) {
  uint64_t scales, mins;
  unpack_scales_k4(packed, &scales, &mins);
  const __m512i sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(int64_t(scales))));
  for (int v = 0; v < 4; ++v) u->sc[v] = _mm512_permutexvar_epi16(_mm512_load_si512(kScaleIndex.per32[v]), sc16);
  const __m256 m = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(int64_t(mins))));
  u->aux = _mm256_castps_si256(_mm256_mul_ps(m, _mm256_set1_ps(-_cvtsh_ss(dmin))));
  u->d = _cvtsh_ss(d);
}

// 32 bytes of packed nibbles -> 64 quants: the low nibbles are elements 0..31, the high 32..63.
__m512i unpack_nibbles(const uint8_t* p) {
  const __m256i y = load256(p);
  const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(y), _mm256_srli_epi16(y, 4), 1);
  return _mm512_and_si512(both, _mm512_set1_epi8(0x0F));
}

// Multiplies 64 unsigned quants by 64 signed activations and adds the scaled pair sums.
__m512i dot64_scaled(__m512i acc, __m512i q, __m512i x, __m512i sc) {
  return _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(q, x), sc);
}

struct Q4K {
  using Block = BlockQ4_K;
  static constexpr bool kHasMin = true;
  static void unpack(const Block& b, Unpacked* u) {
    unpack_affine_meta(b.d, b.dmin, b.scales, u);
    for (int v = 0; v < 4; ++v) u->q[v] = unpack_nibbles(b.qs + 32 * v);
  }
  static __m512i dot64(__m512i acc, __m512i q, __m512i x, __m512i sc) { return dot64_scaled(acc, q, x, sc); }
};

struct Q5K {
  using Block = BlockQ5_K;
  static constexpr bool kHasMin = true;
  static void unpack(const Block& b, Unpacked* u) {
    unpack_affine_meta(b.d, b.dmin, b.scales, u);
    // Bit 4 of element 32j + l is bit j of qh[l]: q[v] needs bit 2v (low half), 2v + 1 (high).
    const __m512i qh = _mm512_broadcast_i64x4(load256(b.qh));
    for (int v = 0; v < 4; ++v) {
      const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8(char(1 << (2 * v))), _mm256_set1_epi8(char(2 << (2 * v))), 1);
      const __mmask64 high = _mm512_test_epi8_mask(qh, bit);
      const __m512i lo = unpack_nibbles(b.qs + 32 * v);
      u->q[v] = _mm512_mask_add_epi8(lo, high, lo, _mm512_set1_epi8(16));
    }
  }
  static __m512i dot64(__m512i acc, __m512i q, __m512i x, __m512i sc) { return dot64_scaled(acc, q, x, sc); }
};

struct Q6K {
  using Block = BlockQ6_K;
  static constexpr bool kHasMin = false;
  static void unpack(const Block& b, Unpacked* u) {
    const __m256i g16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
    for (int v = 0; v < 4; ++v) {
      u->sc[v] = _mm512_permutexvar_epi16(_mm512_load_si512(kScaleIndex.per16[v]), _mm512_castsi256_si512(g16));
    }
    u->aux = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(g16, 5));  // -32 * scale
    u->d = _cvtsh_ss(b.d);
    // Half h: ql[64h .. 64h+63] holds elements 128h + (0..63) in its low nibbles and
    // 128h + (64..127) in its high nibbles; qh[32h + l] gives 2 bits to each of
    // 128h + l, +32, +64, +96 at bit offsets 0, 2, 4, 6.
    const __m512i mask4 = _mm512_set1_epi8(0x0F), mask2 = _mm512_set1_epi8(0x03);
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = load512(b.ql + 64 * h);
      const __m512i qh = _mm512_broadcast_i64x4(load256(b.qh + 32 * h));
      const __m512i shift_lo = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
      const __m512i shift_hi = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);
      const __m512i top_lo = _mm512_and_si512(_mm512_srlv_epi16(qh, shift_lo), mask2);
      const __m512i top_hi = _mm512_and_si512(_mm512_srlv_epi16(qh, shift_hi), mask2);
      u->q[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, mask4), _mm512_slli_epi16(top_lo, 4));
      u->q[2 * h + 1] =
          _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), mask4), _mm512_slli_epi16(top_hi, 4));
    }
  }
  static __m512i dot64(__m512i acc, __m512i q, __m512i x, __m512i sc) { return dot64_scaled(acc, q, x, sc); }
};

struct Q8K {
  using Block = BlockQ8_K;
  static constexpr bool kHasMin = false;
  static void unpack(const Block& b, Unpacked* u) {
    // Signed quants + 128 are unsigned bytes for VPDPBUSD; -128 * bsums takes the offset off.
    for (int v = 0; v < 4; ++v) u->q[v] = _mm512_xor_si512(load512(b.qs + 64 * v), _mm512_set1_epi8(char(0x80)));
    for (int v = 0; v < 4; ++v) u->sc[v] = _mm512_setzero_si512();  // unused: one scale per block
    u->aux = _mm256_set1_epi16(-128);
    u->d = b.d;
  }
  static __m512i dot64(__m512i acc, __m512i q, __m512i x, __m512i) { return _mm512_dpbusd_epi32(acc, q, x); }
};

// acc += the dot product of one unpacked weight block with one activation block, as floats:
// (integer dot) * d * dx, plus the sub-block mins' term for Q4_K/Q5_K.
template <class Kind>
__attribute__((always_inline)) inline void accumulate_block(const Unpacked& u, const BlockQ8_K* xb, __m512& acc) {
  const __m512 dx = _mm512_set1_ps(xb->d);
  __m512i iacc = _mm512_setzero_si512();
  for (int v = 0; v < 4; ++v) iacc = Kind::dot64(iacc, u.q[v], load512(xb->qs + 64 * v), u.sc[v]);
  if constexpr (Kind::kHasMin) {
    // -dmin * m_j * dx * (sum of x over sub-block j), 8 lanes.
    const __m256i sums = _mm256_madd_epi16(load256(xb->bsums), _mm256_set1_epi16(1));
    const __m256 xsum = _mm256_mul_ps(_mm256_cvtepi32_ps(sums), _mm512_castps512_ps256(dx));
    acc = _mm512_add_ps(acc, _mm512_zextps256_ps512(_mm256_mul_ps(_mm256_castsi256_ps(u.aux), xsum)));
  } else {
    iacc = _mm512_dpwssd_epi32(iacc, _mm512_zextsi256_si512(load256(xb->bsums)), _mm512_zextsi256_si512(u.aux));
  }
  acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc), _mm512_mul_ps(_mm512_set1_ps(u.d), dx), acc);
}

// One chunk's sum into an output: stored for the first chunk of a row, added after.
inline void finish(__m512 acc, float* out, bool first) {
  const float sum = _mm512_reduce_add_ps(acc);
  *out = first ? sum : *out + sum;
}

// Adds the dot products of one unpacked row (blocks [0, n_blocks) of buf, one every kRowTile
// entries) with T activation rows (x at block 0 of token 0) into c[t * c_stride]; first says
// to store instead of add. One row at a time keeps its 8 unpacked vectors and T accumulators
// in registers while each token's 4 activation vectors are loaded once.
template <class Kind, int T>
void tile(const Unpacked* buf, int n_blocks, const char* x, int64_t x_stride, float* c,
          int64_t c_stride, bool first) {
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int b = 0; b < n_blocks; ++b) {
    for (int t = 0; t < T; ++t) {
      accumulate_block<Kind>(buf[b * kRowTile], reinterpret_cast<const BlockQ8_K*>(x + t * x_stride) + b, acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) finish(acc[t], c + t * c_stride, first);
}

// A single token: each weight block is unpacked into registers and used at once, skipping
// the round trip through the L1 buffer that only pays off when several tokens reuse it.
// The operations per output are those of gemm's tiles (same chunks, same order), so the
// results are bit-identical to the tiled path.
template <class Kind>
void gemv(int64_t k, const void* w, int64_t w_stride, int64_t n_rows, const void* x, float* c) {
  using Block = typename Kind::Block;
  const int64_t n_blocks = k / kQKK;
  const BlockQ8_K* xb = static_cast<const BlockQ8_K*>(x);
  for (int64_t r = 0; r < n_rows; ++r) {
    const Block* wr = reinterpret_cast<const Block*>(static_cast<const char*>(w) + r * w_stride);
    for (int64_t b0 = 0; b0 < n_blocks; b0 += kChunkBlocks) {
      const int64_t b1 = n_blocks - b0 < kChunkBlocks ? n_blocks : b0 + kChunkBlocks;
      __m512 acc = _mm512_setzero_ps();
      for (int64_t b = b0; b < b1; ++b) {
        Unpacked u;
        Kind::unpack(wr[b], &u);
        accumulate_block<Kind>(u, xb + b, acc);
      }
      finish(acc, c + r, b0 == 0);
    }
  }
}

template <class Kind>
void gemm(int64_t k, const void* w, int64_t w_stride, int64_t n_rows, const void* x, int64_t x_stride,
          int64_t n_tok, float* c, int64_t c_stride) {
  if (n_tok == 1) {
    gemv<Kind>(k, w, w_stride, n_rows, x, c);
    return;
  }
  using Block = typename Kind::Block;
  const int64_t n_blocks = k / kQKK;
  Unpacked buf[kChunkBlocks * kRowTile];
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowTile) {
    const int rows = int(n_rows - r0 < kRowTile ? n_rows - r0 : kRowTile);
    for (int64_t b0 = 0; b0 < n_blocks; b0 += kChunkBlocks) {
      const int nb = int(n_blocks - b0 < kChunkBlocks ? n_blocks - b0 : kChunkBlocks);
      for (int r = 0; r < rows; ++r) {
        const Block* wr = reinterpret_cast<const Block*>(static_cast<const char*>(w) + (r0 + r) * w_stride) + b0;
        for (int b = 0; b < nb; ++b) Kind::unpack(wr[b], &buf[b * kRowTile + r]);
      }
      const char* xc = static_cast<const char*>(x) + b0 * int64_t(sizeof(BlockQ8_K));
      // Token tiles of 8, then 4, 2, 1 for the tail.
      for (int64_t t0 = 0; t0 < n_tok;) {
        const int64_t left = n_tok - t0;
        const int tt = left >= kTokTile ? kTokTile : left >= 4 ? 4 : left >= 2 ? 2 : 1;
        for (int r = 0; r < rows; ++r) {
          const char* xt = xc + t0 * x_stride;
          float* ct = c + t0 * c_stride + r0 + r;
          const Unpacked* ub = buf + r;
          switch (tt) {
            case 1: tile<Kind, 1>(ub, nb, xt, x_stride, ct, c_stride, b0 == 0); break;
            case 2: tile<Kind, 2>(ub, nb, xt, x_stride, ct, c_stride, b0 == 0); break;
            case 4: tile<Kind, 4>(ub, nb, xt, x_stride, ct, c_stride, b0 == 0); break;
            default: tile<Kind, kTokTile>(ub, nb, xt, x_stride, ct, c_stride, b0 == 0); break;
          }
        }
        t0 += tt;
      }
    }
  }
}

// float -> Q8_K, identical to the reference: the element of largest magnitude (the first on
// ties) maps to -127; VCVTPS2DQ rounds to nearest even like ggml's nearest_int.
void quantize_block_q8k(const float* x, BlockQ8_K* y) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  __m512 vmax = _mm512_setzero_ps();
  for (int v = 0; v < 16; ++v) vmax = _mm512_max_ps(_mm512_andnot_ps(sign, _mm512_loadu_ps(x + 16 * v)), vmax);
  const float amax = _mm512_reduce_max_ps(vmax);  // NaNs are skipped, as the scalar > does
  if (amax == 0.f) {
    memset(y, 0, sizeof(*y));
    return;
  }
  float max = amax;
  for (int v = 0; v < 16; ++v) {
    const __m512 ax = _mm512_andnot_ps(sign, _mm512_loadu_ps(x + 16 * v));
    const __mmask16 hit = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(amax), _CMP_EQ_OQ);
    if (hit) {
      max = x[16 * v + __builtin_ctz(hit)];
      break;
    }
  }
  const float iscale = -127.f / max;
  for (int g = 0; g < 16; ++g) {
    __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * g), _mm512_set1_ps(iscale)));
    q = _mm512_min_epi32(q, _mm512_set1_epi32(127));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y->qs + 16 * g), _mm512_cvtsepi32_epi8(q));
    y->bsums[g] = int16_t(_mm512_reduce_add_epi32(q));
  }
  y->d = 1 / iscale;
}

void to_q8k(const float* x, void* y, int64_t k) {
  BlockQ8_K* out = static_cast<BlockQ8_K*>(y);
  for (int64_t b = 0; b < k / kQKK; ++b) quantize_block_q8k(x + kQKK * b, out + b);
}

}  // namespace

void register_kquant_avx512(KernelTable& t) {
  t.weights[int(DType::Q4_K)] = {DType::Q8_K, to_q8k, gemm<Q4K>};
  t.weights[int(DType::Q5_K)] = {DType::Q8_K, to_q8k, gemm<Q5K>};
  t.weights[int(DType::Q6_K)] = {DType::Q8_K, to_q8k, gemm<Q6K>};
  t.weights[int(DType::Q8_K)] = {DType::Q8_K, to_q8k, gemm<Q8K>};
}

}  // namespace moxie::kernels
