// AVX2 decode attention (api.h, AttentionArgs), 8 floats per register. The structure of
// avx512/attention.cc (read its header for the why): positions in chunks of 256, per chunk
// pass 1 streams K in tiles of 4 positions x 2 heads (8 accumulators, summed across lanes by
// a horizontal-add ladder), the online-softmax step, then pass 2 streams V in blocks of rows
// with 4 heads x 16 dims of o in registers. Tiles clamp indices past the end and store only
// the valid results. Cached rows are F32 or F16 (widened by F16C's VCVTPH2PS), and each pass
// touches and prefetches its rows ahead, as the AVX-512 version does.
#include <immintrin.h>
#include <stdint.h>

#include "moxie/kernels/registry.h"
#include "moxie/kernels/avx2/lanes.h"
#include "moxie/kernels/avx2/exp8.h"

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

int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

__m256 load(const float* x, int64_t count) {
  return count >= kLanes ? _mm256_loadu_ps(x) : _mm256_maskload_ps(x, tail_mask(count));
}

void store(float* x, int64_t count, __m256 v) {
  if (count >= kLanes) _mm256_storeu_ps(x, v);
  else if (count > 0) _mm256_maskstore_ps(x, tail_mask(count), v);
}


// As load, from F16 cached rows.
__m256 load(const uint16_t* x, int64_t count) {
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

// Pass 1 over positions [c0, c1): sc[i * stride + s - c0] = scale * (q[i] . k_g[s] +
// q2[i] . k2_g[s]) for every head i = g * n_q + j, each cached row read once.
template <typename T>
void scores_pass(const AttentionArgs& a, int64_t c0, int64_t c1, float* sc, int64_t stride) {
  const T* const K = static_cast<const T*>(a.k);
  const T* const K2 = static_cast<const T*>(a.k2);
  const int64_t row_bytes = a.n_kv * a.dk * int64_t(sizeof(T)), stride_bytes = a.k_stride * int64_t(sizeof(T));
  for (int64_t s0 = c0; s0 < c1; s0 += kScorePos) {
    touch_rows(K, stride_bytes, s0 + kTouchAheadRows, min64(s0 + kTouchAheadRows + kScorePos, a.n_pos), row_bytes);
    prefetch_rows(K, stride_bytes, s0 + kPrefetchAheadRows, min64(s0 + kPrefetchAheadRows + kScorePos, a.n_pos),
                  row_bytes);
    const T *k_row[kScorePos], *k2_row[kScorePos];
    for (int p = 0; p < kScorePos; ++p) {
      const int64_t s = min64(s0 + p, c1 - 1);
      k_row[p] = K + s * a.k_stride;
      k2_row[p] = a.dk2 > 0 ? K2 + s * a.k2_stride : nullptr;
    }
    for (int64_t g = 0; g < a.n_kv; ++g) {
      const T *k[kScorePos], *k2[kScorePos];
      for (int p = 0; p < kScorePos; ++p) {
        k[p] = k_row[p] + g * a.dk;
        k2[p] = a.dk2 > 0 ? k2_row[p] + g * a.dk2 : nullptr;
      }
      for (int64_t h0 = 0; h0 < a.n_q; h0 += kScoreHeads) {
        const float *q[kScoreHeads], *q2[kScoreHeads];
        for (int h = 0; h < kScoreHeads; ++h) {
          const int64_t i = g * a.n_q + min64(h0 + h, a.n_q - 1);
          q[h] = a.q + i * a.q_stride;
          q2[h] = a.dk2 > 0 ? a.q2 + i * a.q2_stride : nullptr;
        }
        __m256 acc[kScorePos * kScoreHeads];
        for (__m256& x : acc) x = _mm256_setzero_ps();
        dot_tile(q, k, a.dk, acc);
        if (a.dk2 > 0) dot_tile(q2, k2, a.dk2, acc);
        float r[kLanes];  // r[4 h + p]: head h0 + h, position s0 + p
        _mm256_storeu_ps(r, _mm256_mul_ps(sum_lanes8(acc), _mm256_set1_ps(a.scale)));
        float* out = sc + (g * a.n_q + h0) * stride + (s0 - c0);
        for (int64_t h = 0; h < min64(kScoreHeads, a.n_q - h0); ++h) {
          for (int64_t p = 0; p < min64(kScorePos, c1 - s0); ++p) out[h * stride + p] = r[4 * h + p];
        }
      }
    }
  }
}

float max_of(const float* x, int64_t n) {
  const __m256 neg_inf = _mm256_set1_ps(-__builtin_inff());
  __m256 m = neg_inf;
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256i t = tail_mask(n - i);
    m = _mm256_max_ps(m, _mm256_blendv_ps(neg_inf, _mm256_maskload_ps(x + i, t), _mm256_castsi256_ps(t)));
  }
  return hmax(m);
}

void scale_row(float* x, int64_t n, float f) {
  const __m256 vf = _mm256_set1_ps(f);
  for (int64_t i = 0; i < n; i += kLanes) store(x + i, n - i, _mm256_mul_ps(load(x + i, n - i), vf));
}

// The online-softmax step for one chunk of n scores per head (see avx512/attention.cc).
void softmax_update(const AttentionArgs& a, float* sc, int64_t n, int64_t stride, float* m, float* l) {
  for (int64_t i = 0; i < a.n_kv * a.n_q; ++i) {
    float* x = sc + i * stride;
    const float chunk_max = max_of(x, n);
    const float m_new = m[i] > chunk_max ? m[i] : chunk_max;
    const float rescale = _mm256_cvtss_f32(exp8(_mm256_set1_ps(m[i] - m_new)));  // 0 for the first chunk
    if (rescale != 1.0f) scale_row(a.o + i * a.o_stride, a.dv, rescale);
    l[i] = l[i] * rescale + exp_shifted_sum(x, n, m_new);
    m[i] = m_new;
  }
}

// Where pass 2 reads a chunk's weights: e[i * stride + s - c0] for position s.
struct Weights {
  const float* e;
  int64_t stride, c0;
};

// For kv head g's query heads [h0, h0 + 4) (clamped indices; only valid heads are stored):
// o[i][d0, d0 + 16) += sum over positions [s0, s1) of e[i][s] * v_g[s][d0, d0 + 16).
template <typename T>
void value_tile(const AttentionArgs& a, const Weights& w, int64_t g, int64_t h0, int64_t d0, int64_t s0,
                int64_t s1) {
  const float* eh[kValueHeads];
  float* oh[kValueHeads];
  // Heads past n_q accumulate into sink so every store below is unconditional and acc stays
  // in registers (a store loop bounded at run time makes GCC spill it on every position).
  alignas(32) float sink[kDimChunks * kLanes] = {};
  __m256 acc[kValueHeads][kDimChunks];
  for (int h = 0; h < kValueHeads; ++h) {
    const int64_t i = g * a.n_q + min64(h0 + h, a.n_q - 1);
    eh[h] = w.e + i * w.stride;
    oh[h] = h0 + h < a.n_q ? a.o + i * a.o_stride + d0 : sink;
    for (int c = 0; c < kDimChunks; ++c) acc[h][c] = load(oh[h] + c * kLanes, a.dv - d0 - c * kLanes);
  }
  const T* v_g = static_cast<const T*>(a.v) + g * a.dv + d0;
  for (int64_t s = s0; s < s1; ++s) {
    const T* v = v_g + s * a.v_stride;
    __m256 vv[kDimChunks];
    for (int c = 0; c < kDimChunks; ++c) vv[c] = load(v + c * kLanes, a.dv - d0 - c * kLanes);
    for (int h = 0; h < kValueHeads; ++h) {
      const __m256 e = _mm256_broadcast_ss(eh[h] + (s - w.c0));
      for (int c = 0; c < kDimChunks; ++c) acc[h][c] = _mm256_fmadd_ps(vv[c], e, acc[h][c]);
    }
  }
  for (int h = 0; h < kValueHeads; ++h) {
    for (int c = 0; c < kDimChunks; ++c) store(oh[h] + c * kLanes, a.dv - d0 - c * kLanes, acc[h][c]);
  }
}

// Pass 2 over positions [c0, c1): o[i] += sum_s e[i][s] v_g[s], V streamed once in blocks of
// rows that stay in L1 while every kv head's tiles use them.
template <typename T>
void value_pass(const AttentionArgs& a, const Weights& w, int64_t c1) {
  const int64_t row_bytes = a.n_kv * a.dv * int64_t(sizeof(T)), stride_bytes = a.v_stride * int64_t(sizeof(T));
  for (int64_t s0 = w.c0; s0 < c1; s0 += kVBlockRows) {
    const int64_t s1 = min64(c1, s0 + kVBlockRows);
    touch_rows(a.v, stride_bytes, s0 + kTouchAheadRows, min64(s1 + kTouchAheadRows, a.n_pos), row_bytes);
    prefetch_rows(a.v, stride_bytes, s0 + kPrefetchAheadRows, min64(s1 + kPrefetchAheadRows, a.n_pos), row_bytes);
    for (int64_t g = 0; g < a.n_kv; ++g) {
      for (int64_t h0 = 0; h0 < a.n_q; h0 += kValueHeads) {
        for (int64_t d0 = 0; d0 < a.dv; d0 += kLanes * kDimChunks) value_tile<T>(a, w, g, h0, d0, s0, s1);
      }
    }
  }
}

// Copies n rows of d floats (row r at x + r * stride) to dst, packed.
void copy_rows(const float* x, int64_t stride, int64_t n, int64_t d, float* dst) {
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < d; i += kLanes) store(dst + r * d + i, d - i, load(x + r * stride + i, d - i));
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
    for (int64_t d = 0; d < a.dv; d += kLanes) store(a.o + i * a.o_stride + d, a.dv - d, _mm256_setzero_ps());
  }
  for (int64_t c0 = 0; c0 < a.n_pos; c0 += chunk) {
    const int64_t c1 = min64(a.n_pos, c0 + chunk);
    scores_pass<T>(a, c0, c1, sc, chunk);
    softmax_update(a, sc, c1 - c0, chunk, m, l);
    value_pass<T>(a, {sc, chunk, c0}, c1);
  }
  for (int64_t i = 0; i < n_heads; ++i) scale_row(a.o + i * a.o_stride, a.dv, 1.0f / l[i]);
}

void attention_avx2(const AttentionArgs& a) {
  if (a.kv_type == DType::I8) {  // TEMPORARY until the AVX2 int8 path lands
    static const KernelTable ref = [] {
      KernelTable t;
      register_attention_ref(t);
      return t;
    }();
    ref.attention(a);
  } else if (a.kv_type == DType::F16) {
    attention<uint16_t>(a);
  } else {
    attention<float>(a);
  }
}

}  // namespace

void register_attention_avx2(KernelTable& t) { t.attention = attention_avx2; }

}  // namespace moxie::kernels
