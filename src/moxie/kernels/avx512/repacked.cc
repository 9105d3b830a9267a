// AVX-512 (VNNI) gemm for the 16-row interleaved layouts Q4_K_R16 (x Q8_K activations) and
// Q8_0_R16 (x Q8_0 activations); layouts in quant/repack.h.
//
// Each 32-bit lane of a weight vector holds 4 consecutive elements of one of 16 rows, so one
// VPDPBUSD against 4 activation bytes broadcast to every lane advances 16 dot products at
// once, and no horizontal sum is ever needed: a lane is an output. Up to kMaxTok tokens
// share every weight vector loaded (a register tile of 16 rows x kMaxTok tokens). Each
// output's operations do not depend on which tile it sits in, so results are the same however
// callers split rows (at multiples of 16) or tokens.
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "moxie/core/quant_blocks.h"
#include "moxie/kernels/registry.h"

namespace moxie::kernels {
namespace {

constexpr int kMaxTokQ4K = 4;    // accumulators: 4 tokens x (sub-block, super-block, mins, sum)
constexpr int kMaxTokQ8_0 = 8;   // 8 tokens x (block, sum)
constexpr int kChunkQ8_0 = 64;   // Q8_0 blocks whose activation sums are prepared at once

__m512i bcast32(const void* p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

__m512 half16(const uint16_t* h) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h)));
}

// ---- Q4_K_R16 x Q8_K -------------------------------------------------------------------
//
// Per super-block and row: dx * (d * sum_j sc_j * dot_j - dmin * sum_j m_j * xsum_j), where
// dot_j = sum of q * x over sub-block j (VPDPBUSD, unsigned nibbles by signed activations),
// and xsum_j = the activations' sum over sub-block j = bsums[2j] + bsums[2j + 1]: VPDPWSSD
// against the min duplicated into both 16-bit halves of each lane forms m_j * xsum_j.

template <int T>
void q4k_group(const BlockQ4_K_R16* w, int64_t n_blocks, const char* x, int64_t x_stride, float* c,
               int64_t c_stride) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512 sum[T];
  for (int t = 0; t < T; ++t) sum[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const BlockQ4_K_R16& g = w[b];
    const BlockQ8_K* xb[T];
    for (int t = 0; t < T; ++t) xb[t] = reinterpret_cast<const BlockQ8_K*>(x + t * x_stride) + b;
    __m512 scaled[T];
    __m512i mins[T];
    for (int t = 0; t < T; ++t) {
      scaled[t] = _mm512_setzero_ps();
      mins[t] = _mm512_setzero_si512();
    }
    for (int j = 0; j < kQKK / 32; ++j) {
      __m512i dot[T];
      for (int t = 0; t < T; ++t) dot[t] = _mm512_setzero_si512();
      for (int p = 0; p < 4; ++p) {
        const __m512i q = _mm512_loadu_si512(g.qs[j][p]);
        const __m512i lo = _mm512_and_si512(q, low4);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
        for (int t = 0; t < T; ++t) {
          dot[t] = _mm512_dpbusd_epi32(dot[t], lo, bcast32(xb[t]->qs + 32 * j + 8 * p));
          dot[t] = _mm512_dpbusd_epi32(dot[t], hi, bcast32(xb[t]->qs + 32 * j + 8 * p + 4));
        }
      }
      const __m512 sc = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g.scales[j]))));
      const __m512i m32 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g.mins[j])));
      const __m512i m_both = _mm512_or_si512(m32, _mm512_slli_epi32(m32, 16));
      for (int t = 0; t < T; ++t) {
        scaled[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[t]), sc, scaled[t]);
        mins[t] = _mm512_dpwssd_epi32(mins[t], m_both, bcast32(xb[t]->bsums + 2 * j));
      }
    }
    const __m512 d = half16(g.d), dmin = half16(g.dmin);
    for (int t = 0; t < T; ++t) {
      const __m512 v = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mins[t]), dmin, _mm512_mul_ps(scaled[t], d));
      sum[t] = _mm512_fmadd_ps(v, _mm512_set1_ps(xb[t]->d), sum[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm512_storeu_ps(c + t * c_stride, sum[t]);
}

void gemm_q4k_r16(int64_t k, const void* w, int64_t w_stride, int64_t n_rows, const void* x, int64_t x_stride,
                  int64_t n_tok, float* c, int64_t c_stride) {
  const int64_t n_blocks = k / kQKK;
  const char* xs = static_cast<const char*>(x);
  for (int64_t r0 = 0; r0 < n_rows; r0 += kR16) {
    const BlockQ4_K_R16* g = reinterpret_cast<const BlockQ4_K_R16*>(static_cast<const char*>(w) + r0 * w_stride);
    for (int64_t t0 = 0; t0 < n_tok;) {
      const int64_t left = n_tok - t0;
      const char* xt = xs + t0 * x_stride;
      float* ct = c + t0 * c_stride + r0;
      switch (left >= kMaxTokQ4K ? kMaxTokQ4K : left) {
        case 1: q4k_group<1>(g, n_blocks, xt, x_stride, ct, c_stride); break;
        case 2: q4k_group<2>(g, n_blocks, xt, x_stride, ct, c_stride); break;
        case 3: q4k_group<3>(g, n_blocks, xt, x_stride, ct, c_stride); break;
        default: q4k_group<kMaxTokQ4K>(g, n_blocks, xt, x_stride, ct, c_stride); break;
      }
      t0 += left >= kMaxTokQ4K ? kMaxTokQ4K : left;
    }
  }
}

// ---- Q8_0_R16 x Q8_0 --------------------------------------------------------------------
//
// The weights are stored as q + 128 (unsigned, for VPDPBUSD), so each block's integer dot
// starts from -128 * sum(x) to take the offset off again.

// Per token and block of one chunk: the starting value -128 * sum(x) and x's scale.
struct Q8_0Prep {
  int32_t start[kMaxTokQ8_0][kChunkQ8_0];
  float dx[kMaxTokQ8_0][kChunkQ8_0];
};

float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

void prepare_q8_0(const char* x, int64_t x_stride, int n_tok, int64_t b0, int nb, Q8_0Prep* prep) {
  for (int t = 0; t < n_tok; ++t) {
    const BlockQ8_0* xb = reinterpret_cast<const BlockQ8_0*>(x + t * x_stride) + b0;
    for (int b = 0; b < nb; ++b) {
      // Sum of signed bytes: flip to unsigned (x + 128), add with VPSADBW, take 32 * 128 off.
      const __m256i u = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[b].qs)),
                                         _mm256_set1_epi8(char(0x80)));
      const __m256i s = _mm256_sad_epu8(u, _mm256_setzero_si256());
      const __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
      const int32_t sum = int32_t(_mm_cvtsi128_si32(s2) + _mm_extract_epi32(s2, 2)) - 32 * 128;
      prep->start[t][b] = -128 * sum;
      prep->dx[t][b] = half_to_float(xb[b].d);
    }
  }
}

template <int T>
void q8_0_group(const BlockQ8_0_R16* w, int nb, const char* x, int64_t x_stride, const Q8_0Prep& prep, float* c,
                int64_t c_stride, bool first) {
  __m512 sum[T];
  for (int t = 0; t < T; ++t) sum[t] = _mm512_setzero_ps();
  for (int b = 0; b < nb; ++b) {
    __m512i dot[T];
    for (int t = 0; t < T; ++t) dot[t] = _mm512_set1_epi32(prep.start[t][b]);
    for (int p = 0; p < kQK32 / 4; ++p) {
      const __m512i q = _mm512_loadu_si512(w[b].qs[p]);
      for (int t = 0; t < T; ++t) {
        const BlockQ8_0* xb = reinterpret_cast<const BlockQ8_0*>(x + t * x_stride) + b;
        dot[t] = _mm512_dpbusd_epi32(dot[t], q, bcast32(xb->qs + 4 * p));
      }
    }
    const __m512 dw = half16(w[b].d);
    for (int t = 0; t < T; ++t) {
      sum[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[t]), _mm512_mul_ps(dw, _mm512_set1_ps(prep.dx[t][b])), sum[t]);
    }
  }
  for (int t = 0; t < T; ++t) {
    float* ct = c + t * c_stride;
    _mm512_storeu_ps(ct, first ? sum[t] : _mm512_add_ps(_mm512_loadu_ps(ct), sum[t]));
  }
}

void q8_0_tile(int tt, const BlockQ8_0_R16* g, int nb, const char* x, int64_t x_stride, const Q8_0Prep& prep,
               float* c, int64_t c_stride, bool first) {
  switch (tt) {
    case 1: q8_0_group<1>(g, nb, x, x_stride, prep, c, c_stride, first); break;
    case 2: q8_0_group<2>(g, nb, x, x_stride, prep, c, c_stride, first); break;
    case 3: q8_0_group<3>(g, nb, x, x_stride, prep, c, c_stride, first); break;
    case 4: q8_0_group<4>(g, nb, x, x_stride, prep, c, c_stride, first); break;
    case 5: q8_0_group<5>(g, nb, x, x_stride, prep, c, c_stride, first); break;
    case 6: q8_0_group<6>(g, nb, x, x_stride, prep, c, c_stride, first); break;
    case 7: q8_0_group<7>(g, nb, x, x_stride, prep, c, c_stride, first); break;
    default: q8_0_group<kMaxTokQ8_0>(g, nb, x, x_stride, prep, c, c_stride, first); break;
  }
}

void gemm_q8_0_r16(int64_t k, const void* w, int64_t w_stride, int64_t n_rows, const void* x, int64_t x_stride,
                   int64_t n_tok, float* c, int64_t c_stride) {
  const int64_t n_blocks = k / kQK32;
  const char* xs = static_cast<const char*>(x);
  Q8_0Prep prep;
  for (int64_t t0 = 0; t0 < n_tok; t0 += kMaxTokQ8_0) {
    const int tt = int(n_tok - t0 < kMaxTokQ8_0 ? n_tok - t0 : kMaxTokQ8_0);
    const char* xt = xs + t0 * x_stride;
    for (int64_t b0 = 0; b0 < n_blocks; b0 += kChunkQ8_0) {
      const int nb = int(n_blocks - b0 < kChunkQ8_0 ? n_blocks - b0 : kChunkQ8_0);
      prepare_q8_0(xt, x_stride, tt, b0, nb, &prep);
      const char* xc = xt + b0 * int64_t(sizeof(BlockQ8_0));
      for (int64_t r0 = 0; r0 < n_rows; r0 += kR16) {
        const BlockQ8_0_R16* g =
            reinterpret_cast<const BlockQ8_0_R16*>(static_cast<const char*>(w) + r0 * w_stride) + b0;
        q8_0_tile(tt, g, nb, xc, x_stride, prep, c + t0 * c_stride + r0, c_stride, b0 == 0);
      }
    }
  }
}

// float -> Q8_K / Q8_0 come from the K-quant and 32-block families; only the gemm is new.
}  // namespace

void register_repacked_avx512(KernelTable& t) {
  t.weights[int(DType::Q4_K_R16)] = {DType::Q8_K, t.weights[int(DType::Q4_K)].to_act, gemm_q4k_r16};
  t.weights[int(DType::Q8_0_R16)] = {DType::Q8_0, t.weights[int(DType::Q8_0)].to_act, gemm_q8_0_r16};
}

}  // namespace moxie::kernels
