// AVX2 decode attention (api.h, AttentionArgs), 8 floats per register. The structure of
// avx512/attention.cc (read its header for the why): positions in chunks of 256, per chunk
// pass 1 streams K in tiles of 4 positions x 2 heads (8 accumulators, summed across lanes by
// a horizontal-add ladder), the online-softmax step, then pass 2 streams V in blocks of rows
// with 4 heads x 16 dims of o in registers. Tiles clamp indices past the end and store only
// the valid results. Cached rows are F32 or F16 (widened by F16C's VCVTPH2PS), and each pass
// touches and prefetches its rows ahead, as the AVX-512 version does. The tiles and the
// online softmax are shared with the int8 kernel (attention_tiles.h, online_softmax.h);
// I8 rows go to attention_i8.cc.
#include <immintrin.h>
#include <stdint.h>

#include "moxie/kernels/registry.h"
#include "moxie/kernels/avx2/attention_i8.h"
#include "moxie/kernels/avx2/attention_tiles.h"
#include "moxie/kernels/avx2/online_softmax.h"

namespace moxie::kernels {
namespace {

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
        store_scores(_mm256_mul_ps(sum_lanes8(acc), _mm256_set1_ps(a.scale)),
                     sc + (g * a.n_q + h0) * stride + (s0 - c0), stride, a.n_q - h0, c1 - s0, false);
      }
    }
  }
}

// Where pass 2 reads a chunk's weights: e[i * stride + s - c0] for position s.
struct Weights {
  const float* e;
  int64_t stride, c0;
};

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
      const T* v = static_cast<const T*>(a.v) + s0 * a.v_stride + g * a.dv;
      for (int64_t h0 = 0; h0 < a.n_q; h0 += kValueHeads) {
        const ValueHeads t = value_heads(a, w.e + (s0 - w.c0), w.stride, g, h0);
        for (int64_t d0 = 0; d0 < a.dv; d0 += kLanes * kDimChunks) {
          value_tile(t, v + d0, a.v_stride, s1 - s0, d0, a.dv - d0);
        }
      }
    }
  }
}

template <typename T>
void attention(const AttentionArgs& args) {
  const Running r = start_attention(args);
  for (int64_t c0 = 0; c0 < args.n_pos; c0 += r.chunk) {
    const int64_t c1 = min64(args.n_pos, c0 + r.chunk);
    scores_pass<T>(r.a, c0, c1, r.sc, r.chunk);
    softmax_update(r, c1 - c0);
    value_pass<T>(r.a, {r.sc, r.chunk, c0}, c1);
  }
  finish_attention(r);
}

void attention_avx2(const AttentionArgs& a) {
  if (a.kv_type == DType::I8) {
    attention_i8_avx2(a);
  } else if (a.kv_type == DType::F16) {
    attention<uint16_t>(a);
  } else {
    attention<float>(a);
  }
}

}  // namespace

void register_attention_avx2(KernelTable& t) { t.attention = attention_avx2; }

}  // namespace moxie::kernels
