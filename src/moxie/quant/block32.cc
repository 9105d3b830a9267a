// Reference conversions for the 32-element block formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// Q8_1 and MXFP4. Layouts are in core/quant_blocks.h.
//
// The quantizers reimplement ggml's `quantize_row_*_ref` (ggml/src/ggml-quants.c) so that a
// row quantized here is byte-identical to one quantized by ggml. The inverse scale is always
// computed from the fp32 scale, before it is rounded to fp16, exactly as ggml does. Known
// differences, all on inputs where ggml's C is undefined behaviour (float -> int conversion out
// of range): Q5_1 codes are clamped to 31 (unreachable for finite input), MXFP4's exponent is
// clamped to [0, 254] for tiny (< 2^-125) or infinite block maxima; NaN inputs give unspecified
// codes but never crash.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "moxie/core/dtype.h"
#include "moxie/core/half.h"
#include "moxie/core/quant_blocks.h"
#include "moxie/quant/block32_codec.h"
#include "moxie/quant/families.h"

namespace moxie::quant {
namespace {

constexpr int kHalf = kQK32 / 2;  // a nibble byte j holds elements j (low) and j + 16 (high)

// Blocks inside a GGUF file sit at any byte offset: every access goes through memcpy.
template <class Block>
Block load_block(const void* src, int64_t i) {
  Block b;
  std::memcpy(&b, static_cast<const char*>(src) + i * int64_t(sizeof(Block)), sizeof(Block));
  return b;
}

template <class Block>
void store_block(void* dst, int64_t i, const Block& b) {
  std::memcpy(static_cast<char*>(dst) + i * int64_t(sizeof(Block)), &b, sizeof(Block));
}

uint32_t load_qh(const uint8_t qh[4]) {  // little-endian, bit j = 5th bit of element j
  return uint32_t(qh[0]) | uint32_t(qh[1]) << 8 | uint32_t(qh[2]) << 16 | uint32_t(qh[3]) << 24;
}

void store_qh(uint8_t qh[4], uint32_t bits) {
  for (int i = 0; i < 4; ++i) qh[i] = uint8_t(bits >> (8 * i));
}

// The element of largest magnitude, keeping its sign (the first one on ties), as ggml's
// Q4_0/Q5_0 take it: their scale maps that element exactly onto the most negative code.
float signed_absmax(const float* x) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < kQK32; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

float absmax(const float* x) {
  float amax = 0.0f;
  for (int j = 0; j < kQK32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  return amax;
}

// ---- Q4_0: y = (q - 8) * d, q in 0..15 ----

void dequantize_q4_0(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const BlockQ4_0 b = load_block<BlockQ4_0>(src, i);
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < kHalf; ++j) {
      y[j] = float((b.qs[j] & 0xF) - 8) * d;
      y[j + kHalf] = float((b.qs[j] >> 4) - 8) * d;
    }
  }
}

void quantize_q4_0(const float* x, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, x += kQK32) {
    const float d = signed_absmax(x) / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ4_0 b;
    b.d = fp32_to_fp16(d);
    for (int j = 0; j < kHalf; ++j) {  // truncating x*id + 8.5 rounds half up; 16 clamps to 15
      const int q0 = std::min(15, int(x[j] * id + 8.5f));
      const int q1 = std::min(15, int(x[j + kHalf] * id + 8.5f));
      b.qs[j] = uint8_t(q0 | q1 << 4);
    }
    store_block(dst, i, b);
  }
}

// ---- Q4_1: y = q * d + m, q in 0..15 ----

void dequantize_q4_1(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const BlockQ4_1 b = load_block<BlockQ4_1>(src, i);
    const float d = fp16_to_fp32(b.d), m = fp16_to_fp32(b.m);
    for (int j = 0; j < kHalf; ++j) {
      y[j] = float(b.qs[j] & 0xF) * d + m;
      y[j + kHalf] = float(b.qs[j] >> 4) * d + m;
    }
  }
}

void min_max(const float* x, float* min, float* max) {
  *min = x[0];
  *max = x[0];
  for (int j = 1; j < kQK32; ++j) {
    if (x[j] < *min) *min = x[j];
    if (x[j] > *max) *max = x[j];
  }
}

void quantize_q4_1(const float* x, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, x += kQK32) {
    float min, max;
    min_max(x, &min, &max);
    const float d = (max - min) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ4_1 b;
    b.d = fp32_to_fp16(d);
    b.m = fp32_to_fp16(min);
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = std::min(15, int((x[j] - min) * id + 0.5f));
      const int q1 = std::min(15, int((x[j + kHalf] - min) * id + 0.5f));
      b.qs[j] = uint8_t(q0 | q1 << 4);
    }
    store_block(dst, i, b);
  }
}

// ---- Q5_0: y = (q - 16) * d, q in 0..31; low 4 bits in qs like Q4_0, 5th bit in qh ----

void dequantize_q5_0(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const BlockQ5_0 b = load_block<BlockQ5_0>(src, i);
    const float d = fp16_to_fp32(b.d);
    const uint32_t qh = load_qh(b.qh);
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = (b.qs[j] & 0xF) | int((qh >> j) & 1) << 4;
      const int q1 = (b.qs[j] >> 4) | int((qh >> (j + kHalf)) & 1) << 4;
      y[j] = float(q0 - 16) * d;
      y[j + kHalf] = float(q1 - 16) * d;
    }
  }
}

// Packs 32 five-bit codes (element order) into qs/qh.
void pack_q5(const int q[kQK32], uint8_t qs[kHalf], uint8_t qh_bytes[4]) {
  uint32_t qh = 0;
  for (int j = 0; j < kQK32; ++j) qh |= uint32_t((q[j] >> 4) & 1) << j;
  for (int j = 0; j < kHalf; ++j) qs[j] = uint8_t((q[j] & 0xF) | (q[j + kHalf] & 0xF) << 4);
  store_qh(qh_bytes, qh);
}

void quantize_q5_0(const float* x, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, x += kQK32) {
    const float d = signed_absmax(x) / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int q[kQK32];
    for (int j = 0; j < kQK32; ++j) q[j] = std::min(31, int(x[j] * id + 16.5f));
    BlockQ5_0 b;
    b.d = fp32_to_fp16(d);
    pack_q5(q, b.qs, b.qh);
    store_block(dst, i, b);
  }
}

// ---- Q5_1: y = q * d + m, q in 0..31 ----

void dequantize_q5_1(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const BlockQ5_1 b = load_block<BlockQ5_1>(src, i);
    const float d = fp16_to_fp32(b.d), m = fp16_to_fp32(b.m);
    const uint32_t qh = load_qh(b.qh);
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = (b.qs[j] & 0xF) | int((qh >> j) & 1) << 4;
      const int q1 = (b.qs[j] >> 4) | int((qh >> (j + kHalf)) & 1) << 4;
      y[j] = float(q0) * d + m;
      y[j + kHalf] = float(q1) * d + m;
    }
  }
}

void quantize_q5_1(const float* x, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, x += kQK32) {
    float min, max;
    min_max(x, &min, &max);
    const float d = (max - min) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int q[kQK32];
    // ggml does not clamp here; (max - min) * id stays below 31.5 for finite input.
    for (int j = 0; j < kQK32; ++j) q[j] = std::min(31, int((x[j] - min) * id + 0.5f));
    BlockQ5_1 b;
    b.d = fp32_to_fp16(d);
    b.m = fp32_to_fp16(min);
    pack_q5(q, b.qs, b.qh);
    store_block(dst, i, b);
  }
}

// ---- Q8_0 / Q8_1: y = q * d, q in -127..127; Q8_1 also stores s = d * sum(q) ----

void dequantize_q8_0(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const BlockQ8_0 b = load_block<BlockQ8_0>(src, i);
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < kQK32; ++j) y[j] = float(b.qs[j]) * d;
  }
}

void dequantize_q8_1(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const BlockQ8_1 b = load_block<BlockQ8_1>(src, i);
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < kQK32; ++j) y[j] = float(b.qs[j]) * d;
  }
}

// Shared by Q8_0 and Q8_1: codes of one block, returns the fp32 scale d = amax / 127.
// roundf rounds halves away from zero (SIMD ports must match that, not ties-to-even).
float quantize_q8_codes(const float* x, int8_t q[kQK32]) {
  const float d = absmax(x) / 127;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < kQK32; ++j) q[j] = int8_t(std::round(x[j] * id));
  return d;
}

void quantize_q8_0(const float* x, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, x += kQK32) {
    BlockQ8_0 b;
    b.d = fp32_to_fp16(quantize_q8_codes(x, b.qs));
    store_block(dst, i, b);
  }
}

void quantize_q8_1(const float* x, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, x += kQK32) {
    BlockQ8_1 b;
    const float d = quantize_q8_codes(x, b.qs);
    int sum = 0;
    for (int j = 0; j < kQK32; ++j) sum += b.qs[j];
    b.d = fp32_to_fp16(d);
    b.s = fp32_to_fp16(float(sum) * d);  // from the fp32 d, as ggml does
    store_block(dst, i, b);
  }
}

// ---- MXFP4: y = kMxfp4Doubled[code] * 2^(e - 128), an E2M1 value times the E8M0 scale ----

void dequantize_mxfp4(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const BlockMXFP4 b = load_block<BlockMXFP4>(src, i);
    const float d = e8m0_to_fp32_half(b.e);
    for (int j = 0; j < kHalf; ++j) {
      y[j] = float(kMxfp4Doubled[b.qs[j] & 0xF]) * d;
      y[j + kHalf] = float(kMxfp4Doubled[b.qs[j] >> 4]) * d;
    }
  }
}

// The code whose value is nearest to x (the lowest code on ties), measured in float exactly as
// ggml's best_index_mxfp4 does so that ties break identically.
uint8_t nearest_mxfp4_code(float x, float d) {
  int best = 0;
  float best_err = std::fabs(float(kMxfp4Doubled[0]) * d - x);
  for (int c = 1; c < 16; ++c) {
    const float err = std::fabs(float(kMxfp4Doubled[c]) * d - x);
    if (err < best_err) {
      best = c;
      best_err = err;
    }
  }
  return uint8_t(best);
}

// E8M0 exponent putting the block maximum in [4, 8) times the scale: floor(log2(amax)) - 2 + 127.
// log2f (not frexp) so that a maximum just below a power of two rounds the way ggml's does.
uint8_t mxfp4_exponent(float amax) {
  if (!(amax > 0.0f)) return 0;
  const float e = std::floor(std::log2(amax)) - 2 + 127;
  return uint8_t(std::clamp(e, 0.0f, 254.0f));
}

void quantize_mxfp4(const float* x, void* dst, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, x += kQK32) {
    BlockMXFP4 b;
    b.e = mxfp4_exponent(absmax(x));
    const float d = e8m0_to_fp32_half(b.e);
    for (int j = 0; j < kHalf; ++j) {
      b.qs[j] = uint8_t(nearest_mxfp4_code(x[j], d) | nearest_mxfp4_code(x[j + kHalf], d) << 4);
    }
    store_block(dst, i, b);
  }
}

}  // namespace

void register_block32_quants(QuantFns* table) {
  table[uint32_t(DType::Q4_0)] = {dequantize_q4_0, quantize_q4_0};
  table[uint32_t(DType::Q4_1)] = {dequantize_q4_1, quantize_q4_1};
  table[uint32_t(DType::Q5_0)] = {dequantize_q5_0, quantize_q5_0};
  table[uint32_t(DType::Q5_1)] = {dequantize_q5_1, quantize_q5_1};
  table[uint32_t(DType::Q8_0)] = {dequantize_q8_0, quantize_q8_0};
  table[uint32_t(DType::Q8_1)] = {dequantize_q8_1, quantize_q8_1};
  table[uint32_t(DType::MXFP4)] = {dequantize_mxfp4, quantize_mxfp4};
}

}  // namespace moxie::quant
