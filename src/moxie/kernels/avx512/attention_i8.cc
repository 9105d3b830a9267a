// AVX-512 VNNI decode attention over the int8 cache (api.h AttentionArgs with kv_type I8,
// core/kv_int8.h: tiles of 16 positions, one float scale per position and kv head).
//
// The F16/F32 kernel (attention.cc) is compute-bound at long contexts: 2 x n_heads x d fp32
// multiply-adds per position take about a core's FMA peak. Here both passes multiply int8 by
// int8 with VPDPBUSD (64 multiply-adds per instruction, four times an FMA's 16), and the cache
// tiles are laid out so that every register comes straight from memory:
//   - pass 1: each query head is rounded once per call to int8 with one scale (max |q| / 127).
//     A 64-byte line of a key piece holds 4 dims of the tile's 16 positions, so one VPDPBUSD
//     with the head's 4 query bytes broadcast (a memory operand) adds those 4 dims' products
//     to all 16 positions' dots; a line feeds every query head of its kv head (up to 8 at
//     once). K bytes are made unsigned by flipping their sign bit (k + 128), and the
//     128 * sum(q) this adds is subtracted once per score. Score = scale * q_scale * k_scale
//     * int dot, stored as one masked 16-position row per head.
//   - pass 2: the softmax weights times each position's V scale are rounded to uint8 with one
//     scale per head per block of 64 positions (block max / 255). A line of a value piece
//     holds 4 positions of 16 dims, so one VPDPBUSD with the head's 4 weights broadcast adds
//     those positions to 16 output dims.
// Rounding q and the weights is what makes this kernel only as exact as the int8 cache
// itself (kernels/attention_i8_test measures it against the exact reference).
// Kv heads are taken one at a time, each over all positions in chunks of kAttentionChunk with
// an online softmax between them, as attention.cc: with the cache's head-major pieces, each
// pass then streams one contiguous run of memory.
// Positions of the last tile past n_pos hold any bytes: their scores are not stored, and
// their weights are 0 (masked loads, so a NaN scale there is never read).
// bench/kernels/attention_bench, 4 layers x 4096 positions of Qwen3-30B-A3B's heads from DRAM:
// 0.99 ms at 1 thread and 0.57 ms at 2 against 1.47 and 0.83 ms for the previous kernel over
// one int8 row per position (which transposed 4 rows' K slices per step and interleaved V
// rows in L1); with its rows in cache (1024 positions) 0.17-0.18 against 0.30 ms.
#include <immintrin.h>
#include <stdint.h>

#include <stdlib.h>

#include <new>

#include "moxie/core/kv_int8.h"
#include "moxie/kernels/avx512/attention_i8.h"
#include "moxie/kernels/avx512/exp16.h"
#include "moxie/kernels/avx512/lanes.h"
#include "moxie/kernels/avx512/online_softmax.h"
#include "moxie/kernels/registry.h"

namespace moxie::kernels {
namespace {

#define MOXIE_ALWAYS_INLINE __attribute__((always_inline)) inline

constexpr int64_t kLanes = 16;
constexpr int64_t kTile = kKvInt8Tile;  // positions per tile (16: one register of scores)
constexpr int64_t kHeadTile = 4;        // heads per pass-2 tile
constexpr int64_t kBytes = 64;          // int8 per register
constexpr int64_t kBlock = 64;          // pass 2: positions per weight scale

int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// The tile layout's sizes (core/kv_int8.h), computed here rather than by its inline
// functions: registry.h's rule for files compiled with instruction-set flags.
int64_t piece_bytes(int64_t width) { return kTile * (width + 4); }
const float* piece_scales(const char* piece, int64_t width) {
  return reinterpret_cast<const float*>(piece + kTile * width);
}

// acc += VPDPBUSD(u8, s8): for each 32-bit lane, the sum of 4 byte products. Written as asm
// with acc read and written in one register: with the intrinsic, GCC 12 copied every
// accumulator to a new register (and spilled some) on each loop iteration.
MOXIE_ALWAYS_INLINE __m512i dpbusd(__m512i acc, __m512i u8, __m512i s8) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
  return acc;
}

// The same with the 4 signed bytes at s8 broadcast to every lane, as a memory operand.
MOXIE_ALWAYS_INLINE __m512i dpbusd_bcast(__m512i acc, __m512i u8, const int32_t* s8) {
  asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(u8), "m"(*s8));
  return acc;
}

// The call's working memory, per thread (grown once, then reused).
struct Work {
  int64_t n_heads, chunk, dvp;  // dvp: dv rounded up to 64
  int64_t piece_k, piece_v;     // bytes of one kv head's key / value piece of a tile
  int32_t* q8;      // [n_heads][dk / 4]: head i's int8 query, 4 dims per int32
  int32_t* q_bias;  // [n_heads]: 128 * sum of head i's int8 q
  float* q_scale;   // [n_heads]: scale * head i's q scale
  float* sc;        // [n_q][chunk] the current kv head's scores, then e^(score - max)
  float *m, *l;     // [n_heads] running max and sum
  uint8_t* w8;      // [kHeadTile][kBlock] one head tile's rounded weights of one block
  float* w_scale;   // [kHeadTile]
  float* v_scale;   // [kBlock] one kv head's V scales of one block
  float* o;         // [n_heads][dvp]
};

// A thread's working memory, grown as calls need and freed when the thread exits. Not a
// std::vector: files compiled with instruction-set flags instantiate no std templates
// (registry.h).
struct Arena {
  char* p = nullptr;
  int64_t bytes = 0;
  ~Arena() { free(p); }
  char* get(int64_t n) {  // 64-byte aligned
    if (n > bytes) {
      free(p);
      bytes = round_up(n, 64);
      p = static_cast<char*>(aligned_alloc(64, size_t(bytes)));
      if (p == nullptr) throw std::bad_alloc();
    }
    return p;
  }
};

// Carves Work out of the thread's arena, in 64-byte aligned pieces.
Work make_work(const AttentionArgs& a) {
  static thread_local Arena arena;
  Work w;
  w.n_heads = a.n_kv * a.n_q;
  w.chunk = min64(kAttentionChunk, a.n_pos);
  w.dvp = round_up(a.dv, kBytes);
  w.piece_k = piece_bytes(a.dk);
  w.piece_v = piece_bytes(a.dv);
  const int64_t sizes[] = {w.n_heads * a.dk, w.n_heads * 4,  w.n_heads * 4,         a.n_q * w.chunk * 4,
                           w.n_heads * 4,    w.n_heads * 4,  kHeadTile * kBlock,    kHeadTile * 4,
                           kBlock * 4,       w.n_heads * w.dvp * 4};
  constexpr int kPieces = sizeof sizes / sizeof sizes[0];
  int64_t total = 0;
  for (int64_t s : sizes) total += round_up(s, 64);
  char* p = arena.get(total);
  void* piece[kPieces];
  for (int i = 0; i < kPieces; ++i) {
    piece[i] = p;
    p += round_up(sizes[i], 64);
  }
  w.q8 = static_cast<int32_t*>(piece[0]);
  w.q_bias = static_cast<int32_t*>(piece[1]);
  w.q_scale = static_cast<float*>(piece[2]);
  w.sc = static_cast<float*>(piece[3]);
  w.m = static_cast<float*>(piece[4]);
  w.l = static_cast<float*>(piece[5]);
  w.w8 = static_cast<uint8_t*>(piece[6]);
  w.w_scale = static_cast<float*>(piece[7]);
  w.v_scale = static_cast<float*>(piece[8]);
  w.o = static_cast<float*>(piece[9]);
  return w;
}

// Rounds head i's query to int8 (one scale, max |q| / 127) into w.q8; sets w.q_bias[i] and
// w.q_scale[i].
void quantize_query(const AttentionArgs& a, const Work& w, int64_t i) {
  const float* x = a.q + i * a.q_stride;
  __m512 mx = _mm512_setzero_ps();
  for (int64_t d = 0; d < a.dk; d += kLanes) {
    mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_maskz_loadu_ps(tail_mask(a.dk - d), x + d)));
  }
  const float max_abs = _mm512_reduce_max_ps(mx);
  const __m512 inv = _mm512_set1_ps(max_abs > 0.0f ? 127.0f / max_abs : 0.0f);
  __m512i total = _mm512_setzero_si512();
  auto* out = reinterpret_cast<int8_t*>(w.q8 + i * (a.dk / 4));
  for (int64_t d = 0; d < a.dk; d += kLanes) {
    const __mmask16 t = tail_mask(a.dk - d);
    const __m512i r = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(t, x + d), inv));  // nearest even
    total = _mm512_add_epi32(total, r);
    _mm512_mask_cvtsepi32_storeu_epi8(out + d, t, r);
  }
  w.q_bias[i] = 128 * _mm512_reduce_add_epi32(total);
  w.q_scale[i] = max_abs / 127.0f * a.scale;
}

// Scores of heads [i0, i0 + NH) (all of one kv head) over one tile's key piece:
// out[h * w.chunk + p] for its n_p valid positions p.
template <int NH>
void score_tile(const AttentionArgs& a, const Work& w, const char* piece, int64_t i0, float* out, int64_t n_p) {
  const int32_t* q[NH];
  for (int h = 0; h < NH; ++h) q[h] = w.q8 + (i0 + h) * (a.dk / 4);
  __m512i acc[NH];
  for (auto& x : acc) x = _mm512_setzero_si512();
  const __m512i flip = _mm512_set1_epi8(char(0x80));
  for (int64_t j = 0; j < a.dk / 4; ++j) {
    const __m512i k = _mm512_xor_si512(_mm512_loadu_si512(piece + j * kBytes), flip);
    for (int h = 0; h < NH; ++h) acc[h] = dpbusd_bcast(acc[h], k, q[h] + j);
  }
  const __m512 k_scale = _mm512_loadu_ps(piece_scales(piece, a.dk));
  const __mmask16 valid = tail_mask(n_p);
  for (int h = 0; h < NH; ++h) {
    const __m512i dot = _mm512_sub_epi32(acc[h], _mm512_set1_epi32(w.q_bias[i0 + h]));
    const __m512 s = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(dot), _mm512_set1_ps(w.q_scale[i0 + h])), k_scale);
    _mm512_mask_storeu_ps(out + h * w.chunk, valid, s);
  }
}

// Kv head g's pieces: its key piece of tile t, its value piece of tile t.
const char* key_piece(const AttentionArgs& a, int64_t g, int64_t t) {
  return static_cast<const char*>(a.k) + g * a.k_head_stride + t * a.k_stride;
}
const char* value_piece(const AttentionArgs& a, int64_t g, int64_t t) {
  return static_cast<const char*>(a.v) + g * a.v_head_stride + t * a.v_stride;
}

// For one kv head, pass 1 reads a chunk's K tiles, then pass 2 its V tiles, then pass 1 the
// next chunk's K tiles: as a pass reads tile t, it prefetches tile t of what the next pass
// reads, a whole pass ahead. Each pass is a short stream (16 tiles) that the hardware
// prefetchers only pick up after its start, and prefetching any closer, within a pass,
// measured 20-50% slower at 4096 positions (bench/kernels/attention_bench).
void prefetch_next_pass(const AttentionArgs& a, const Work& w, int64_t g, int pass, int64_t t) {
  if (pass == 0) {
    prefetch_rows(value_piece(a, g, t), a.v_stride, 0, 1, w.piece_v);
    return;
  }
  const int64_t next = t + w.chunk / kTile;  // the next chunk's tile (chunks of 256 when there are several)
  if (next * kTile < a.n_pos) prefetch_rows(key_piece(a, g, next), a.k_stride, 0, 1, w.piece_k);
}

// Pass 1 of kv head g over positions [c0, c1) (c0 a multiple of 16): w.sc[j][s - c0] = scale
// * q[g * n_q + j] . k_g[s] (int8 rounded) for its query heads j. A tile's piece stays in L1 while every
// query head of the group reads it.
void scores_pass(const AttentionArgs& a, const Work& w, int64_t g, int64_t c0, int64_t c1) {
  for (int64_t s0 = c0; s0 < c1; s0 += kTile) {
    const int64_t t = s0 / kTile, n_p = min64(kTile, c1 - s0);
    prefetch_next_pass(a, w, g, 0, t);
    const char* piece = key_piece(a, g, t);
    float* out = w.sc + (s0 - c0);
    int64_t h = 0;
    for (; h + 8 <= a.n_q; h += 8) score_tile<8>(a, w, piece, g * a.n_q + h, out + h * w.chunk, n_p);
    if (h + 4 <= a.n_q) {
      score_tile<4>(a, w, piece, g * a.n_q + h, out + h * w.chunk, n_p);
      h += 4;
    }
    if (h + 2 <= a.n_q) {
      score_tile<2>(a, w, piece, g * a.n_q + h, out + h * w.chunk, n_p);
      h += 2;
    }
    if (h < a.n_q) score_tile<1>(a, w, piece, g * a.n_q + h, out + h * w.chunk, n_p);
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

// Where a pass-2 step reads: kv head g's value pieces of the block's tiles, from position b0.
struct ValueBlock {
  const char* piece0;  // the piece of the block's first tile
  int64_t stride;      // bytes from one tile's piece to the next
  int64_t n_quads;     // groups of 4 positions holding the block's n positions
};

// For kv head g's query heads [h0, h0 + 4) (clamped; heads past n_q go to a sink) and the
// 64-dim chunk c: o[i] += w_scale[h] * sum over the block's quads of w8[h] . v.
void value_tile(const AttentionArgs& a, const Work& w, const ValueBlock& b, int64_t g, int64_t h0, int64_t c) {
  alignas(64) float sink[kBytes] = {};
  float* oh[kHeadTile];
  for (int h = 0; h < kHeadTile; ++h) oh[h] = h0 + h < a.n_q ? w.o + (g * a.n_q + h0 + h) * w.dvp + c * kBytes : sink;
  __mmask64 dims[4];  // 4 bytes (positions) per dim of the chunk's four 16-dim registers
  for (int r = 0; r < 4; ++r) {
    const int64_t n = min64(kLanes, a.dv - c * kBytes - r * kLanes) * 4;
    dims[r] = n >= 64 ? ~__mmask64(0) : n <= 0 ? __mmask64(0) : (__mmask64(1) << n) - 1;
  }
  __m512i acc[kHeadTile][4];
  for (auto& row : acc) {
    for (__m512i& x : row) x = _mm512_setzero_si512();
  }
  for (int64_t j = 0; j < b.n_quads; ++j) {
    const char* line = b.piece0 + j / 4 * b.stride + ((j % 4) * a.dv + c * kBytes) * 4;
    __m512i v[4];
    for (int r = 0; r < 4; ++r) v[r] = _mm512_maskz_loadu_epi8(dims[r], line + r * kBytes);
    for (int h = 0; h < kHeadTile; ++h) {
      int32_t quad;
      __builtin_memcpy(&quad, w.w8 + h * kBlock + 4 * j, 4);
      const __m512i wq = _mm512_set1_epi32(quad);
      for (int r = 0; r < 4; ++r) acc[h][r] = dpbusd(acc[h][r], wq, v[r]);
    }
  }
  for (int h = 0; h < kHeadTile; ++h) {
    const __m512 scale = _mm512_set1_ps(w.w_scale[h]);
    for (int r = 0; r < 4; ++r) {
      float* o = oh[h] + r * kLanes;
      _mm512_store_ps(o, _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[h][r]), scale, _mm512_load_ps(o)));
    }
  }
}

// Pass 2 of kv head g over positions [c0, c1): o[i] += sum_s e[i][s] v_g[s] for its heads i,
// a block of kBlock positions at a time: its V scales gathered, then every head tile's
// weights rounded and multiplied in.
void value_pass(const AttentionArgs& a, const Work& w, int64_t g, int64_t c0, int64_t c1) {
  for (int64_t b0 = c0; b0 < c1; b0 += kBlock) {
    const int64_t n = min64(c1, b0 + kBlock) - b0, t0 = b0 / kTile;
    for (int64_t t = t0; t * kTile < b0 + n; ++t) prefetch_next_pass(a, w, g, 1, t);
    const ValueBlock b{value_piece(a, g, t0), a.v_stride, (n + 3) / 4};
    for (int64_t s = 0; s < n; s += kTile) {
      const float* scales = piece_scales(b.piece0 + s / kTile * b.stride, a.dv);
      _mm512_storeu_ps(w.v_scale + s, _mm512_maskz_loadu_ps(tail_mask(n - s), scales));
    }
    for (int64_t h0 = 0; h0 < a.n_q; h0 += kHeadTile) {
      for (int h = 0; h < kHeadTile; ++h) {
        const float* e = w.sc + min64(h0 + h, a.n_q - 1) * w.chunk + (b0 - c0);
        w.w_scale[h] = quantize_weights(e, w.v_scale, n, w.w8 + h * kBlock);
      }
      for (int64_t c = 0; c < w.dvp / kBytes; ++c) value_tile(a, w, b, g, h0, c);
    }
  }
}

// o[i] = o_acc[i] / l[i].
void write_output(const AttentionArgs& a, const Work& w) {
  for (int64_t i = 0; i < w.n_heads; ++i) {
    const __m512 inv = _mm512_set1_ps(1.0f / w.l[i]);
    for (int64_t d = 0; d < a.dv; d += kLanes) {
      const __m512 x = _mm512_mul_ps(_mm512_load_ps(w.o + i * w.dvp + d), inv);
      _mm512_mask_storeu_ps(a.o + i * a.o_stride + d, tail_mask(a.dv - d), x);
    }
  }
}

}  // namespace

void attention_i8_avx512(const AttentionArgs& a) {
  const Work w = make_work(a);
  for (int64_t i = 0; i < w.n_heads; ++i) {
    quantize_query(a, w, i);
    w.m[i] = -__builtin_inff();
    w.l[i] = 0.0f;
  }
  for (int64_t i = 0; i < w.n_heads * w.dvp; i += kLanes) _mm512_store_ps(w.o + i, _mm512_setzero_ps());
  // Kv heads outer: each streams its own pieces front to back (core/kv_int8.h).
  for (int64_t g = 0; g < a.n_kv; ++g) {
    const int64_t i0 = g * a.n_q;
    for (int64_t c0 = 0; c0 < a.n_pos; c0 += w.chunk) {
      const int64_t c1 = min64(a.n_pos, c0 + w.chunk);
      scores_pass(a, w, g, c0, c1);
      softmax_update({a.n_q, w.sc, w.chunk, w.m + i0, w.l + i0, w.o + i0 * w.dvp, w.dvp, w.dvp},
                     c1 - c0);
      value_pass(a, w, g, c0, c1);
    }
  }
  write_output(a, w);
}

}  // namespace moxie::kernels
