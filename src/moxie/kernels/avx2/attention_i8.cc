// AVX2 decode attention over int8 cached rows (api.h AttentionArgs with kv_type I8,
// runtime/kv_int8.h: int8 head slices, one float scale per slice), for CPUs without VNNI.
//
// AVX2 has no int8 dot that beats an FMA: VPMADDUBSW multiplies unsigned by signed bytes into
// saturating 16-bit pairs, so a signed dot needs VPSIGNB and VPABSB before it and VPMADDWD
// and VPADDD after it, 32 multiply-adds in about 5 instructions, no more than 4 FMAs do, and
// q and the softmax weights would have to be rounded to 8 bits. So the rows are widened to
// floats instead (VPMOVSXBD + VCVTDQ2PS, exact) and the float kernel's tiles
// (attention_tiles.h) run on them, with its chunks, passes and online softmax:
//   - each kv head's slices of the rows a step reads (4 positions in pass 1, a block of 16
//     in pass 2) are widened once into a float buffer on the stack, which stays in L1 while
//     every head tile of the group reads it. The F16 kernel converts each element once per
//     head tile (4 times in pass 1 and twice in pass 2 for a group of 8); here it is once,
//     and the rows streamed from memory are half the bytes.
//   - pass 1 multiplies a tile's scores by scale * k_scale[s][g], one multiply per 8 scores.
//   - pass 2 reads weights e[s] * v_scale[s][g]: before a block's head tiles run, its V
//     scales are folded into the group's weights (one multiply per head and position).
//     softmax_update has already added the unscaled weights to l, the softmax denominator.
// No rounding besides float's: the result is the F32 kernel's on rows holding int8 * scale.
// bench/kernels/attention_bench (4 layers of Qwen3-30B-A3B's heads, 1 thread): at 4096
// positions 4.3-4.6 ms per token against 5.2 ms from F16 rows, at 256 0.25 ms against 0.27.
// With 8-row blocks and a scalar loop storing the scores, it was level with F16 (5.35 ms).
// A buffer holds a piece of each slice (512 dims in pass 1, 256 in pass 2); longer slices go
// piece by piece, pass 1 adding up the pieces' partial scores.
#include <immintrin.h>
#include <stdint.h>

#include "moxie/kernels/registry.h"
#include "moxie/kernels/avx2/attention_i8.h"
#include "moxie/kernels/avx2/attention_tiles.h"
#include "moxie/kernels/avx2/online_softmax.h"

namespace moxie::kernels {
namespace {

// Dims of a slice widened at a time: pass 1 widens 4 rows of up to kKeyPiece dims, pass 2
// kBlockRows rows of up to kValuePiece (buffers of 8 and 16 KiB, in L1).
constexpr int64_t kKeyPiece = 512;
constexpr int64_t kValuePiece = 256;
// Pass 2: rows per block. Twice the float kernel's: a tile then loads and stores its 4 x 16
// floats of o once per 16 rows (128 FMAs), not per 8; the block's widened rows are small.
constexpr int64_t kBlockRows = 16;
static_assert(kValuePiece % (kLanes * kDimChunks) == 0, "pieces split no pass-2 tile");

int64_t round_up8(int64_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

// Eight int8 at x as floats. When count < 8, lanes from count on are 0 and nothing past
// x[count - 1] is read: the cache's last row may end there.
__attribute__((always_inline)) inline __m256 widen8(const int8_t* x, int64_t count) {
  __m128i b;
  if (count >= kLanes) {
    b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x));
  } else {
    alignas(16) int8_t part[16] = {};
    for (int64_t i = 0; i < count; ++i) part[i] = x[i];
    b = _mm_load_si128(reinterpret_cast<const __m128i*>(part));
  }
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
}

// dst[0, n) = x[0, n) as floats, and 0 up to the next multiple of 8 (dst has room for it).
__attribute__((always_inline)) inline void widen_row(const int8_t* x, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm256_storeu_ps(dst + i, widen8(x + i, kLanes));
  if (i < n) _mm256_storeu_ps(dst + i, widen8(x + i, n - i));
}

// The bytes of each cached row a pass reads, for touch_rows: the n_kv int8 slices, and the
// scales as well when they sit in the row (runtime/kv_int8.h puts them right after).
int64_t read_bytes(const void* rows, int64_t stride, int64_t slice_bytes, const float* scales, int64_t n_kv) {
  const uintptr_t base = reinterpret_cast<uintptr_t>(rows);
  const uintptr_t end = reinterpret_cast<uintptr_t>(scales + n_kv);
  return end > base && end <= base + uintptr_t(stride) ? int64_t(end - base) : slice_bytes;
}

// scale * k_scale[s[p]][g] in lanes p and 4 + p: the factors of a pass-1 tile's sums (lane
// 4h + p: head h, position p).
__m256 score_factors(const AttentionArgs& a, const int64_t* s, int64_t g) {
  const float* ks = a.k_scale + g;
  const int64_t st = a.k_scale_stride;
  const __m128 f = _mm_mul_ps(_mm_setr_ps(ks[s[0] * st], ks[s[1] * st], ks[s[2] * st], ks[s[3] * st]),
                              _mm_set1_ps(a.scale));
  return _mm256_set_m128(f, f);
}

// Scores of kv head g's query heads at a tile's positions, from dims [d0, d0 + n) of their
// widened slices k[p]: sc[i * stride + p] = f_p * q[i][d0, d0 + n) . k[p], added to the
// earlier pieces' sums when d0 > 0; n_p of the positions are valid.
void score_heads(const AttentionArgs& a, const float* const* k, int64_t g, int64_t d0, int64_t n, __m256 f,
                 float* sc, int64_t stride, int64_t n_p) {
  for (int64_t h0 = 0; h0 < a.n_q; h0 += kScoreHeads) {
    const float* q[kScoreHeads];
    for (int h = 0; h < kScoreHeads; ++h) q[h] = a.q + (g * a.n_q + min64(h0 + h, a.n_q - 1)) * a.q_stride + d0;
    __m256 acc[kScorePos * kScoreHeads];
    for (__m256& x : acc) x = _mm256_setzero_ps();
    dot_tile(q, k, n, acc);
    store_scores(_mm256_mul_ps(sum_lanes8(acc), f), sc + (g * a.n_q + h0) * stride, stride, a.n_q - h0, n_p,
                 d0 > 0);
  }
}

// Pass 1 over positions [c0, c1): sc[i * stride + s - c0] = scale * k_scale[s][g] *
// (q[i] . k_g[s]) for every head i = g * n_q + j, 4 positions at a time (clamped indices),
// each cached row read once.
void scores_pass(const AttentionArgs& a, int64_t c0, int64_t c1, float* sc, int64_t stride) {
  alignas(32) float buf[kScorePos * kKeyPiece];
  const auto* K = static_cast<const int8_t*>(a.k);
  const int64_t bytes = read_bytes(a.k, a.k_stride, a.n_kv * a.dk, a.k_scale, a.n_kv);
  for (int64_t s0 = c0; s0 < c1; s0 += kScorePos) {
    touch_rows(K, a.k_stride, s0 + kTouchAheadRows, min64(s0 + kTouchAheadRows + kScorePos, a.n_pos), bytes);
    prefetch_rows(K, a.k_stride, s0 + kPrefetchAheadRows, min64(s0 + kPrefetchAheadRows + kScorePos, a.n_pos),
                  bytes);
    int64_t s[kScorePos];
    for (int p = 0; p < kScorePos; ++p) s[p] = min64(s0 + p, c1 - 1);
    for (int64_t g = 0; g < a.n_kv; ++g) {
      const __m256 f = score_factors(a, s, g);
      for (int64_t d0 = 0; d0 < a.dk; d0 += kKeyPiece) {
        const int64_t n = min64(kKeyPiece, a.dk - d0);
        const float* k[kScorePos];
        for (int p = 0; p < kScorePos; ++p) {
          float* row = buf + p * round_up8(n);
          widen_row(K + s[p] * a.k_stride + g * a.dk + d0, n, row);
          k[p] = row;
        }
        score_heads(a, k, g, d0, n, f, sc + (s0 - c0), stride, c1 - s0);
      }
    }
  }
}

// e[i][r] *= v_scale[s0 + r][g] for kv head g's heads i and the block's n rows, e pointing
// at row 0 of head 0 (heads stride floats apart).
void fold_value_scales(const AttentionArgs& a, float* e, int64_t stride, int64_t g, int64_t s0, int64_t n) {
  float vs[kBlockRows] = {};
  for (int64_t r = 0; r < n; ++r) vs[r] = a.v_scale[(s0 + r) * a.v_scale_stride + g];
  for (int64_t r = 0; r < n; r += kLanes) {
    const __m256 f = _mm256_loadu_ps(vs + r);
    for (int64_t j = 0; j < a.n_q; ++j) {
      float* x = e + (g * a.n_q + j) * stride + r;
      store(x, n - r, _mm256_mul_ps(load(x, n - r), f));
    }
  }
}

// Pass 2 over positions [c0, c1): o[i] += sum_s e[i][s] * v_scale[s][g] * v_g[s], in blocks
// of kBlockRows rows; per block and kv head: the scales folded into the weights, the slices
// widened into buf (in pieces of kValuePiece dims), then every head tile of the group.
void value_pass(const AttentionArgs& a, float* sc, int64_t stride, int64_t c0, int64_t c1) {
  alignas(32) float buf[kBlockRows * kValuePiece];
  const auto* V = static_cast<const int8_t*>(a.v);
  const int64_t bytes = read_bytes(a.v, a.v_stride, a.n_kv * a.dv, a.v_scale, a.n_kv);
  for (int64_t s0 = c0; s0 < c1; s0 += kBlockRows) {
    const int64_t s1 = min64(c1, s0 + kBlockRows), n_rows = s1 - s0;
    touch_rows(V, a.v_stride, s0 + kTouchAheadRows, min64(s1 + kTouchAheadRows, a.n_pos), bytes);
    prefetch_rows(V, a.v_stride, s0 + kPrefetchAheadRows, min64(s1 + kPrefetchAheadRows, a.n_pos), bytes);
    float* e = sc + (s0 - c0);
    for (int64_t g = 0; g < a.n_kv; ++g) {
      fold_value_scales(a, e, stride, g, s0, n_rows);
      for (int64_t d0 = 0; d0 < a.dv; d0 += kValuePiece) {
        const int64_t n = min64(kValuePiece, a.dv - d0), row = round_up8(n);
        for (int64_t r = 0; r < n_rows; ++r) widen_row(V + (s0 + r) * a.v_stride + g * a.dv + d0, n, buf + r * row);
        for (int64_t h0 = 0; h0 < a.n_q; h0 += kValueHeads) {
          const ValueHeads t = value_heads(a, e, stride, g, h0);
          for (int64_t d = 0; d < n; d += kLanes * kDimChunks) value_tile(t, buf + d, row, n_rows, d0 + d, n - d);
        }
      }
    }
  }
}

}  // namespace

void attention_i8_avx2(const AttentionArgs& args) {
  const Running r = start_attention(args);
  for (int64_t c0 = 0; c0 < args.n_pos; c0 += r.chunk) {
    const int64_t c1 = min64(args.n_pos, c0 + r.chunk);
    scores_pass(r.a, c0, c1, r.sc, r.chunk);
    softmax_update(r, c1 - c0);
    value_pass(r.a, r.sc, r.chunk, c0, c1);
  }
  finish_attention(r);
}

}  // namespace moxie::kernels
