#pragma once
// The running state of the AVX2 decode attention kernels (attention.cc, attention_i8.cc):
// the scratch they carve (api.h), the online-softmax step between chunks and the final
// normalisation. Only files compiled with the AVX2 flags include it (lanes.h).
#include <immintrin.h>
#include <stdint.h>

#include "moxie/kernels/registry.h"
#include "moxie/kernels/avx2/attention_tiles.h"
#include "moxie/kernels/avx2/exp8.h"
#include "moxie/kernels/avx2/lanes.h"

namespace moxie::kernels {
namespace {

inline float max_of(const float* x, int64_t n) {
  const __m256 neg_inf = _mm256_set1_ps(-__builtin_inff());
  __m256 m = neg_inf;
  for (int64_t i = 0; i < n; i += kLanes) {
    const __m256i t = tail_mask(n - i);
    m = _mm256_max_ps(m, _mm256_blendv_ps(neg_inf, _mm256_maskload_ps(x + i, t), _mm256_castsi256_ps(t)));
  }
  return hmax(m);
}

inline void scale_row(float* x, int64_t n, float f) {
  const __m256 vf = _mm256_set1_ps(f);
  for (int64_t i = 0; i < n; i += kLanes) store(x + i, n - i, _mm256_mul_ps(load(x + i, n - i), vf));
}

// Copies n rows of d floats (row r at x + r * stride) to dst, packed.
inline void copy_rows(const float* x, int64_t stride, int64_t n, int64_t d, float* dst) {
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < d; i += kLanes) store(dst + r * d + i, d - i, load(x + r * stride + i, d - i));
  }
}

// One call's state. a is the caller's arguments with q (and q2) pointing at copies in the
// scratch: o may alias the caller's q, and every chunk reads q again. Then [n_heads][chunk]
// scores (after the softmax step, the weights e^(score - m)) and per head the running max m
// and sum l.
struct Running {
  AttentionArgs a;
  int64_t n_heads, chunk;
  float* sc;
  float *m, *l;
};

// Carves the scratch (api.h), copies the queries and starts every head empty (o = 0).
inline Running start_attention(const AttentionArgs& args) {
  Running r;
  r.a = args;
  r.n_heads = args.n_kv * args.n_q;
  r.chunk = min64(kAttentionChunk, args.n_pos);
  float* q = args.scratch;
  float* q2 = q + r.n_heads * args.dk;
  r.sc = q2 + r.n_heads * args.dk2;
  r.m = r.sc + r.n_heads * r.chunk;
  r.l = r.m + r.n_heads;
  copy_rows(args.q, args.q_stride, r.n_heads, args.dk, q);
  r.a.q = q;
  r.a.q_stride = args.dk;
  if (args.dk2 > 0) {
    copy_rows(args.q2, args.q2_stride, r.n_heads, args.dk2, q2);
    r.a.q2 = q2;
    r.a.q2_stride = args.dk2;
  }
  for (int64_t i = 0; i < r.n_heads; ++i) {
    r.m[i] = -__builtin_inff();
    r.l[i] = 0.0f;
    float* o = args.o + i * args.o_stride;
    for (int64_t d = 0; d < args.dv; d += kLanes) store(o + d, args.dv - d, _mm256_setzero_ps());
  }
  return r;
}

// The online-softmax step for one chunk of n scores per head (see avx512/attention.cc): the
// running max becomes max(m, the chunk's max); what was summed so far (l and o) is rescaled
// by e^(m_old - m_new); the scores become e^(score - m_new) and are added to l.
inline void softmax_update(const Running& r, int64_t n) {
  for (int64_t i = 0; i < r.n_heads; ++i) {
    float* x = r.sc + i * r.chunk;
    const float chunk_max = max_of(x, n);
    const float m_new = r.m[i] > chunk_max ? r.m[i] : chunk_max;
    const float rescale = _mm256_cvtss_f32(exp8(_mm256_set1_ps(r.m[i] - m_new)));  // 0 for the first chunk
    if (rescale != 1.0f) scale_row(r.a.o + i * r.a.o_stride, r.a.dv, rescale);
    r.l[i] = r.l[i] * rescale + exp_shifted_sum(x, n, m_new);
    r.m[i] = m_new;
  }
}

// o[i] /= l[i]: the softmax's denominator, applied once at the end.
inline void finish_attention(const Running& r) {
  for (int64_t i = 0; i < r.n_heads; ++i) scale_row(r.a.o + i * r.a.o_stride, r.a.dv, 1.0f / r.l[i]);
}

}  // namespace
}  // namespace moxie::kernels
