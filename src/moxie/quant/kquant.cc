// Q4_K and Q5_K: 256 elements = 8 sub-blocks of 32, each x ~= d * sc * q - dmin * m with
// 6-bit sc, m packed in 12 bytes and fp16 super-block scales d, dmin. Also registers the
// whole K-quant family (Q6_K and Q8_K live in kquant_q6_q8.cc).
#include "moxie/quant/kquant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "moxie/core/half.h"
#include "moxie/core/quant_blocks.h"
#include "moxie/quant/families.h"
#include "moxie/quant/kquant_search.h"

namespace moxie::quant {
namespace {

constexpr int kSubBlocks = kQKK / 32;

// ggml's search settings for one 32-element sub-block (quantize_row_q{4,5}_K_ref).
struct AffineSearch {
  int nmax;  // 15 for 4-bit, 31 for 5-bit quants
  float rmin, rdelta;
  int nstep;
};
constexpr AffineSearch kQ4Search{15, -1.f, 0.1f, 20};
constexpr AffineSearch kQ5Search{31, -0.5f, 0.1f, 15};

// Quantizes one super-block of x[256]: fills d, dmin (fp16 bits), the packed scales and the
// quants L[256] in [0, nmax], in element order.
void quantize_affine_superblock(const float* x, const AffineSearch& s, uint16_t* d_out,
                                uint16_t* dmin_out, uint8_t* packed, uint8_t* L) {
  float scales[kSubBlocks], mins[kSubBlocks];
  float weights[32];
  uint8_t Laux[32];
  float max_scale = 0, max_min = 0;  // scales are positive as the min is subtracted
  for (int j = 0; j < kSubBlocks; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] = kq::make_qkx2_quants(32, s.nmax, xs, weights, L + 32 * j, &mins[j], Laux, s.rmin,
                                     s.rdelta, s.nstep, false);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  // 6-bit scales and mins relative to the block's largest.
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  std::memset(packed, 0, kKScaleBytes);
  for (int j = 0; j < kSubBlocks; ++j) {
    // (ggml wraps a negative value through uint8_t; least-squares scales never go negative
    // since the quants rise with x, but clamp anyway so the packing stays valid.)
    const uint8_t ls = uint8_t(std::clamp(kq::nearest_int(inv_scale * scales[j]), 0, 63));
    const uint8_t lm = uint8_t(std::clamp(kq::nearest_int(inv_min * mins[j]), 0, 63));
    kq::put_scale_min_k4(j, ls, lm, packed);
  }
  *d_out = fp32_to_fp16(max_scale / 63.f);
  *dmin_out = fp32_to_fp16(max_min / 63.f);
  // Requantize against the scales as stored (rounded to 6 and 16 bits).
  for (int j = 0; j < kSubBlocks; ++j) {
    uint8_t sc, m;
    kq::get_scale_min_k4(j, packed, &sc, &m);
    const float d = fp16_to_fp32(*d_out) * sc;
    if (!d) continue;  // keeps the search's quants, as ggml does
    const float dm = fp16_to_fp32(*dmin_out) * m;
    for (int l = 0; l < 32; ++l) {
      L[32 * j + l] = uint8_t(std::clamp(kq::nearest_int((x[32 * j + l] + dm) / d), 0, s.nmax));
    }
  }
}

void quantize_q4_k_block(const float* x, BlockQ4_K* y) {
  uint8_t L[kQKK];
  quantize_affine_superblock(x, kQ4Search, &y->d, &y->dmin, y->scales, L);
  // Chunk c of 32 bytes: low nibbles hold elements 64c..64c+31, high nibbles the next 32.
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) y->qs[32 * c + l] = uint8_t(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
  }
}

void quantize_q5_k_block(const float* x, BlockQ5_K* y) {
  uint8_t L[kQKK];
  quantize_affine_superblock(x, kQ5Search, &y->d, &y->dmin, y->scales, L);
  // As Q4_K for the low 4 bits; bit 4 of element 64c + l goes to bit 2c of qh[l], bit 4 of
  // element 64c + 32 + l to bit 2c + 1.
  std::memset(y->qh, 0, sizeof(y->qh));
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      const int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
      y->qs[32 * c + l] = uint8_t((lo & 0xF) | ((hi & 0xF) << 4));
      y->qh[l] |= uint8_t(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
    }
  }
}

}  // namespace

void dequantize_row_q4_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const BlockQ4_K& b = blocks[i];
    const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
    for (int c = 0; c < 4; ++c) {
      uint8_t sc1, m1, sc2, m2;
      kq::get_scale_min_k4(2 * c, b.scales, &sc1, &m1);
      kq::get_scale_min_k4(2 * c + 1, b.scales, &sc2, &m2);
      const float d1 = d * sc1, dm1 = dmin * m1, d2 = d * sc2, dm2 = dmin * m2;
      const uint8_t* q = b.qs + 32 * c;
      float* y = dst + kQKK * i + 64 * c;
      for (int l = 0; l < 32; ++l) y[l] = d1 * (q[l] & 0xF) - dm1;
      for (int l = 0; l < 32; ++l) y[32 + l] = d2 * (q[l] >> 4) - dm2;
    }
  }
}

void dequantize_row_q5_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5_K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const BlockQ5_K& b = blocks[i];
    const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
    for (int c = 0; c < 4; ++c) {
      uint8_t sc1, m1, sc2, m2;
      kq::get_scale_min_k4(2 * c, b.scales, &sc1, &m1);
      kq::get_scale_min_k4(2 * c + 1, b.scales, &sc2, &m2);
      const float d1 = d * sc1, dm1 = dmin * m1, d2 = d * sc2, dm2 = dmin * m2;
      const uint8_t* q = b.qs + 32 * c;
      const uint8_t u1 = uint8_t(1 << (2 * c)), u2 = uint8_t(2 << (2 * c));
      float* y = dst + kQKK * i + 64 * c;
      for (int l = 0; l < 32; ++l) y[l] = d1 * ((q[l] & 0xF) + (b.qh[l] & u1 ? 16 : 0)) - dm1;
      for (int l = 0; l < 32; ++l) y[32 + l] = d2 * ((q[l] >> 4) + (b.qh[l] & u2 ? 16 : 0)) - dm2;
    }
  }
}

void quantize_row_q4_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ4_K*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i) quantize_q4_k_block(src + kQKK * i, &blocks[i]);
}

void quantize_row_q5_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ5_K*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i) quantize_q5_k_block(src + kQKK * i, &blocks[i]);
}

void register_kquant_quants(QuantFns* table) {
  table[uint32_t(DType::Q4_K)] = {dequantize_row_q4_k, quantize_row_q4_k};
  table[uint32_t(DType::Q5_K)] = {dequantize_row_q5_k, quantize_row_q5_k};
  table[uint32_t(DType::Q6_K)] = {dequantize_row_q6_k, quantize_row_q6_k};
  table[uint32_t(DType::Q8_K)] = {dequantize_row_q8_k, quantize_row_q8_k};
}

}  // namespace moxie::quant
