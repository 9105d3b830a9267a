// Scalar reference gemm for the 32-element block weights: the oracle the SIMD kernels are
// tested against, written to be obviously correct and never optimised.
//
// Every block dot product is an exact integer sum of code products, scaled once by the two
// block scales, as ggml's vec_dot_*_q8_* define it:
//   Q4_0, Q5_0, Q8_0, MXFP4 x Q8_0:  dw * dx * sum(qw * qx)
//   Q4_1, Q5_1 x Q8_1:               dw * dx * sum(qw * qx) + m * s     (s = dx * sum(qx))
#include <cstring>

#include "moxie/core/half.h"
#include "moxie/core/quant_blocks.h"
#include "moxie/kernels/registry.h"
#include "moxie/quant/block32_codec.h"
#include "moxie/quant/quant.h"

namespace moxie::kernels {
namespace {

constexpr int kHalf = kQK32 / 2;

// One weight block as integer codes q (element order), its scale d and its min m
// (m = 0 for the symmetric types). The value of element j is q[j] * d + m.
struct Codes {
  int q[kQK32];
  float d;
  float m;
};

template <class Block>
Block load_block(const void* row, int64_t i) {
  Block b;
  std::memcpy(&b, static_cast<const char*>(row) + i * int64_t(sizeof(Block)), sizeof(Block));
  return b;
}

void unpack_nibbles(const uint8_t qs[kHalf], int offset, int q[kQK32]) {
  for (int j = 0; j < kHalf; ++j) {
    q[j] = (qs[j] & 0xF) - offset;
    q[j + kHalf] = (qs[j] >> 4) - offset;
  }
}

void add_fifth_bits(const uint8_t qh_bytes[4], int q[kQK32]) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);  // little-endian hosts only (x86)
  for (int j = 0; j < kQK32; ++j) q[j] += int((qh >> j) & 1) << 4;
}

Codes codes_q4_0(const void* row, int64_t i) {
  const BlockQ4_0 b = load_block<BlockQ4_0>(row, i);
  Codes c{{}, fp16_to_fp32(b.d), 0.0f};
  unpack_nibbles(b.qs, 8, c.q);
  return c;
}

Codes codes_q4_1(const void* row, int64_t i) {
  const BlockQ4_1 b = load_block<BlockQ4_1>(row, i);
  Codes c{{}, fp16_to_fp32(b.d), fp16_to_fp32(b.m)};
  unpack_nibbles(b.qs, 0, c.q);
  return c;
}

Codes codes_q5_0(const void* row, int64_t i) {
  const BlockQ5_0 b = load_block<BlockQ5_0>(row, i);
  Codes c{{}, fp16_to_fp32(b.d), 0.0f};
  unpack_nibbles(b.qs, 0, c.q);
  add_fifth_bits(b.qh, c.q);
  for (int& q : c.q) q -= 16;
  return c;
}

Codes codes_q5_1(const void* row, int64_t i) {
  const BlockQ5_1 b = load_block<BlockQ5_1>(row, i);
  Codes c{{}, fp16_to_fp32(b.d), fp16_to_fp32(b.m)};
  unpack_nibbles(b.qs, 0, c.q);
  add_fifth_bits(b.qh, c.q);
  return c;
}

Codes codes_q8_0(const void* row, int64_t i) {
  const BlockQ8_0 b = load_block<BlockQ8_0>(row, i);
  Codes c{{}, fp16_to_fp32(b.d), 0.0f};
  for (int j = 0; j < kQK32; ++j) c.q[j] = b.qs[j];
  return c;
}

Codes codes_mxfp4(const void* row, int64_t i) {
  const BlockMXFP4 b = load_block<BlockMXFP4>(row, i);
  Codes c{{}, quant::e8m0_to_fp32_half(b.e), 0.0f};
  for (int j = 0; j < kHalf; ++j) {
    c.q[j] = quant::kMxfp4Doubled[b.qs[j] & 0xF];
    c.q[j + kHalf] = quant::kMxfp4Doubled[b.qs[j] >> 4];
  }
  return c;
}

// Activation block: codes, scale, and (Q8_1 only) the stored s = d * sum(q).
struct ActCodes {
  int8_t q[kQK32];
  float d;
  float s;
};

ActCodes act_codes(DType act, const void* row, int64_t i) {
  ActCodes a{};
  if (act == DType::Q8_1) {
    const BlockQ8_1 b = load_block<BlockQ8_1>(row, i);
    std::memcpy(a.q, b.qs, kQK32);
    a.d = fp16_to_fp32(b.d);
    a.s = fp16_to_fp32(b.s);
  } else {
    const BlockQ8_0 b = load_block<BlockQ8_0>(row, i);
    std::memcpy(a.q, b.qs, kQK32);
    a.d = fp16_to_fp32(b.d);
  }
  return a;
}

// dot(W row, X row) over k elements, block by block.
template <Codes (*kCodes)(const void*, int64_t), DType kAct>
float dot_row(int64_t k, const void* w_row, const void* x_row) {
  float sum = 0.0f;
  for (int64_t i = 0; i < k / kQK32; ++i) {
    const Codes w = kCodes(w_row, i);
    const ActCodes x = act_codes(kAct, x_row, i);
    int isum = 0;
    for (int j = 0; j < kQK32; ++j) isum += w.q[j] * x.q[j];
    sum += w.d * x.d * float(isum);
    if (kAct == DType::Q8_1) sum += w.m * x.s;
  }
  return sum;
}

template <Codes (*kCodes)(const void*, int64_t), DType kAct>
void gemm(int64_t k, const void* w, int64_t w_stride, int64_t n_rows, const void* x, int64_t x_stride,
          int64_t n_tok, float* c, int64_t c_stride) {
  const char* w_bytes = static_cast<const char*>(w);
  const char* x_bytes = static_cast<const char*>(x);
  for (int64_t t = 0; t < n_tok; ++t) {
    for (int64_t r = 0; r < n_rows; ++r) {
      c[t * c_stride + r] = dot_row<kCodes, kAct>(k, w_bytes + r * w_stride, x_bytes + t * x_stride);
    }
  }
}

template <Codes (*kCodes)(const void*, int64_t), DType kAct>
WeightOps ops() {
  return WeightOps{kAct, quant::quant_fns(kAct).quantize, gemm<kCodes, kAct>};
}

}  // namespace

void register_block32_ref(KernelTable& t) {
  t.weights[uint32_t(DType::Q4_0)] = ops<codes_q4_0, DType::Q8_0>();
  t.weights[uint32_t(DType::Q4_1)] = ops<codes_q4_1, DType::Q8_1>();
  t.weights[uint32_t(DType::Q5_0)] = ops<codes_q5_0, DType::Q8_0>();
  t.weights[uint32_t(DType::Q5_1)] = ops<codes_q5_1, DType::Q8_1>();
  t.weights[uint32_t(DType::Q8_0)] = ops<codes_q8_0, DType::Q8_0>();
  t.weights[uint32_t(DType::MXFP4)] = ops<codes_mxfp4, DType::Q8_0>();
}

}  // namespace moxie::kernels
