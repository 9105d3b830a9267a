#pragma once
// The kernel table: the only kernel header model code includes.
//
// Every kernel has a scalar reference (kernels/ref/), an AVX2 version (kernels/avx2/) and
// an AVX-512 version (kernels/avx512/) with the same signature. dispatch.cc fills one table
// per instruction set once; active() returns the best one this CPU runs.
#include <cstdint>

#include "moxie/core/dtype.h"

namespace moxie::kernels {

enum class Isa { scalar = 0, avx2 = 1, avx512 = 2 };
inline constexpr int kIsaCount = 3;
const char* isa_name(Isa isa);

// C[t * c_stride + r] = dot(W row r, X row t) for r < n_rows, t < n_tok.
// W rows hold k elements of the weight type, row r at (char*)w + r * w_stride.
// X rows hold k elements of the weight type's activation type, row t at (char*)x + t * x_stride.
// k is a multiple of the weight type's block size.
using GemmFn = void (*)(int64_t k, const void* w, int64_t w_stride, int64_t n_rows, const void* x,
                        int64_t x_stride, int64_t n_tok, float* c, int64_t c_stride);
// Converts one row of k floats into the activation type (k a multiple of its block size).
using ToActFn = void (*)(const float* x, void* y, int64_t k);

// How one weight type multiplies: activations are first converted to act_type (an 8-bit
// form for quantized weights, as the fastest CPU engines do), then gemm runs.
struct WeightOps {
  DType act_type = DType::F32;  // F32, BF16, Q8_0, Q8_1 or Q8_K
  ToActFn to_act = nullptr;
  GemmFn gemm = nullptr;  // nullptr: no kernel for this weight type
};

enum class RopeMode {
  normal,  // GPT-J / llama: rotates pairs (2i, 2i+1)
  neox,    // GPT-NeoX / Qwen: rotates pairs (i, i + n_rot/2)
};

// Decode attention of one token's query heads over cached rows, positions [0, n_pos). There
// are n_kv key/value heads, each shared by n_q query heads (GQA: a group; MLA: n_kv = 1 and a
// block of heads over the latent). For query head j of kv head g (i = g * n_q + j):
//   score[i][s] = scale * (q[i] . k_g[s] + q2[i] . k2_g[s])   (the q2 . k2 term when dk2 > 0)
//   o[i]        = sum_s softmax_s(score[i])[s] * v_g[s]
// Row r of x starts at x + r * x_stride (floats): q holds dk floats, q2 dk2, o dv. The kv heads
// sit side by side in a cached row: k_g[s] = k + s * k_stride + g * dk (dk floats), likewise
// k2_g[s] at k2 + s * k2_stride + g * dk2 and v_g[s] at v + s * v_stride + g * dv, so one call
// can read each cached row front to back. Cached rows (k, k2, v) hold kv_type elements, F32,
// F16 or I8, and their strides and offsets count elements; q, q2 and o are floats. o may alias
// q (MLA writes o_lat over q_abs): every q row is read before o is written.
// I8 caches (core/kv_int8.h) hold tiles of 16 positions instead of rows: kv head g's piece
// of the tile of positions [16 t, 16 t + 16) is at k + g * k_head_stride + t * k_stride
// (bytes; v likewise with dv), holding int8 elements in the key (value) order and one float
// scale per position; there is no k2 (dk2 = 0). Kernels may read a tile's positions past
// n_pos (never written: any bytes) but weigh them 0. They may round q and the softmax
// weights to 8 bits as well, so an I8 call matches the reference only to int8 precision
// (kernels/attention_i8_test).
// n_kv, n_q, n_pos, dk, dv >= 1.
// scratch: attention_scratch_floats(n_kv * n_q, dk + dk2) floats.
inline constexpr int64_t kAttentionChunk = 256;  // positions per softmax chunk
constexpr int64_t attention_scratch_floats(int64_t n_heads, int64_t dk_total) {
  return n_heads * (dk_total + kAttentionChunk + 2);
}
struct AttentionArgs {
  int64_t n_kv = 1, n_q = 0, n_pos = 0;
  int64_t dk = 0, dk2 = 0, dv = 0;
  const float* q = nullptr;
  int64_t q_stride = 0;
  const float* q2 = nullptr;
  int64_t q2_stride = 0;
  DType kv_type = DType::F32;  // of k, k2 and v: F32, F16 or I8
  const void* k = nullptr;
  int64_t k_stride = 0;
  const void* k2 = nullptr;
  int64_t k2_stride = 0;
  const void* v = nullptr;
  int64_t v_stride = 0;
  int64_t k_head_stride = 0, v_head_stride = 0;  // I8 only (above)
  float scale = 1.0f;
  float* o = nullptr;
  int64_t o_stride = 0;
  float* scratch = nullptr;
};

struct KernelTable {
  Isa isa = Isa::scalar;
  WeightOps weights[kDTypeSlots];  // indexed by DType id

  // y = x / sqrt(mean(x^2) + eps) * w; w may be nullptr (no weight). y may alias x.
  void (*rmsnorm)(const float* x, const float* w, float* y, int64_t n, float eps) = nullptr;
  // In place, numerically stable (max subtracted first).
  void (*softmax)(float* x, int64_t n) = nullptr;
  // y = x * sigmoid(x); y may alias x.
  void (*silu)(const float* x, float* y, int64_t n) = nullptr;
  // y = silu(gate) * up; y may alias gate or up.
  void (*swiglu)(const float* gate, const float* up, float* y, int64_t n) = nullptr;
  void (*add)(const float* a, const float* b, float* y, int64_t n) = nullptr;
  void (*mul)(const float* a, const float* b, float* y, int64_t n) = nullptr;
  // y += a * x (weighted scatter-add of expert outputs).
  void (*axpy)(float a, const float* x, float* y, int64_t n) = nullptr;
  float (*dot_f32)(const float* a, const float* b, int64_t n) = nullptr;
  // Rotates the first n_rot dims of n_heads heads (head h at x + h * head_stride floats) in
  // place. cos_sin holds n_rot/2 interleaved (cos, sin) pairs for this token's position,
  // already scaled (see rope_cache.h).
  void (*rope)(float* x, int64_t n_heads, int64_t head_stride, int64_t n_rot, const float* cos_sin,
               RopeMode mode) = nullptr;
  // Index of the largest element (the first one on ties).
  int64_t (*argmax)(const float* x, int64_t n) = nullptr;
  // Indices of the k largest elements, largest first, lower index first on ties. k <= n.
  void (*topk)(const float* x, int64_t n, int64_t k, int32_t* idx) = nullptr;
  // y[i] = x[i] rounded to IEEE binary16 (nearest, ties to even; core/half.h's fp32_to_fp16).
  void (*to_f16)(const float* x, uint16_t* y, int64_t n) = nullptr;
  // See AttentionArgs. Each cached row is read once: K then V per 256-position chunk, with
  // an online softmax across chunks.
  void (*attention)(const AttentionArgs& a) = nullptr;
};

// The table for the best instruction set this CPU supports. The environment variable
// MOXIE_ISA=scalar|avx2|avx512 caps it (for tests and benchmarks).
const KernelTable& active();
// The table for one instruction set, or nullptr when this CPU cannot run it.
const KernelTable* table_for(Isa isa);

}  // namespace moxie::kernels
