// AVX-512 decode attention (api.h, AttentionArgs), 16 floats per register.
//
// Positions go in chunks of kAttentionChunk (256). Per chunk, two passes: pass 1 streams the
// chunk's K rows once and writes every head's scores ([n_heads][256] floats, 32 KiB for 32
// heads: they stay in L1/L2), the softmax step turns them into e^(score - running max), and
// pass 2 streams the chunk's V rows once, adding into o. Between chunks an online-softmax
// rescale (by e^(old max - new max), n_heads * dv multiplies per chunk) keeps o and the
// running sums consistent. Why this shape:
//   - one two-pass sweep over all positions would need n_heads * n_pos scores (512 KiB at
//     4096 positions, growing with the context) competing with V for L2; chunks bound the
//     scratch to n_heads * 256 floats whatever the context;
//   - an online softmax per position would rescale o at every new maximum and leave no
//     long FMA loops; per chunk the rescale is n_heads * dv multiplies per 256 positions;
//   - the inner loops are pure FMA tiles: pass 1 4 positions x 4 heads, 16 accumulators
//     summed across lanes in one transpose; pass 2 4 heads x 64 dims of o in registers over
//     a block of 16 positions whose V rows stay in L1 while every head tile uses them.
// Both passes walk whole cached rows (all n_kv heads) in position order, which measured a
// little faster (about 8%, bench/kernels/attention_bench layout:0 vs 2) than one kv head's
// slice of every row at a time. Heads and positions past the end of a tile repeat the last
// valid one (clamped indices) and their results are not stored, so no tile needs a
// separate tail path.
// Cached rows are F32 or F16 (widened by VCVTPH2PS as they are loaded): every pass is a
// template over the element type. Reading them from DRAM, the passes' access order (4 rows
// at a time in 512-byte slices, then 16 rows in 256-byte slices) does not train the hardware
// stream prefetcher, and software prefetches are throttled by the core's few outstanding
// misses: at 4096 positions the kernel read 5 GB/s of a 35 GB/s machine. Each pass therefore
// touches the rows it will need kTouchAheadRows later, one plain load per cache line in
// address order, and prefetches those kPrefetchAheadRows later into L2, so most touches find
// their line on its way (4 layers x 4096 positions, 1 thread: 14.4 ms before, 3.8 ms F32 and
// 3.3 ms F16 rows after; a touch alone 4.2 / 3.6 ms, prefetches alone 7.4 ms).
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_ps() and trip false uninitialised
// warnings (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <stdint.h>

#include "moxie/kernels/registry.h"
#include "moxie/kernels/avx512/attention_i8.h"
#include "moxie/kernels/avx512/lanes.h"
#include "moxie/kernels/avx512/exp16.h"
#include "moxie/kernels/avx512/online_softmax.h"

namespace moxie::kernels {
namespace {

constexpr int64_t kLanes = 16;
constexpr int64_t kTile = 4;        // heads per tile (both passes), positions per pass-1 tile
constexpr int64_t kDimChunks = 4;   // pass 2: registers of o per head (64 floats)
// Pass 2: V rows per block, reused from L1 by every head tile (16 rows of Qwen3-30B-A3B's
// 4 kv heads x 128 floats are 32 KiB).
constexpr int64_t kVBlockRows = 16;

#define MOXIE_ALWAYS_INLINE __attribute__((always_inline)) inline

int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// How far ahead each pass touches, and further ahead prefetches, the rows it will read (see
// the header).
constexpr int64_t kTouchAheadRows = 16;
constexpr int64_t kPrefetchAheadRows = 64;

// Sixteen elements of a cached row (lanes outside m are 0), as floats.
MOXIE_ALWAYS_INLINE __m512 load_row(const float* x, __mmask16 m) { return _mm512_maskz_loadu_ps(m, x); }
MOXIE_ALWAYS_INLINE __m512 load_row(const uint16_t* x, __mmask16 m) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x));
}

// r[4 * L + m] = sum of the lanes of a[4 * m + L]: sixteen horizontal sums in one transpose
// (halves, then quarters, then within 128-bit lanes), about 2.5 instructions per sum.
MOXIE_ALWAYS_INLINE __m512 sum_lanes16(const __m512* a) {
  __m512 s[8], t[4];
  for (int i = 0; i < 8; ++i) {  // s[i] = [8 half-sums of a[2i] | 8 of a[2i+1]]
    s[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0x44),
                         _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0xEE));
  }
  for (int i = 0; i < 4; ++i) {  // 128-bit lane L of t[i]: 4 partial sums of a[4i + L]
    t[i] = _mm512_add_ps(_mm512_shuffle_f32x4(s[2 * i], s[2 * i + 1], 0x88),
                         _mm512_shuffle_f32x4(s[2 * i], s[2 * i + 1], 0xDD));
  }
  const __m512 u = _mm512_add_ps(_mm512_unpacklo_ps(t[0], t[1]), _mm512_unpackhi_ps(t[0], t[1]));
  const __m512 v = _mm512_add_ps(_mm512_unpacklo_ps(t[2], t[3]), _mm512_unpackhi_ps(t[2], t[3]));
  return _mm512_add_ps(_mm512_shuffle_ps(u, v, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_ps(u, v, _MM_SHUFFLE(3, 2, 3, 2)));
}

// acc[4 * p + h] += q_h[0, d) * k_p[0, d) lane-wise, for the tile's 4 heads and 4 positions.
// Inlined so the 16 accumulators live in registers, not behind a pointer.
template <typename T>
MOXIE_ALWAYS_INLINE void dot_tile(const float* const* q, const T* const* k, int64_t d, __m512* acc) {
  for (int64_t i = 0; i < d; i += kLanes) {
    const __mmask16 m = tail_mask(d - i);
    __m512 kv[kTile], qv[kTile];
    for (int j = 0; j < kTile; ++j) {
      kv[j] = load_row(k[j] + i, m);
      qv[j] = _mm512_maskz_loadu_ps(m, q[j] + i);
    }
    for (int p = 0; p < kTile; ++p) {
      for (int h = 0; h < kTile; ++h) acc[4 * p + h] = _mm512_fmadd_ps(kv[p], qv[h], acc[4 * p + h]);
    }
  }
}

// Writes a tile's scores (128-bit lane h: head h's 4 positions) to out[h * stride + p], for
// the n_h valid heads and n_p valid positions; a whole tile as four 128-bit stores.
MOXIE_ALWAYS_INLINE void store_score_tile(__m512 sums, float* out, int64_t stride, int64_t n_h, int64_t n_p) {
  if (n_h == kTile && n_p == kTile) {
    _mm_storeu_ps(out, _mm512_castps512_ps128(sums));
    _mm_storeu_ps(out + stride, _mm512_extractf32x4_ps(sums, 1));
    _mm_storeu_ps(out + 2 * stride, _mm512_extractf32x4_ps(sums, 2));
    _mm_storeu_ps(out + 3 * stride, _mm512_extractf32x4_ps(sums, 3));
    return;
  }
  float r[kLanes];
  _mm512_storeu_ps(r, sums);
  for (int64_t h = 0; h < n_h; ++h) {
    for (int64_t p = 0; p < n_p; ++p) out[h * stride + p] = r[4 * h + p];
  }
}

// Pass 1 over positions [c0, c1): sc[i * stride + s - c0] = scale * (q[i] . k_g[s] +
// q2[i] . k2_g[s]) for every head i = g * n_q + j. Positions outer: a tile's 4 cached rows
// stay in L1 while every kv head's head tiles read them, so each row is streamed once.
template <typename T>
void scores_pass(const AttentionArgs& a, int64_t c0, int64_t c1, float* sc, int64_t stride) {
  const T* const K = static_cast<const T*>(a.k);
  const T* const K2 = static_cast<const T*>(a.k2);
  const int64_t row_bytes = a.n_kv * a.dk * int64_t(sizeof(T)), stride_bytes = a.k_stride * int64_t(sizeof(T));
  for (int64_t s0 = c0; s0 < c1; s0 += kTile) {
    touch_rows(K, stride_bytes, s0 + kTouchAheadRows, min64(s0 + kTouchAheadRows + kTile, a.n_pos), row_bytes);
    prefetch_rows(K, stride_bytes, s0 + kPrefetchAheadRows, min64(s0 + kPrefetchAheadRows + kTile, a.n_pos), row_bytes);
    const T *k_row[kTile], *k2_row[kTile];
    for (int p = 0; p < kTile; ++p) {
      const int64_t s = min64(s0 + p, c1 - 1);
      k_row[p] = K + s * a.k_stride;
      k2_row[p] = a.dk2 > 0 ? K2 + s * a.k2_stride : nullptr;
    }
    for (int64_t g = 0; g < a.n_kv; ++g) {
      const T *k[kTile], *k2[kTile];
      for (int p = 0; p < kTile; ++p) {
        k[p] = k_row[p] + g * a.dk;
        k2[p] = a.dk2 > 0 ? k2_row[p] + g * a.dk2 : nullptr;
      }
      for (int64_t h0 = 0; h0 < a.n_q; h0 += kTile) {
        const float *q[kTile], *q2[kTile];
        for (int h = 0; h < kTile; ++h) {
          const int64_t i = g * a.n_q + min64(h0 + h, a.n_q - 1);
          q[h] = a.q + i * a.q_stride;
          q2[h] = a.dk2 > 0 ? a.q2 + i * a.q2_stride : nullptr;
        }
        __m512 acc[kTile * kTile];
        for (__m512& x : acc) x = _mm512_setzero_ps();
        dot_tile(q, k, a.dk, acc);
        if (a.dk2 > 0) dot_tile(q2, k2, a.dk2, acc);
        // 128-bit lane h: head h0 + h's scores at positions s0 .. s0 + 3.
        const __m512 sums = _mm512_mul_ps(sum_lanes16(acc), _mm512_set1_ps(a.scale));
        store_score_tile(sums, sc + (g * a.n_q + h0) * stride + (s0 - c0), stride, min64(kTile, a.n_q - h0),
                         min64(kTile, c1 - s0));
      }
    }
  }
}

// Where pass 2 reads a chunk's weights: e[i * stride + s - c0] for position s.
struct Weights {
  const float* e;
  int64_t stride, c0;
};

// For kv head g's query heads [h0, h0 + 4) (clamped indices; only valid heads are stored):
// o[i][d0, d0 + 64) += sum over positions [s0, s1) of e[i][s] * v_g[s][d0, d0 + 64).
template <typename T>
void value_tile(const AttentionArgs& a, const Weights& w, int64_t g, int64_t h0, int64_t d0, int64_t s0,
                int64_t s1) {
  __mmask16 m[kDimChunks];
  for (int c = 0; c < kDimChunks; ++c) m[c] = tail_mask(a.dv - d0 - c * kLanes);
  const float* eh[kTile];
  float* oh[kTile];
  // Heads past n_q accumulate into sink, so every store below is unconditional and the
  // compiler keeps acc in registers (a store loop bounded at run time made GCC spill all 16
  // accumulators on every position).
  alignas(64) float sink[kDimChunks * kLanes] = {};
  __m512 acc[kTile][kDimChunks];
  for (int h = 0; h < kTile; ++h) {
    const int64_t i = g * a.n_q + min64(h0 + h, a.n_q - 1);
    eh[h] = w.e + i * w.stride;
    oh[h] = h0 + h < a.n_q ? a.o + i * a.o_stride + d0 : sink;
    for (int c = 0; c < kDimChunks; ++c) acc[h][c] = _mm512_maskz_loadu_ps(m[c], oh[h] + c * kLanes);
  }
  const T* v_g = static_cast<const T*>(a.v) + g * a.dv + d0;
  for (int64_t s = s0; s < s1; ++s) {
    const T* v = v_g + s * a.v_stride;
    __m512 vv[kDimChunks];
    for (int c = 0; c < kDimChunks; ++c) vv[c] = load_row(v + c * kLanes, m[c]);
    for (int h = 0; h < kTile; ++h) {
      const __m512 e = _mm512_set1_ps(eh[h][s - w.c0]);
      for (int c = 0; c < kDimChunks; ++c) acc[h][c] = _mm512_fmadd_ps(vv[c], e, acc[h][c]);
    }
  }
  for (int h = 0; h < kTile; ++h) {
    for (int c = 0; c < kDimChunks; ++c) _mm512_mask_storeu_ps(oh[h] + c * kLanes, m[c], acc[h][c]);
  }
}

// Pass 2 over positions [c0, c1): o[i] += sum_s e[i][s] v_g[s]. V is streamed once in blocks
// of rows that stay in L1 while every kv head's tiles use them.
template <typename T>
void value_pass(const AttentionArgs& a, const Weights& w, int64_t c1) {
  const int64_t row_bytes = a.n_kv * a.dv * int64_t(sizeof(T)), stride_bytes = a.v_stride * int64_t(sizeof(T));
  for (int64_t s0 = w.c0; s0 < c1; s0 += kVBlockRows) {
    const int64_t s1 = min64(c1, s0 + kVBlockRows);
    touch_rows(a.v, stride_bytes, s0 + kTouchAheadRows, min64(s1 + kTouchAheadRows, a.n_pos), row_bytes);
    prefetch_rows(a.v, stride_bytes, s0 + kPrefetchAheadRows, min64(s1 + kPrefetchAheadRows, a.n_pos), row_bytes);
    for (int64_t g = 0; g < a.n_kv; ++g) {
      for (int64_t h0 = 0; h0 < a.n_q; h0 += kTile) {
        for (int64_t d0 = 0; d0 < a.dv; d0 += kLanes * kDimChunks) value_tile<T>(a, w, g, h0, d0, s0, s1);
      }
    }
  }
}

// Copies n rows of d floats (row r at x + r * stride) to dst, packed.
void copy_rows(const float* x, int64_t stride, int64_t n, int64_t d, float* dst) {
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < d; i += kLanes) {
      const __mmask16 t = tail_mask(d - i);
      _mm512_mask_storeu_ps(dst + r * d + i, t, _mm512_maskz_loadu_ps(t, x + r * stride + i));
    }
  }
}

template <typename T>
void attention(const AttentionArgs& args) {
  const int64_t n_heads = args.n_kv * args.n_q;
  const int64_t chunk = min64(kAttentionChunk, args.n_pos);
  // Scratch (api.h): the queries, copied because o may alias them and every chunk reads
  // them again; then [n_heads][chunk] scores and the running max and sum per head.
  AttentionArgs a = args;
  float* q = args.scratch;
  float* q2 = q + n_heads * a.dk;
  float* sc = q2 + n_heads * a.dk2;
  float* m = sc + n_heads * chunk;
  float* l = m + n_heads;
  copy_rows(args.q, args.q_stride, n_heads, a.dk, q);
  a.q = q;
  a.q_stride = a.dk;
  if (a.dk2 > 0) {
    copy_rows(args.q2, args.q2_stride, n_heads, a.dk2, q2);
    a.q2 = q2;
    a.q2_stride = a.dk2;
  }
  for (int64_t i = 0; i < n_heads; ++i) {
    m[i] = -__builtin_inff();
    l[i] = 0.0f;
    float* o = a.o + i * a.o_stride;
    for (int64_t d = 0; d < a.dv; d += kLanes) _mm512_mask_storeu_ps(o + d, tail_mask(a.dv - d), _mm512_setzero_ps());
  }
  for (int64_t c0 = 0; c0 < a.n_pos; c0 += chunk) {
    const int64_t c1 = min64(a.n_pos, c0 + chunk);
    scores_pass<T>(a, c0, c1, sc, chunk);
    softmax_update({n_heads, sc, chunk, m, l, a.o, a.o_stride, a.dv}, c1 - c0);
    value_pass<T>(a, {sc, chunk, c0}, c1);
  }
  for (int64_t i = 0; i < n_heads; ++i) scale_row(a.o + i * a.o_stride, a.dv, 1.0f / l[i]);
}

void attention_avx512(const AttentionArgs& a) {
  if (a.kv_type == DType::I8) {
    attention_i8_avx512(a);
  } else if (a.kv_type == DType::F16) {
    attention<uint16_t>(a);
  } else {
    attention<float>(a);
  }
}

}  // namespace

void register_attention_avx512(KernelTable& t) { t.attention = attention_avx512; }

}  // namespace moxie::kernels
