// Q6_K (16 groups of 16, x ~= d * sc * (q - 32) with 6-bit q and signed 8-bit sc) and Q8_K
// (the K-quant activation format: fp32 d, 256 int8 qs, 16 group sums).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "moxie/core/half.h"
#include "moxie/core/quant_blocks.h"
#include "moxie/quant/kquant.h"
#include "moxie/quant/kquant_search.h"

namespace moxie::quant {
namespace {

constexpr int kGroups = kQKK / 16;
constexpr float kGroupMaxEps = 1e-15f;  // ggml's GROUP_MAX_EPS

// Packs quants L[256] (each 0..63, element order) into ql/qh. Each 128-element half uses
// 64 ql bytes and 32 qh bytes: ql[l] holds elements l (low nibble) and l + 64 (high),
// ql[l + 32] elements l + 32 and l + 96; qh[l] holds the top 2 bits of l, l + 32, l + 64,
// l + 96 at bit offsets 0, 2, 4, 6.
void pack_q6_k(const int8_t* L, BlockQ6_K* y) {
  for (int half = 0; half < 2; ++half) {
    const int8_t* q = L + 128 * half;
    uint8_t* ql = y->ql + 64 * half;
    uint8_t* qh = y->qh + 32 * half;
    for (int l = 0; l < 32; ++l) {
      ql[l] = uint8_t((q[l] & 0xF) | ((q[l + 64] & 0xF) << 4));
      ql[l + 32] = uint8_t((q[l + 32] & 0xF) | ((q[l + 96] & 0xF) << 4));
      qh[l] = uint8_t((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) | ((q[l + 96] >> 4) << 6));
    }
  }
}

void quantize_q6_k_block(const float* x, BlockQ6_K* y) {
  int8_t L[kQKK];
  float scales[kGroups];
  float max_scale = 0, max_abs_scale = 0;
  for (int g = 0; g < kGroups; ++g) {
    scales[g] = kq::make_qx_quants(16, 32, x + 16 * g, L + 16 * g);
    if (std::fabs(scales[g]) > max_abs_scale) {
      max_abs_scale = std::fabs(scales[g]);
      max_scale = scales[g];
    }
  }
  if (max_abs_scale < kGroupMaxEps) {
    std::memset(y, 0, sizeof(*y));
    return;
  }
  // The group scale of largest magnitude becomes -128, so d may be negative.
  const float iscale = -128.f / max_scale;
  y->d = fp32_to_fp16(1 / iscale);
  for (int g = 0; g < kGroups; ++g) y->scales[g] = int8_t(std::clamp(kq::nearest_int(iscale * scales[g]), -128, 127));
  // Requantize against the stored scales.
  for (int g = 0; g < kGroups; ++g) {
    const float d = fp16_to_fp32(y->d) * y->scales[g];
    if (!d) continue;  // keeps the search's quants, as ggml does
    for (int l = 0; l < 16; ++l) L[16 * g + l] = int8_t(std::clamp(kq::nearest_int(x[16 * g + l] / d), -32, 31) + 32);
  }
  pack_q6_k(L, y);
}

void quantize_q8_k_block(const float* x, BlockQ8_K* y) {
  float max = 0, amax = 0;
  for (int j = 0; j < kQKK; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  if (!amax) {
    std::memset(y, 0, sizeof(*y));
    return;
  }
  // ggml uses -127 (not -128) so that every q is in [-127, 127]: SIMD dot products can
  // then take |q| and move the sign to the other operand.
  const float iscale = -127.f / max;
  for (int j = 0; j < kQKK; ++j) y->qs[j] = int8_t(std::min(127, kq::nearest_int(iscale * x[j])));
  for (int g = 0; g < kGroups; ++g) {
    int sum = 0;
    for (int l = 0; l < 16; ++l) sum += y->qs[16 * g + l];
    y->bsums[g] = int16_t(sum);
  }
  y->d = 1 / iscale;
}

}  // namespace

void dequantize_row_q6_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ6_K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const BlockQ6_K& b = blocks[i];
    const float d = fp16_to_fp32(b.d);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = b.ql + 64 * half;
      const uint8_t* qh = b.qh + 32 * half;
      const int8_t* sc = b.scales + 8 * half;
      float* y = dst + kQKK * i + 128 * half;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is + 0] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

void dequantize_row_q8_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ8_K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    for (int j = 0; j < kQKK; ++j) dst[kQKK * i + j] = blocks[i].d * blocks[i].qs[j];
  }
}

void quantize_row_q6_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ6_K*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i) quantize_q6_k_block(src + kQKK * i, &blocks[i]);
}

void quantize_row_q8_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i) quantize_q8_k_block(src + kQKK * i, &blocks[i]);
}

}  // namespace moxie::quant
