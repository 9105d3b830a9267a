// AVX2 gemm for the K-quant weights Q4_K, Q5_K, Q6_K and Q8_K against Q8_K activations, and
// the float -> Q8_K conversion. The scheme is the AVX-512 one (see avx512/kquant.cc) at
// 256 bits and without VNNI: each super-block is unpacked once into unsigned byte quants in
// element order (8 x 32), an int16 scale per element pair, its fp32 scale and a correction:
//   Q4_K, Q5_K: -dmin * m_j for the 8 sub-blocks, times each token's dx * sum(x in j),
//   Q6_K:       the quants are stored + 32; -32 * scale is an int16 coefficient of the bsums,
//   Q8_K:       signed quants, multiplied with VPSIGNB (|w| * sign(x, w)), no correction.
// Products: VPMADDUBSW (pairs, int16, cannot saturate for these ranges), VPMADDWD with the
// scales (int32), added. kRowTile rows are unpacked for up to kChunkBlocks blocks, then every
// tile of up to kTokTile tokens streams past them.
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "moxie/core/quant_blocks.h"
#include "moxie/kernels/registry.h"
#include "moxie/kernels/avx2/lanes.h"

namespace moxie::kernels {
namespace {

constexpr int kRowTile = 4;
constexpr int kTokTile = 4;
constexpr int kChunkBlocks = 16;  // 4 rows x 16 blocks x 576 B = 36 KiB of unpacked blocks

struct alignas(32) Unpacked {
  __m256i q[8];   // quants; q[v] holds elements 32v .. 32v + 31 (unsigned, signed for Q8_K)
  __m256i sc[8];  // int16 lane p of sc[v]: the scale of elements 32v + 2p and 32v + 2p + 1
  __m256i aux;    // Q4_K/Q5_K: 8 floats -dmin * m_j; Q6_K: 16 int16 bsum coefficients
  float d;        // the super-block scale as fp32
};

// Byte shuffles that spread int16 scales over a vector (compile-time: no start-up code).
struct ScaleShuffles {
  alignas(32) uint8_t splat[8][32] = {};  // every int16 lane <- lane j of a 128-bit source
  alignas(32) uint8_t pairs[4][32] = {};  // low half <- lane 2j, high half <- lane 2j + 1
  constexpr ScaleShuffles() {
    for (int j = 0; j < 8; ++j) {
      for (int i = 0; i < 32; ++i) splat[j][i] = uint8_t(2 * j + (i & 1));
    }
    for (int j = 0; j < 4; ++j) {
      for (int i = 0; i < 32; ++i) pairs[j][i] = uint8_t(2 * (2 * j + (i >= 16)) + (i & 1));
    }
  }
};
constexpr ScaleShuffles kShuffles;

__m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
__m256i load_ctrl(const uint8_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }

// Scales, mins and d of a Q4_K/Q5_K block (12 packed bytes of 6-bit scales and mins) into u.
void unpack_affine_meta(uint16_t d, uint16_t dmin, const uint8_t* packed, Unpacked* u) {
  uint32_t w[3];
  memcpy(w, packed, 12);
  const uint32_t sc_lo = w[0] & 0x3f3f3f3f, m_lo = w[1] & 0x3f3f3f3f;
  const uint32_t sc_hi = (w[2] & 0x0f0f0f0f) | (((w[0] >> 6) & 0x03030303) << 4);
  const uint32_t m_hi = ((w[2] >> 4) & 0x0f0f0f0f) | (((w[1] >> 6) & 0x03030303) << 4);
  const __m128i sc8 = _mm_cvtsi64_si128(int64_t(sc_lo | (uint64_t(sc_hi) << 32)));
  const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sc8));
  for (int v = 0; v < 8; ++v) u->sc[v] = _mm256_shuffle_epi8(sc16, load_ctrl(kShuffles.splat[v]));
  const __m128i m8 = _mm_cvtsi64_si128(int64_t(m_lo | (uint64_t(m_hi) << 32)));
  const __m256 m = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(m8));
  u->aux = _mm256_castps_si256(_mm256_mul_ps(m, _mm256_set1_ps(-_cvtsh_ss(dmin))));
  u->d = _cvtsh_ss(d);
}

__m256i dot32_scaled(__m256i acc, __m256i q, __m256i x, __m256i sc) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(q, x), sc));
}

struct Q4K {
  using Block = BlockQ4_K;
  static constexpr bool kHasMin = true, kHasBias = false;
  static void unpack(const Block& b, Unpacked* u) {
    unpack_affine_meta(b.d, b.dmin, b.scales, u);
    const __m256i mask4 = _mm256_set1_epi8(0x0F);
    for (int c = 0; c < 4; ++c) {  // chunk c: low nibbles are elements 64c.., high 64c + 32..
      const __m256i y = load256(b.qs + 32 * c);
      u->q[2 * c] = _mm256_and_si256(y, mask4);
      u->q[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(y, 4), mask4);
    }
  }
  static __m256i dot32(__m256i acc, __m256i q, __m256i x, __m256i sc) { return dot32_scaled(acc, q, x, sc); }
};

struct Q5K {
  using Block = BlockQ5_K;
  static constexpr bool kHasMin = true, kHasBias = false;
  static void unpack(const Block& b, Unpacked* u) {
    unpack_affine_meta(b.d, b.dmin, b.scales, u);
    const __m256i mask4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    const __m256i qh = load256(b.qh);  // bit j of qh[l]: bit 4 of element 32j + l
    for (int c = 0; c < 4; ++c) {
      const __m256i y = load256(b.qs + 32 * c);
      const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one);
      const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one);
      u->q[2 * c] = _mm256_or_si256(_mm256_and_si256(y, mask4), _mm256_slli_epi16(h0, 4));
      u->q[2 * c + 1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(y, 4), mask4), _mm256_slli_epi16(h1, 4));
    }
  }
  static __m256i dot32(__m256i acc, __m256i q, __m256i x, __m256i sc) { return dot32_scaled(acc, q, x, sc); }
};

struct Q6K {
  using Block = BlockQ6_K;
  static constexpr bool kHasMin = false, kHasBias = true;
  static void unpack(const Block& b, Unpacked* u) {
    const __m256i g16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
    const __m256i g_lo = _mm256_permute2x128_si256(g16, g16, 0x00), g_hi = _mm256_permute2x128_si256(g16, g16, 0x11);
    for (int v = 0; v < 8; ++v) {  // elements 32v.. are groups 2v and 2v + 1
      u->sc[v] = _mm256_shuffle_epi8(v < 4 ? g_lo : g_hi, load_ctrl(kShuffles.pairs[v % 4]));
    }
    u->aux = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(g16, 5));  // -32 * scale
    u->d = _cvtsh_ss(b.d);
    // Half h: ql[64h + l] has elements 128h + l (low nibble) and + 64 (high); ql[64h + 32 + l]
    // has + 32 and + 96; qh[32h + l] has the top 2 bits of + 0, + 32, + 64, + 96 at bit
    // offsets 0, 2, 4, 6.
    const __m256i mask4 = _mm256_set1_epi8(0x0F), mask2 = _mm256_set1_epi8(0x03);
    for (int h = 0; h < 2; ++h) {
      const __m256i a = load256(b.ql + 64 * h), c = load256(b.ql + 64 * h + 32), qh = load256(b.qh + 32 * h);
      const __m256i lows[4] = {_mm256_and_si256(a, mask4), _mm256_and_si256(c, mask4),
                               _mm256_and_si256(_mm256_srli_epi16(a, 4), mask4),
                               _mm256_and_si256(_mm256_srli_epi16(c, 4), mask4)};
      for (int quarter = 0; quarter < 4; ++quarter) {
        const __m256i top = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * quarter), mask2);
        u->q[4 * h + quarter] = _mm256_or_si256(lows[quarter], _mm256_slli_epi16(top, 4));
      }
    }
  }
  static __m256i dot32(__m256i acc, __m256i q, __m256i x, __m256i sc) { return dot32_scaled(acc, q, x, sc); }
};

struct Q8K {
  using Block = BlockQ8_K;
  static constexpr bool kHasMin = false, kHasBias = false;
  static void unpack(const Block& b, Unpacked* u) {
    for (int v = 0; v < 8; ++v) u->q[v] = load256(b.qs + 32 * v);
    for (int v = 0; v < 8; ++v) u->sc[v] = _mm256_set1_epi16(1);
    u->aux = _mm256_setzero_si256();
    u->d = b.d;
  }
  // |w| * (x with w's sign): pair sums reach 2 * 128 * 127 < 32767, so no saturation.
  static __m256i dot32(__m256i acc, __m256i q, __m256i x, __m256i sc) {
    return dot32_scaled(acc, _mm256_sign_epi8(q, q), _mm256_sign_epi8(x, q), sc);
  }
};

// Adds the dot products of kRowTile unpacked rows (buf, [block][row]) with T activation rows
// (x at block 0 of token 0) into c[t * c_stride + r] for r < n_rows; first: store, not add.
template <class Kind, int T>
void tile(const Unpacked* buf, int n_blocks, const char* x, int64_t x_stride, float* c,
          int64_t c_stride, int n_rows, bool first) {
  __m256 acc[kRowTile][T];
  for (int r = 0; r < kRowTile; ++r) {
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  }
  for (int b = 0; b < n_blocks; ++b) {
    const BlockQ8_K* xb[T];
    __m256 dx[T], xsum[T];
    for (int t = 0; t < T; ++t) {
      xb[t] = reinterpret_cast<const BlockQ8_K*>(x + t * x_stride) + b;
      dx[t] = _mm256_set1_ps(xb[t]->d);
      if constexpr (Kind::kHasMin) {  // dx * (sum of x over each 32-element sub-block)
        const __m256i sums = _mm256_madd_epi16(load256(xb[t]->bsums), _mm256_set1_epi16(1));
        xsum[t] = _mm256_mul_ps(_mm256_cvtepi32_ps(sums), dx[t]);
      }
    }
    for (int r = 0; r < kRowTile; ++r) {
      const Unpacked& u = buf[b * kRowTile + r];
      const __m256 d = _mm256_set1_ps(u.d);
      for (int t = 0; t < T; ++t) {
        __m256i iacc = _mm256_setzero_si256();
        for (int v = 0; v < 8; ++v) iacc = Kind::dot32(iacc, u.q[v], load256(xb[t]->qs + 32 * v), u.sc[v]);
        if constexpr (Kind::kHasBias) iacc = _mm256_add_epi32(iacc, _mm256_madd_epi16(load256(xb[t]->bsums), u.aux));
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc), _mm256_mul_ps(d, dx[t]), acc[r][t]);
        if constexpr (Kind::kHasMin) acc[r][t] = _mm256_fmadd_ps(_mm256_castsi256_ps(u.aux), xsum[t], acc[r][t]);
      }
    }
  }
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < n_rows; ++r) {
      const float sum = hsum(acc[r][t]);
      float* out = c + t * c_stride + r;
      *out = first ? sum : *out + sum;
    }
  }
}

template <class Kind>
void gemm(int64_t k, const void* w, int64_t w_stride, int64_t n_rows, const void* x, int64_t x_stride,
          int64_t n_tok, float* c, int64_t c_stride) {
  using Block = typename Kind::Block;
  const int64_t n_blocks = k / kQKK;
  Unpacked buf[kChunkBlocks * kRowTile];
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowTile) {
    const int rows = int(n_rows - r0 < kRowTile ? n_rows - r0 : kRowTile);
    for (int64_t b0 = 0; b0 < n_blocks; b0 += kChunkBlocks) {
      const int nb = int(n_blocks - b0 < kChunkBlocks ? n_blocks - b0 : kChunkBlocks);
      for (int r = 0; r < kRowTile; ++r) {  // a short tile repeats its last row
        const int64_t row = r0 + (r < rows ? r : rows - 1);
        const Block* wr = reinterpret_cast<const Block*>(static_cast<const char*>(w) + row * w_stride) + b0;
        for (int b = 0; b < nb; ++b) Kind::unpack(wr[b], &buf[b * kRowTile + r]);
      }
      const char* xc = static_cast<const char*>(x) + b0 * int64_t(sizeof(BlockQ8_K));
      for (int64_t t0 = 0; t0 < n_tok; t0 += kTokTile) {
        const char* xt = xc + t0 * x_stride;
        float* ct = c + t0 * c_stride + r0;
        switch (n_tok - t0 < kTokTile ? n_tok - t0 : kTokTile) {
          case 1: tile<Kind, 1>(buf, nb, xt, x_stride, ct, c_stride, rows, b0 == 0); break;
          case 2: tile<Kind, 2>(buf, nb, xt, x_stride, ct, c_stride, rows, b0 == 0); break;
          case 3: tile<Kind, 3>(buf, nb, xt, x_stride, ct, c_stride, rows, b0 == 0); break;
          default: tile<Kind, 4>(buf, nb, xt, x_stride, ct, c_stride, rows, b0 == 0); break;
        }
      }
    }
  }
}

// float -> Q8_K, identical to the reference (see avx512/kquant.cc).
void quantize_block_q8k(const float* x, BlockQ8_K* y) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 vmax = _mm256_setzero_ps();
  for (int v = 0; v < 32; ++v) vmax = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * v)), vmax);
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float amax = _mm_cvtss_f32(m4);  // NaNs are skipped, as the scalar > does
  if (amax == 0.f) {
    memset(y, 0, sizeof(*y));
    return;
  }
  float max = amax;
  for (int v = 0; v < 32; ++v) {
    const __m256 ax = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * v));
    const int hit = _mm256_movemask_ps(_mm256_cmp_ps(ax, _mm256_set1_ps(amax), _CMP_EQ_OQ));
    if (hit) {
      max = x[8 * v + __builtin_ctz(unsigned(hit))];
      break;
    }
  }
  const float iscale = -127.f / max;
  const __m256 vscale = _mm256_set1_ps(iscale);
  const __m256i limit = _mm256_set1_epi32(127);
  for (int g = 0; g < 16; ++g) {
    const __m256i a = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16 * g), vscale)), limit);
    const __m256i b = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16 * g + 8), vscale)), limit);
    const __m256i q16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);  // 16 int16 in order
    const __m128i q8 = _mm_packs_epi16(_mm256_castsi256_si128(q16), _mm256_extracti128_si256(q16, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y->qs + 16 * g), q8);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(_mm256_add_epi32(a, b)), _mm256_extracti128_si256(_mm256_add_epi32(a, b), 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    y->bsums[g] = int16_t(_mm_cvtsi128_si32(s));
  }
  y->d = 1 / iscale;
}

void to_q8k(const float* x, void* y, int64_t k) {
  BlockQ8_K* out = static_cast<BlockQ8_K*>(y);
  for (int64_t b = 0; b < k / kQKK; ++b) quantize_block_q8k(x + kQKK * b, out + b);
}

}  // namespace

void register_kquant_avx2(KernelTable& t) {
  t.weights[int(DType::Q4_K)] = {DType::Q8_K, to_q8k, gemm<Q4K>};
  t.weights[int(DType::Q5_K)] = {DType::Q8_K, to_q8k, gemm<Q5K>};
  t.weights[int(DType::Q6_K)] = {DType::Q8_K, to_q8k, gemm<Q6K>};
  t.weights[int(DType::Q8_K)] = {DType::Q8_K, to_q8k, gemm<Q8K>};
}

}  // namespace moxie::kernels
