// Scalar reference of the K-quant matrix kernels: the oracle the SIMD versions are tested
// against, written to be obviously correct and never optimised. Every weight type dots with
// Q8_K activations. Within a super-block all sums are exact integers; each block then adds
// x.d * (d * sum_j(sc_j * dot_j) - dmin * sum_j(m_j * sum(x in j))) in float, as ggml does.
#include "moxie/core/half.h"
#include "moxie/core/quant_blocks.h"
#include "moxie/kernels/registry.h"
#include "moxie/quant/kquant.h"
#include "moxie/quant/kquant_search.h"

namespace moxie::kernels {
namespace {

// Sum of x's quants over elements [begin, begin + count).
int sum_x(const BlockQ8_K& x, int begin, int count) {
  int s = 0;
  for (int i = begin; i < begin + count; ++i) s += x.qs[i];
  return s;
}

// Dot of the 4-bit (Q4_K) or 5-bit (Q5_K) quants of one super-block with x; q[e] is the
// quant of element e. Returns the block's contribution in float.
float affine_block_dot(const int* q, uint16_t d_bits, uint16_t dmin_bits, const uint8_t* scales,
                       const BlockQ8_K& x) {
  int sumi = 0, summ = 0;
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    quant::kq::get_scale_min_k4(j, scales, &sc, &m);
    int dot = 0;
    for (int l = 0; l < 32; ++l) dot += q[32 * j + l] * x.qs[32 * j + l];
    sumi += sc * dot;
    summ += m * sum_x(x, 32 * j, 32);
  }
  return x.d * fp16_to_fp32(d_bits) * float(sumi) - x.d * fp16_to_fp32(dmin_bits) * float(summ);
}

float dot_q4k_block(const BlockQ4_K& w, const BlockQ8_K& x) {
  int q[kQKK];
  for (int e = 0; e < kQKK; ++e) {
    const uint8_t byte = w.qs[32 * (e / 64) + e % 32];
    q[e] = (e % 64 < 32) ? (byte & 0xF) : (byte >> 4);
  }
  return affine_block_dot(q, w.d, w.dmin, w.scales, x);
}

float dot_q5k_block(const BlockQ5_K& w, const BlockQ8_K& x) {
  int q[kQKK];
  for (int e = 0; e < kQKK; ++e) {
    const uint8_t byte = w.qs[32 * (e / 64) + e % 32];
    const int sub = e / 32;  // sub-block j keeps its 5th bits in bit j of qh
    q[e] = ((e % 64 < 32) ? (byte & 0xF) : (byte >> 4)) | (((w.qh[e % 32] >> sub) & 1) << 4);
  }
  return affine_block_dot(q, w.d, w.dmin, w.scales, x);
}

float dot_q6k_block(const BlockQ6_K& w, const BlockQ8_K& x) {
  int sumi = 0;
  for (int e = 0; e < kQKK; ++e) {
    const int half = e / 128, r = e % 128;  // r = 32 * quarter + l
    const int quarter = r / 32, l = r % 32;
    const uint8_t lo_byte = w.ql[64 * half + l + 32 * (quarter & 1)];
    const int lo = (quarter < 2) ? (lo_byte & 0xF) : (lo_byte >> 4);
    const int hi = (w.qh[32 * half + l] >> (2 * quarter)) & 3;
    sumi += w.scales[e / 16] * ((lo | (hi << 4)) - 32) * x.qs[e];
  }
  return x.d * fp16_to_fp32(w.d) * float(sumi);
}

float dot_q8k_block(const BlockQ8_K& w, const BlockQ8_K& x) {
  int sumi = 0;
  for (int e = 0; e < kQKK; ++e) sumi += w.qs[e] * x.qs[e];
  return x.d * w.d * float(sumi);
}

template <class Block, float (*BlockDot)(const Block&, const BlockQ8_K&)>
void gemm_ref(int64_t k, const void* w, int64_t w_stride, int64_t n_rows, const void* x,
              int64_t x_stride, int64_t n_tok, float* c, int64_t c_stride) {
  for (int64_t t = 0; t < n_tok; ++t) {
    const auto* xr = reinterpret_cast<const BlockQ8_K*>(static_cast<const char*>(x) + t * x_stride);
    for (int64_t r = 0; r < n_rows; ++r) {
      const auto* wr = reinterpret_cast<const Block*>(static_cast<const char*>(w) + r * w_stride);
      float sum = 0;
      for (int64_t b = 0; b < k / kQKK; ++b) sum += BlockDot(wr[b], xr[b]);
      c[t * c_stride + r] = sum;
    }
  }
}

}  // namespace

void register_kquant_ref(KernelTable& t) {
  const ToActFn to_q8k = quant::quantize_row_q8_k;
  t.weights[int(DType::Q4_K)] = {DType::Q8_K, to_q8k, gemm_ref<BlockQ4_K, dot_q4k_block>};
  t.weights[int(DType::Q5_K)] = {DType::Q8_K, to_q8k, gemm_ref<BlockQ5_K, dot_q5k_block>};
  t.weights[int(DType::Q6_K)] = {DType::Q8_K, to_q8k, gemm_ref<BlockQ6_K, dot_q6k_block>};
  t.weights[int(DType::Q8_K)] = {DType::Q8_K, to_q8k, gemm_ref<BlockQ8_K, dot_q8k_block>};
}

}  // namespace moxie::kernels
