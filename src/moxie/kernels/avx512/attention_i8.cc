// AVX-512 VNNI decode attention over int8 cached rows (api.h AttentionArgs with kv_type I8,
// runtime/kv_int8.h: int8 head slices, one float scale per slice).
//
// The F16/F32 kernel (attention.cc) is compute-bound at long contexts: 2 x n_heads x d fp32
// multiply-adds per position take about a core's FMA peak. Here both passes multiply int8 by
// int8 with VPDPBUSD (64 multiply-adds per instruction, four times an FMA's 16):
//   - pass 1: each query head is rounded once per call to int8 with one scale (max |q| / 127);
//     K bytes are made unsigned by flipping their sign bit (k + 128), and the 128 * sum(q)
//     this adds is subtracted once per score. Score = scale * q_scale * k_scale[s] * int dot.
//     4 positions' K slices are transposed in 128-bit blocks so that one register holds 16
//     dims of each position in its own lane; a 16-dim step of q broadcast to all four lanes
//     then dots all 4 positions at once, and only 4 partial sums per lane remain to add
//     (instead of 16 for a row-major dot). Tiles: 8 positions x up to 8 heads of a kv head.
//   - pass 2: the softmax weights times each position's V scale are rounded to uint8 with one
//     scale per head per block of 64 positions (block max / 255), and V rows are interleaved
//     in 4-position groups (for each dim, the 4 positions' bytes side by side: VPDPBUSD's
//     4-term dot) into an L1 buffer that every head tile then reads. The interleave is two
//     rounds of in-lane unpacks, so o's dims come out permuted within each 64-dim chunk; o is
//     accumulated in that order in scratch and put back in order once, at the end.
// Rounding q and the weights is what makes this kernel only as exact as the int8 cache
// itself (kernels/attention_i8_test measures it against the exact reference).
// Chunks of kAttentionChunk positions with an online softmax between them, row touches and
// prefetches ahead of each pass, and clamped tile indices are as in attention.cc.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <stdint.h>

#include <vector>

#include "moxie/kernels/avx512/attention_i8.h"
#include "moxie/kernels/avx512/exp16.h"
#include "moxie/kernels/avx512/lanes.h"
#include "moxie/kernels/avx512/online_softmax.h"
#include "moxie/kernels/registry.h"

namespace moxie::kernels {
namespace {

#define MOXIE_ALWAYS_INLINE __attribute__((always_inline)) inline

constexpr int64_t kLanes = 16;
constexpr int64_t kTile = 4;     // heads per pass-2 tile, positions per group of pass-1 tiles
constexpr int64_t kBytes = 64;   // int8 per register
constexpr int64_t kBlock = 64;   // pass 2: positions per weight scale and per interleaved V block
constexpr int64_t kTouchAheadRows = 32;
constexpr int64_t kPrefetchAheadRows = 64;

int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// acc += VPDPBUSD(u8, s8): for each 32-bit lane, the sum of 4 byte products. Written as asm
// with acc read and written in one register: with the intrinsic, GCC 12 copied every
// accumulator to a new register (and spilled some) on each loop iteration. Both inputs are
// registers, so an operand used twice is loaded once.
MOXIE_ALWAYS_INLINE __m512i dpbusd(__m512i acc, __m512i u8, __m512i s8) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
  return acc;
}

// Touches (touch_rows) or prefetches (prefetch_rows) what a call reads of rows [r0, r1): its
// kv heads' int8 slices and their scales, not whole rows: when the threads split a row's kv
// heads between them, a whole-row touch made each pull every line of it.
template <void (*kFetch)(const void*, int64_t, int64_t, int64_t, int64_t)>
void fetch_slices(const void* x, int64_t stride, const float* scale, int64_t n_kv, int64_t width, int64_t r0,
                  int64_t r1) {
  kFetch(x, stride, r0, r1, n_kv * width);
  kFetch(scale, stride, r0, r1, n_kv * int64_t(sizeof(float)));
}

__mmask64 byte_mask(int64_t count) {
  return count >= 64 ? ~__mmask64(0) : count <= 0 ? __mmask64(0) : (__mmask64(1) << count) - 1;
}

// The call's working memory, per thread (grown once, then reused): int8 queries, per-head
// constants, scores, weights, the interleaved V block and o in permuted order.
struct Work {
  int64_t n_heads, chunk, dkp, dvp;  // dkp, dvp: dk, dv rounded up to 64
  int8_t* q_bc;        // [n_heads][dkp / 16][64]: int8 q[16 t, + 16) in all four 128-bit lanes
  int32_t* q_bias;     // [n_heads + 8]: 128 * sum of head i's int8 q (0 past the last head)
  float* q_scale;      // [n_heads + 8]: scale * head i's q scale
  float* sc;           // [n_heads][chunk] scores, then e^(score - max)
  float *m, *l;        // [n_heads] running max and sum
  uint8_t* w8;         // [kTile][kBlock] one head tile's rounded weights of one block
  float* w_scale;      // [kTile]
  float* v_scale;      // [kBlock] one kv head's V scales of one block
  int8_t* vq;          // [kBlock / 4][dvp / 64][4][64] interleaved V block
  float* o;            // [n_heads][dvp] permuted
};

// Carves Work out of a thread-local arena of 64-byte aligned pieces.
Work make_work(const AttentionArgs& a) {
  static thread_local std::vector<char> arena;
  Work w;
  w.n_heads = a.n_kv * a.n_q;
  w.chunk = min64(kAttentionChunk, a.n_pos);
  w.dkp = round_up(a.dk, kBytes);
  w.dvp = round_up(a.dv, kBytes);
  const int64_t sizes[] = {w.n_heads * w.dkp * 4, (w.n_heads + 8) * 4, (w.n_heads + 8) * 4, w.n_heads * w.chunk * 4,
                           w.n_heads * 4,     w.n_heads * 4, kTile * kBlock, kTile * 4,
                           kBlock * 4,        kBlock * w.dvp, w.n_heads * w.dvp * 4};
  int64_t total = 64;
  for (int64_t s : sizes) total += round_up(s, 64);
  if (int64_t(arena.size()) < total) arena.resize(size_t(total));
  char* p = arena.data() + (64 - reinterpret_cast<uintptr_t>(arena.data()) % 64) % 64;
  void* piece[11];
  for (int i = 0; i < 11; ++i) {
    piece[i] = p;
    p += round_up(sizes[i], 64);
  }
  w.q_bc = static_cast<int8_t*>(piece[0]);
  w.q_bias = static_cast<int32_t*>(piece[1]);
  w.q_scale = static_cast<float*>(piece[2]);
  w.sc = static_cast<float*>(piece[3]);
  w.m = static_cast<float*>(piece[4]);
  w.l = static_cast<float*>(piece[5]);
  w.w8 = static_cast<uint8_t*>(piece[6]);
  w.w_scale = static_cast<float*>(piece[7]);
  w.v_scale = static_cast<float*>(piece[8]);
  w.vq = static_cast<int8_t*>(piece[9]);
  w.o = static_cast<float*>(piece[10]);
  return w;
}

// Rounds head i's query to int8 (one scale, max |q| / 127) into w.q_bc, each 16-byte step
// repeated in the four 128-bit lanes; sets w.q_bias[i] and w.q_scale[i].
void quantize_query(const AttentionArgs& a, const Work& w, int64_t i) {
  const float* x = a.q + i * a.q_stride;
  __m512 mx = _mm512_setzero_ps();
  for (int64_t d = 0; d < a.dk; d += kLanes) {
    mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_maskz_loadu_ps(tail_mask(a.dk - d), x + d)));
  }
  const float max_abs = _mm512_reduce_max_ps(mx);
  const __m512 inv = _mm512_set1_ps(max_abs > 0.0f ? 127.0f / max_abs : 0.0f);
  __m512i total = _mm512_setzero_si512();
  for (int64_t d = 0; d < w.dkp; d += kLanes) {
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(tail_mask(a.dk - d), x + d), inv);
    const __m512i r = _mm512_cvtps_epi32(v);  // round to nearest even
    total = _mm512_add_epi32(total, r);
    const __m512i step = _mm512_broadcast_i32x4(_mm512_cvtsepi32_epi8(r));
    _mm512_store_si512(w.q_bc + (i * w.dkp + d) * 4, step);
  }
  w.q_bias[i] = 128 * _mm512_reduce_add_epi32(total);
  w.q_scale[i] = max_abs / 127.0f * a.scale;
}

// The 64-byte chunk c of 4 positions' K slices, sign bits flipped (k + 128, unsigned), as
// four registers: register j holds dims [64 c + 16 j, + 16) of position p in 128-bit lane p
// (a 4 x 4 transpose of 128-bit blocks), the layout a 16-dim query step broadcast to all
// four lanes dots with one VPDPBUSD.
MOXIE_ALWAYS_INLINE void load_key_chunk(const uint8_t* const* k, int64_t c, int64_t dk, __m512i* out) {
  const __mmask64 m = byte_mask(dk - c * kBytes);
  const __m512i flip = _mm512_set1_epi8(char(0x80));
  __m512i r[kTile];
  for (int p = 0; p < kTile; ++p) r[p] = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, k[p] + c * kBytes), flip);
  const __m512i t0 = _mm512_shuffle_i32x4(r[0], r[1], 0x44), t1 = _mm512_shuffle_i32x4(r[0], r[1], 0xEE);
  const __m512i t2 = _mm512_shuffle_i32x4(r[2], r[3], 0x44), t3 = _mm512_shuffle_i32x4(r[2], r[3], 0xEE);
  out[0] = _mm512_shuffle_i32x4(t0, t2, 0x88);
  out[1] = _mm512_shuffle_i32x4(t0, t2, 0xDD);
  out[2] = _mm512_shuffle_i32x4(t1, t3, 0x88);
  out[3] = _mm512_shuffle_i32x4(t1, t3, 0xDD);
}

// Four heads' accumulators (128-bit lane p: 4 partial sums of position p) summed within
// their lanes: lane 4 p + h of the result is head h's dot at position p.
MOXIE_ALWAYS_INLINE __m512i sum_quads(__m512i a0, __m512i a1, __m512i a2, __m512i a3) {
  const __m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
  const __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
}

// Writes scores (lane 4 p + h: head h, position p) to out[h * stride + p] for the n_h valid
// heads and n_p valid positions, put in online_softmax.h's head-major tile order first.
MOXIE_ALWAYS_INLINE void store_scores(__m512 x, float* out, int64_t stride, int64_t n_h, int64_t n_p) {
  const __m512i by_head = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  store_score_tile(_mm512_permutexvar_ps(by_head, x), out, stride, n_h, n_p);
}

// Pass 1 tiles are 8 positions (two groups of 4, one 128-bit lane each) by up to 8 heads:
// each query load then feeds two VPDPBUSD. Loads, not multiplies, bound a 4-position tile
// (one 64-byte query step per VPDPBUSD, and a core loads one such register per cycle).
constexpr int64_t kKeyTile = 8;

// Where a pass-1 tile is: 8 positions' K slices of kv head g, their scales (per group of 4
// positions, lane 4 p + h: position p's), and its scores' place for head 0, position s0.
struct KeyTile {
  const uint8_t* k[kKeyTile];
  __m512 k_scale[2];
  int64_t g, n_p;
  float* out;
};

// Scores of heads [h0, h0 + NH) of the tile's kv head (clamped; only valid ones stored):
// the int8 dots, minus the 128 * sum(q) the flipped sign bits added, times q's and k's scales.
template <int NH>
void score_heads(const AttentionArgs& a, const Work& w, const KeyTile& t, int64_t h0) {
  static_assert(NH == 2 || NH % 4 == 0);
  const int8_t* q[NH];
  for (int h = 0; h < NH; ++h) q[h] = w.q_bc + (t.g * a.n_q + min64(h0 + h, a.n_q - 1)) * w.dkp * 4;
  __m512i acc[NH][2];
  for (auto& x : acc) x[0] = x[1] = _mm512_setzero_si512();
  for (int64_t c = 0; c < w.dkp / kBytes; ++c) {
    __m512i k0[4], k1[4];
    load_key_chunk(t.k, c, a.dk, k0);
    load_key_chunk(t.k + 4, c, a.dk, k1);
    for (int h = 0; h < NH; ++h) {
      for (int j = 0; j < 4; ++j) {
        const __m512i qv = _mm512_load_si512(q[h] + (c * 4 + j) * kBytes);
        acc[h][0] = dpbusd(acc[h][0], k0[j], qv);
        acc[h][1] = dpbusd(acc[h][1], k1[j], qv);
      }
    }
  }
  for (int hq = 0; hq < NH; hq += 4) {
    const int64_t i = t.g * a.n_q + h0 + hq;
    const __m512i bias = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.q_bias + i)));
    const __m512 q_scale = _mm512_broadcast_f32x4(_mm_loadu_ps(w.q_scale + i));
    const int64_t n_h = min64(min64(4, NH - hq), a.n_q - h0 - hq);
    for (int pg = 0; pg < 2; ++pg) {
      // Constant indices only, so GCC keeps acc in registers (a computed index puts it in memory).
      const __m512i sums = NH == 2 ? sum_quads(acc[0][pg], acc[NH - 1][pg], acc[NH - 1][pg], acc[NH - 1][pg])
                                   : sum_quads(acc[hq][pg], acc[hq + 1][pg], acc[hq + 2][pg], acc[hq + 3][pg]);
      const __m512 scores =
          _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(sums, bias)), q_scale), t.k_scale[pg]);
      store_scores(scores, t.out + (h0 + hq) * w.chunk + 4 * pg, w.chunk, n_h, min64(4, t.n_p - 4 * pg));
    }
  }
}

// Pass 1 over positions [c0, c1): w.sc[i][s - c0] = scale * q[i] . k_g[s] (int8 rounded).
// Positions outer: a tile's rows stay in L1 while every kv head's heads read them.
void scores_pass(const AttentionArgs& a, const Work& w, int64_t c0, int64_t c1) {
  const auto* K = static_cast<const uint8_t*>(a.k);
  const __m512i lane_to_position = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  for (int64_t s0 = c0; s0 < c1; s0 += kKeyTile) {
    fetch_slices<touch_rows>(K, a.k_stride, a.k_scale, a.n_kv, a.dk, s0 + kTouchAheadRows,
                             min64(s0 + kTouchAheadRows + kKeyTile, a.n_pos));
    fetch_slices<prefetch_rows>(K, a.k_stride, a.k_scale, a.n_kv, a.dk, s0 + kPrefetchAheadRows,
                                min64(s0 + kPrefetchAheadRows + kKeyTile, a.n_pos));
    int64_t s[kKeyTile];
    for (int p = 0; p < kKeyTile; ++p) s[p] = min64(s0 + p, c1 - 1);
    for (int64_t g = 0; g < a.n_kv; ++g) {
      KeyTile t;
      alignas(32) float scale[kKeyTile];
      for (int p = 0; p < kKeyTile; ++p) {
        t.k[p] = K + s[p] * a.k_stride + g * a.dk;
        scale[p] = a.k_scale[s[p] * a.k_scale_stride + g];
      }
      t.k_scale[0] = _mm512_permutexvar_ps(lane_to_position, _mm512_castps128_ps512(_mm_load_ps(scale)));
      t.k_scale[1] = _mm512_permutexvar_ps(lane_to_position, _mm512_castps128_ps512(_mm_load_ps(scale + 4)));
      t.g = g;
      t.n_p = min64(kKeyTile, c1 - s0);
      t.out = w.sc + g * a.n_q * w.chunk + (s0 - c0);
      if (a.n_q >= 8) {
        for (int64_t h0 = 0; h0 < a.n_q; h0 += 8) score_heads<8>(a, w, t, h0);
      } else if (a.n_q >= 3) {
        for (int64_t h0 = 0; h0 < a.n_q; h0 += 4) score_heads<4>(a, w, t, h0);
      } else {
        for (int64_t h0 = 0; h0 < a.n_q; h0 += 2) score_heads<2>(a, w, t, h0);
      }
    }
  }
}

// Interleaves kv head g's V slices of positions [b0, b0 + 4 * n_quads) (clamped to b1 - 1)
// into w.vq: for quad j and 64-dim chunk c, four registers whose 32-bit lane k holds the 4
// positions' bytes of dim c * 64 + 16 * (k / 4) + 4 * r + k % 4 for register r (the order two
// rounds of in-lane unpacks leave them in). Dims past dv are 0.
void interleave_values(const AttentionArgs& a, const Work& w, int64_t g, int64_t b0, int64_t b1) {
  const auto* V = static_cast<const int8_t*>(a.v) + g * a.dv;
  const int64_t n_chunks = w.dvp / kBytes;
  for (int64_t j = 0; b0 + 4 * j < b1; ++j) {
    const int8_t* row[4];
    for (int p = 0; p < 4; ++p) row[p] = V + min64(b0 + 4 * j + p, b1 - 1) * a.v_stride;
    for (int64_t c = 0; c < n_chunks; ++c) {
      const __mmask64 m = byte_mask(a.dv - c * kBytes);
      const __m512i r0 = _mm512_maskz_loadu_epi8(m, row[0] + c * kBytes);
      const __m512i r1 = _mm512_maskz_loadu_epi8(m, row[1] + c * kBytes);
      const __m512i r2 = _mm512_maskz_loadu_epi8(m, row[2] + c * kBytes);
      const __m512i r3 = _mm512_maskz_loadu_epi8(m, row[3] + c * kBytes);
      const __m512i lo01 = _mm512_unpacklo_epi8(r0, r1), hi01 = _mm512_unpackhi_epi8(r0, r1);
      const __m512i lo23 = _mm512_unpacklo_epi8(r2, r3), hi23 = _mm512_unpackhi_epi8(r2, r3);
      __m512i* out = reinterpret_cast<__m512i*>(w.vq + (j * n_chunks + c) * 4 * kBytes);
      _mm512_store_si512(out + 0, _mm512_unpacklo_epi16(lo01, lo23));
      _mm512_store_si512(out + 1, _mm512_unpackhi_epi16(lo01, lo23));
      _mm512_store_si512(out + 2, _mm512_unpacklo_epi16(hi01, hi23));
      _mm512_store_si512(out + 3, _mm512_unpackhi_epi16(hi01, hi23));
    }
  }
}

// Rounds head i's weights e[s] * v_scale[s] over the block's n positions to uint8 (scale: the
// block's max / 255) into row, zero past n up to kBlock; returns the scale.
float quantize_weights(const float* e, const float* v_scale, int64_t n, uint8_t* row) {
  __m512 x[kBlock / kLanes];
  __m512 mx = _mm512_setzero_ps();
  for (int64_t c = 0; c < kBlock / kLanes; ++c) {
    const __mmask16 t = tail_mask(n - c * kLanes);
    x[c] = _mm512_mul_ps(_mm512_maskz_loadu_ps(t, e + c * kLanes), _mm512_maskz_loadu_ps(t, v_scale + c * kLanes));
    mx = _mm512_max_ps(mx, x[c]);
  }
  const float max = _mm512_reduce_max_ps(mx);
  const __m512 inv = _mm512_set1_ps(max > 0.0f ? 255.0f / max : 0.0f);
  for (int64_t c = 0; c < kBlock / kLanes; ++c) {
    const __m512i r = _mm512_cvtps_epi32(_mm512_mul_ps(x[c], inv));
    _mm_store_si128(reinterpret_cast<__m128i*>(row + c * kLanes), _mm512_cvtusepi32_epi8(r));
  }
  return max / 255.0f;
}

// For kv head g's query heads [h0, h0 + 4) (clamped; heads past n_q go to a sink) and the
// 64-dim chunk c: o[i] (permuted) += w_scale[h] * sum over the block's quads of w8[h] . vq.
void value_tile(const AttentionArgs& a, const Work& w, int64_t g, int64_t h0, int64_t c, int64_t n_quads) {
  alignas(64) float sink[kBytes] = {};
  float* oh[kTile];
  for (int h = 0; h < kTile; ++h) oh[h] = h0 + h < a.n_q ? w.o + (g * a.n_q + h0 + h) * w.dvp + c * kBytes : sink;
  __m512i acc[kTile][4];
  for (auto& row : acc) {
    for (__m512i& x : row) x = _mm512_setzero_si512();
  }
  const int64_t n_chunks = w.dvp / kBytes;
  for (int64_t j = 0; j < n_quads; ++j) {
    const __m512i* vq = reinterpret_cast<const __m512i*>(w.vq + (j * n_chunks + c) * 4 * kBytes);
    const __m512i v[4] = {_mm512_load_si512(vq), _mm512_load_si512(vq + 1), _mm512_load_si512(vq + 2),
                          _mm512_load_si512(vq + 3)};
    for (int h = 0; h < kTile; ++h) {
      int32_t quad;
      __builtin_memcpy(&quad, w.w8 + h * kBlock + 4 * j, 4);
      const __m512i wq = _mm512_set1_epi32(quad);
      for (int r = 0; r < 4; ++r) acc[h][r] = dpbusd(acc[h][r], wq, v[r]);
    }
  }
  for (int h = 0; h < kTile; ++h) {
    const __m512 scale = _mm512_set1_ps(w.w_scale[h]);
    for (int r = 0; r < 4; ++r) {
      float* o = oh[h] + r * kLanes;
      _mm512_store_ps(o, _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[h][r]), scale, _mm512_load_ps(o)));
    }
  }
}

// Pass 2 over positions [c0, c1): o[i] += sum_s e[i][s] v_g[s], a block of kBlock positions
// at a time: per kv head, its V slices interleaved once, then every head tile's weights
// rounded and multiplied in.
void value_pass(const AttentionArgs& a, const Work& w, int64_t c0, int64_t c1) {
  for (int64_t b0 = c0; b0 < c1; b0 += kBlock) {
    const int64_t b1 = min64(c1, b0 + kBlock), n = b1 - b0, n_quads = (n + 3) / 4;
    fetch_slices<touch_rows>(a.v, a.v_stride, a.v_scale, a.n_kv, a.dv, b1, min64(b1 + kBlock, a.n_pos));
    fetch_slices<prefetch_rows>(a.v, a.v_stride, a.v_scale, a.n_kv, a.dv, b1 + kBlock, min64(b1 + 2 * kBlock, a.n_pos));
    for (int64_t g = 0; g < a.n_kv; ++g) {
      for (int64_t s = b0; s < b1; ++s) w.v_scale[s - b0] = a.v_scale[s * a.v_scale_stride + g];
      interleave_values(a, w, g, b0, b1);
      for (int64_t h0 = 0; h0 < a.n_q; h0 += kTile) {
        for (int h = 0; h < kTile; ++h) {
          const float* e = w.sc + (g * a.n_q + min64(h0 + h, a.n_q - 1)) * w.chunk + (b0 - c0);
          w.w_scale[h] = quantize_weights(e, w.v_scale, n, w.w8 + h * kBlock);
        }
        for (int64_t c = 0; c < w.dvp / kBytes; ++c) value_tile(a, w, g, h0, c, n_quads);
      }
    }
  }
}

// o[i] = o_perm[i] / l[i], put back in order: in each 64-dim chunk, 128-bit group L of
// register r holds dims 16 L + 4 r .. + 3 (interleave_values), so each group is one store.
void write_output(const AttentionArgs& a, const Work& w) {
  alignas(16) float tail[4];
  for (int64_t i = 0; i < w.n_heads; ++i) {
    const __m512 inv = _mm512_set1_ps(1.0f / w.l[i]);
    float* dst = a.o + i * a.o_stride;
    for (int64_t c = 0; c < w.dvp / kBytes; ++c) {
      for (int64_t r = 0; r < 4; ++r) {
        const __m512 x = _mm512_mul_ps(_mm512_load_ps(w.o + i * w.dvp + c * kBytes + r * kLanes), inv);
        const __m128 group[4] = {_mm512_extractf32x4_ps(x, 0), _mm512_extractf32x4_ps(x, 1),
                                 _mm512_extractf32x4_ps(x, 2), _mm512_extractf32x4_ps(x, 3)};
        for (int64_t L = 0; L < 4; ++L) {
          const int64_t d = c * kBytes + 16 * L + 4 * r;
          if (d + 4 <= a.dv) {
            _mm_storeu_ps(dst + d, group[L]);
          } else if (d < a.dv) {
            _mm_store_ps(tail, group[L]);
            for (int64_t e = d; e < a.dv; ++e) dst[e] = tail[e - d];
          }
        }
      }
    }
  }
}

}  // namespace

void attention_i8_avx512(const AttentionArgs& a) {
  const Work w = make_work(a);
  for (int64_t i = 0; i < w.n_heads; ++i) quantize_query(a, w, i);
  for (int64_t i = w.n_heads; i < w.n_heads + 8; ++i) {  // what clamped lanes read past the last head
    w.q_bias[i] = 0;
    w.q_scale[i] = 0.0f;
  }
  for (int64_t i = 0; i < w.n_heads; ++i) {
    w.m[i] = -__builtin_inff();
    w.l[i] = 0.0f;
  }
  for (int64_t i = 0; i < w.n_heads * w.dvp; i += kLanes) _mm512_store_ps(w.o + i, _mm512_setzero_ps());
  for (int64_t c0 = 0; c0 < a.n_pos; c0 += w.chunk) {
    const int64_t c1 = min64(a.n_pos, c0 + w.chunk);
    scores_pass(a, w, c0, c1);
    softmax_update({w.n_heads, w.sc, w.chunk, w.m, w.l, w.o, w.dvp, w.dvp}, c1 - c0);
    value_pass(a, w, c0, c1);
  }
  write_output(a, w);
}

}  // namespace moxie::kernels
