// AVX2 decode attention over the int8 cache (api.h AttentionArgs with kv_type I8,
// core/kv_int8.h: tiles of 16 positions, one float scale per position and kv head), for CPUs
// without VNNI.
//
// AVX2 has no int8 dot that beats an FMA: VPMADDUBSW multiplies unsigned by signed bytes into
// saturating 16-bit pairs, so a signed dot needs VPSIGNB and VPABSB before it and VPMADDWD
// and VPADDD after it, 32 multiply-adds in about 5 instructions, no more than 4 FMAs do, and
// q and the softmax weights would have to be rounded to 8 bits. So each kv head's piece of a
// tile is widened to floats instead (exact), once, into a buffer on the stack that stays in
// L1 while every query head of the group reads it, and the sums run in float FMAs:
//   - widening is a 4 x 4 byte transpose and the conversion in one: both piece orders keep
//     4 consecutive bytes of one kind (a key's 4 dims of one position, a value's 4 positions
//     of one dim), so VPSHUFB moves byte x of each 4-byte group to the top of a 32-bit lane
//     (the int8 times 2^24) and VCVTDQ2PS makes it a float: 2 instructions per 8 floats,
//     none crossing 128-bit lanes, as many as the VPMOVSXBD + VCVTDQ2PS of plain rows. The
//     2^-24 goes into the scale factors (one multiply per score or weight, not per element).
//   - pass 1 widens keys to [dim][16 positions]: a score tile of up to 4 heads x 16
//     positions (8 accumulators, lanes = positions) takes per dim 2 loads of k, one broadcast
//     of q per head and 2 FMAs per head, and ends with the 16 scores of each head in two
//     registers: no horizontal sums. They are multiplied by scale * k_scale[p] (0 past n_pos:
//     masked loads of the scales, so a NaN in the tile's unused positions is never read) and
//     stored for the valid positions only.
//   - pass 2 widens values to rows [16 positions][dims] and runs the float kernel's value
//     tiles (attention_tiles.h) on them: 4 heads x 16 dims of o in registers over the 16
//     rows. Before that the tile's V scales are folded into the group's weights (one multiply
//     per head and position; softmax_update has already added the unscaled weights to l).
//     Rows past n_pos are widened but never read (n_rows).
// Chunks, online softmax and normalisation are the float kernel's (online_softmax.h). No
// rounding besides float's: the result is the F32 kernel's on rows holding int8 * scale
// (attention_i8_test: 7.8e-7 of max |v| from the exact reference).
// A buffer holds a piece of each slice (256 dims, 16 KiB per pass); longer slices go piece
// by piece, pass 1 adding up the pieces' partial scores. Keys need dk a multiple of 4 (the
// key order does); values take any dv.
// bench/kernels/attention_bench (4 layers of Qwen3-30B-A3B's heads, 1 thread, Zen 5, best
// of 5): at 4096 positions 3.6-3.9 ms per token against 4.0-4.3 ms for the row layout's
// kernel in the same runs (which widened 4 rows at a time and summed 2 heads x 4 positions
// across lanes) and 4.9 ms from F16 rows; at 256, 0.19-0.21 ms against 0.24. The FMAs alone
// would take 2.0 ms at 4096; widening costs about 0.4 ms, the online softmax 0.23 ms.
// Tried without a measurable gain: blocks of 2 tiles in pass 2 (o loaded and stored half
// as often), a mask-free pass-2 tile for full blocks, touching or prefetching further ahead.
#include <immintrin.h>
#include <stdint.h>

#include "moxie/core/kv_int8.h"
#include "moxie/kernels/registry.h"
#include "moxie/kernels/avx2/attention_i8.h"
#include "moxie/kernels/avx2/attention_tiles.h"
#include "moxie/kernels/avx2/online_softmax.h"

namespace moxie::kernels {
namespace {

constexpr int64_t kTile = kKvInt8Tile;  // positions per tile: two registers of floats
static_assert(kTile == 2 * kLanes, "a tile's positions fill two registers");
static_assert(kAttentionChunk % kTile == 0, "chunks start on a tile");
// Dims of a slice widened at a time: [kKeyPiece][16] and [16][kValuePiece] floats, 16 KiB
// each, in L1.
constexpr int64_t kKeyPiece = 256;
constexpr int64_t kValuePiece = 256;
static_assert(kValuePiece % (kLanes * kDimChunks) == 0, "pieces split no pass-2 tile");
constexpr int64_t kScoreTileHeads = 4;  // pass 1: heads per tile (8 accumulators)
// How far ahead (in tiles) each pass touches and prefetches its pieces: the float kernel's
// distances in positions.
constexpr int64_t kTouchAheadTiles = kTouchAheadRows / kTile;
constexpr int64_t kPrefetchAheadTiles = kPrefetchAheadRows / kTile;

// The tile layout's sizes (core/kv_int8.h), computed here rather than by its inline
// functions: registry.h's rule for files compiled with instruction-set flags.
int64_t piece_bytes(int64_t width) { return kTile * (width + 4); }
const float* piece_scales(const int8_t* piece, int64_t width) {
  return reinterpret_cast<const float*>(piece + kTile * width);
}

// Widened elements are int8 * 2^24 (pick); scores and weights are multiplied by 2^-24, exact
// (a power of two) unless the product falls below float's normal range (< 2^-126).
constexpr float kUnshift = 0x1p-24f;

int64_t round_up8(int64_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

// Lane k (of 4) in each 128-bit half: byte 4k + x of that half times 2^24, as a float.
// VPSHUFB puts the byte at the top of the 32-bit lane with zeros below (index -128: zero), so
// the int32 is the signed byte times 2^24, exact in a float; the callers fold kUnshift into
// their scale factors instead of shifting every element down (VPSRAD: a third more work).
template <int x>
__attribute__((always_inline)) inline __m256 pick(__m256i b) {
  const __m256i m = _mm256_setr_epi8(-128, -128, -128, x, -128, -128, -128, 4 + x, -128, -128, -128, 8 + x, -128,
                                     -128, -128, 12 + x, -128, -128, -128, x, -128, -128, -128, 4 + x, -128, -128,
                                     -128, 8 + x, -128, -128, -128, 12 + x);
  return _mm256_cvtepi32_ps(_mm256_shuffle_epi8(b, m));
}

// Stores pick<0..3>(b) at out, out + step, out + 2 step, out + 3 step.
__attribute__((always_inline)) inline void spread4(__m256i b, float* out, int64_t step) {
  _mm256_storeu_ps(out, pick<0>(b));
  _mm256_storeu_ps(out + step, pick<1>(b));
  _mm256_storeu_ps(out + 2 * step, pick<2>(b));
  _mm256_storeu_ps(out + 3 * step, pick<3>(b));
}

__attribute__((always_inline)) inline __m256i load32(const int8_t* x) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
}

// Dims [d0, d0 + n) of a key piece (d0, n multiples of 4: the key order needs widths that
// are) as floats k[d - d0][16 positions].
// The piece's 64-byte line of dims 4j..4j+3 holds position p's 4 dims at bytes 4p..4p+3: its
// first 32 bytes give the 4 dims' rows at positions 0-7 (4 per 128-bit half), the last 32
// those at positions 8-15.
void widen_keys(const int8_t* piece, int64_t d0, int64_t n, float* k) {
  for (int64_t d = 0; d < n; d += 4) {
    const int8_t* line = piece + (d0 + d) * kTile;
    spread4(load32(line), k + d * kTile, kTile);
    spread4(load32(line + 32), k + d * kTile + kLanes, kTile);
  }
}

// Dims [d0, d0 + n) of a value piece as float rows v[p][0, n), row p at v + p * row (row >= n
// rounded up to 8). Per quad of positions the piece holds each dim's 4 positions in 4
// consecutive bytes: 32 bytes (8 dims, 4 per 128-bit half) give those 8 dims of the quad's 4
// rows. A last group of fewer than 8 dims (any width works for values) loads its 4-byte groups
// alone (masked) and writes zeros up to the next multiple of 8.
void widen_values(const int8_t* piece, int64_t width, int64_t d0, int64_t n, float* v, int64_t row) {
  for (int64_t pq = 0; pq < kTile / 4; ++pq) {
    const int8_t* src = piece + (pq * width + d0) * 4;
    float* dst = v + pq * 4 * row;
    int64_t d = 0;
    for (; d + kLanes <= n; d += kLanes) spread4(load32(src + 4 * d), dst + d, row);
    if (d < n) {
      const auto* groups = reinterpret_cast<const int*>(src + 4 * d);
      spread4(_mm256_maskload_epi32(groups, tail_mask(n - d)), dst + d, row);
    }
  }
}

// x[0, 16) *= f[0..1] for the first n of the 16 floats.
__attribute__((always_inline)) inline void scale16(float* x, int64_t n, const __m256* f) {
  store(x, n, _mm256_mul_ps(load(x, n), f[0]));
  store(x + kLanes, n - kLanes, _mm256_mul_ps(load(x + kLanes, n - kLanes), f[1]));
}

// The 16 scales of a piece times `scale`, as two registers: those of positions n_p and on
// (past n_pos) are 0 and never read.
__attribute__((always_inline)) inline void tile_factors(const float* scales, int64_t n_p, float scale, __m256* f) {
  const __m256 s = _mm256_set1_ps(scale);
  f[0] = _mm256_mul_ps(load(scales, n_p), s);
  f[1] = _mm256_mul_ps(load(scales + kLanes, n_p - kLanes), s);
}

// out[h][p] (+)= f[p] * (q[h][0, n) . k[0, n)[p]) for H heads and the tile's n_p valid
// positions p, k widened by widen_keys; adds to what is there when `add` (a later piece).
template <int H>
void score_tile(const float* const* q, const float* k, int64_t n, const __m256* f, float* const* out,
                int64_t n_p, bool add) {
  __m256 acc[H][2];
  for (int h = 0; h < H; ++h) acc[h][0] = acc[h][1] = _mm256_setzero_ps();
  for (int64_t d = 0; d < n; ++d) {
    const __m256 k0 = _mm256_load_ps(k + d * kTile), k1 = _mm256_load_ps(k + d * kTile + kLanes);
    for (int h = 0; h < H; ++h) {
      const __m256 qv = _mm256_broadcast_ss(q[h] + d);
      acc[h][0] = _mm256_fmadd_ps(k0, qv, acc[h][0]);
      acc[h][1] = _mm256_fmadd_ps(k1, qv, acc[h][1]);
    }
  }
  for (int h = 0; h < H; ++h) {
    for (int c = 0; c < 2; ++c) {
      float* x = out[h] + c * kLanes;
      const int64_t count = n_p - c * kLanes;
      __m256 s = _mm256_mul_ps(acc[h][c], f[c]);
      if (add) s = _mm256_add_ps(s, load(x, count));
      store(x, count, s);
    }
  }
}

// Scores of kv head g's query heads from dims [d0, d0 + n) of a tile's keys (widened in k):
// sc[i * stride + p] (+)= f[p] * q[i][d0, d0 + n) . k[p] for i = g * n_q + j, in tiles of 4,
// then 2, then 1 head (no head computed twice: groups of 1 or 3 are common too).
void score_heads(const AttentionArgs& a, const float* k, int64_t g, int64_t d0, int64_t n, const __m256* f,
                 float* sc, int64_t stride, int64_t n_p) {
  for (int64_t h0 = 0; h0 < a.n_q;) {
    const int64_t left = a.n_q - h0;
    const int64_t n_h = left >= kScoreTileHeads ? kScoreTileHeads : left >= 2 ? 2 : 1;
    const float* q[kScoreTileHeads];
    float* out[kScoreTileHeads];
    for (int64_t h = 0; h < n_h; ++h) {
      const int64_t i = g * a.n_q + h0 + h;
      q[h] = a.q + i * a.q_stride + d0;
      out[h] = sc + i * stride;
    }
    if (n_h == 4) score_tile<4>(q, k, n, f, out, n_p, d0 > 0);
    else if (n_h == 2) score_tile<2>(q, k, n, f, out, n_p, d0 > 0);
    else score_tile<1>(q, k, n, f, out, n_p, d0 > 0);
    h0 += n_h;
  }
}

// Loads piece g of tile t + 1 (touch_rows) and prefetches that of a few tiles further into
// L2, `first` pointing at piece g of tile 0: a piece is read from memory once and every
// query head of its group then works from L1, so the loads should not wait on memory.
void fetch_ahead(const int8_t* first, int64_t stride, int64_t t, int64_t n_tiles, int64_t bytes) {
  touch_rows(first, stride, t + kTouchAheadTiles, min64(t + kTouchAheadTiles + 1, n_tiles), bytes);
  prefetch_rows(first, stride, t + kPrefetchAheadTiles, min64(t + kPrefetchAheadTiles + 1, n_tiles), bytes);
}

int64_t n_tiles(const AttentionArgs& a) { return (a.n_pos + kTile - 1) / kTile; }

// Pass 1 over positions [c0, c1) (c0 a multiple of 16): sc[i * stride + s - c0] = scale *
// k_scale[s][g] * (q[i] . k_g[s]) for every head i = g * n_q + j, a tile of 16 positions at a
// time, each piece read once.
void scores_pass(const AttentionArgs& a, int64_t c0, int64_t c1, float* sc, int64_t stride) {
  alignas(32) float buf[kKeyPiece * kTile];
  const auto* K = static_cast<const int8_t*>(a.k);
  const int64_t bytes = piece_bytes(a.dk), tiles = n_tiles(a);
  for (int64_t s0 = c0; s0 < c1; s0 += kTile) {
    const int64_t t = s0 / kTile, n_p = min64(kTile, c1 - s0);
    for (int64_t g = 0; g < a.n_kv; ++g) {
      fetch_ahead(K + g * a.k_head_stride, a.k_stride, t, tiles, bytes);
      const int8_t* piece = K + g * a.k_head_stride + t * a.k_stride;
      __m256 f[2];
      tile_factors(piece_scales(piece, a.dk), n_p, a.scale * kUnshift, f);
      for (int64_t d0 = 0; d0 < a.dk; d0 += kKeyPiece) {
        const int64_t n = min64(kKeyPiece, a.dk - d0);
        widen_keys(piece, d0, n, buf);
        score_heads(a, buf, g, d0, n, f, sc + (s0 - c0), stride, n_p);
      }
    }
  }
}

// e[i][p] *= v_scale[p] for kv head g's heads i and the tile's n valid positions, e pointing
// at the tile's first position of head 0 (heads stride floats apart).
void fold_value_scales(const AttentionArgs& a, float* e, int64_t stride, int64_t g, const float* scales,
                       int64_t n) {
  __m256 f[2];
  tile_factors(scales, n, kUnshift, f);
  for (int64_t j = 0; j < a.n_q; ++j) scale16(e + (g * a.n_q + j) * stride, n, f);
}

// Pass 2 over positions [c0, c1): o[i] += sum_s e[i][s] * v_scale[s][g] * v_g[s], a tile at a
// time; per tile and kv head: the scales folded into the weights, the piece widened into buf
// (kValuePiece dims at a time), then every head tile of the group.
void value_pass(const AttentionArgs& a, float* sc, int64_t stride, int64_t c0, int64_t c1) {
  alignas(32) float buf[kTile * kValuePiece];
  const auto* V = static_cast<const int8_t*>(a.v);
  const int64_t bytes = piece_bytes(a.dv), tiles = n_tiles(a);
  for (int64_t s0 = c0; s0 < c1; s0 += kTile) {
    const int64_t t = s0 / kTile, n_rows = min64(kTile, c1 - s0);
    float* e = sc + (s0 - c0);
    for (int64_t g = 0; g < a.n_kv; ++g) {
      fetch_ahead(V + g * a.v_head_stride, a.v_stride, t, tiles, bytes);
      const int8_t* piece = V + g * a.v_head_stride + t * a.v_stride;
      fold_value_scales(a, e, stride, g, piece_scales(piece, a.dv), n_rows);
      for (int64_t d0 = 0; d0 < a.dv; d0 += kValuePiece) {
        const int64_t n = min64(kValuePiece, a.dv - d0), row = round_up8(n);
        widen_values(piece, a.dv, d0, n, buf, row);
        for (int64_t h0 = 0; h0 < a.n_q; h0 += kValueHeads) {
          const ValueHeads vh = value_heads(a, e, stride, g, h0);
          for (int64_t d = 0; d < n; d += kLanes * kDimChunks) value_tile(vh, buf + d, row, n_rows, d0 + d, n - d);
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
