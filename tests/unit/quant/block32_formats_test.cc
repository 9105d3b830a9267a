// The 32-element block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, MXFP4), reference side:
//  (a) hand-made blocks -> the floats the format definition gives (worked out in comments);
//  (b) hand-made rows -> the bytes ggml's quantize_row_*_ref produces (its rounding rules:
//      signed maximum, truncation of x + 8.5, roundf halves away from zero, lowest MXFP4 code
//      on ties), worked out by hand;
//  (c) quantize -> dequantize on random rows stays within a per-element bound derived below;
//  (d) re-quantizing a dequantized row reproduces the same bytes (for the symmetric types).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "moxie/core/dtype.h"
#include "moxie/core/error.h"
#include "moxie/core/half.h"
#include "moxie/quant/quant.h"

namespace moxie {
namespace {

constexpr int kBlock = 32;

std::vector<float> dequantize(DType t, const std::vector<uint8_t>& bytes) {
  const int64_t n = int64_t(bytes.size()) / dtype_info(t).block_bytes * kBlock;
  std::vector<float> y(size_t(n), -999.0f);
  quant::dequantize_row(t, bytes.data(), y.data(), n);
  return y;
}

std::vector<uint8_t> quantize(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> bytes(size_t(row_bytes(t, int64_t(x.size()))), 0xCD);
  quant::quantize_row(t, x.data(), bytes.data(), int64_t(x.size()));
  return bytes;
}

// Expects y to be `fill` everywhere except at the listed (index, value) pairs.
void expect_values(const std::vector<float>& y, float fill, std::vector<std::pair<int, float>> special) {
  ASSERT_EQ(y.size(), size_t(kBlock));
  for (int j = 0; j < kBlock; ++j) {
    float want = fill;
    for (auto [i, v] : special)
      if (i == j) want = v;
    EXPECT_EQ(y[size_t(j)], want) << "element " << j;
  }
}

// ---- (a) known bytes -> known floats ----

TEST(Block32Dequantize, Q4_0) {
  // d = 0x3800 = 0.5. Byte j holds element j (low nibble) and j + 16 (high nibble); y = (q-8)*d.
  std::vector<uint8_t> b(18, 0x88);  // code 8 -> 0
  b[0] = 0x00, b[1] = 0x38;
  b[2] = 0x3A;  // element 0: (10-8)*0.5 = 1.0; element 16: (3-8)*0.5 = -2.5
  b[3] = 0xF0;  // element 1: (0-8)*0.5 = -4.0; element 17: (15-8)*0.5 = 3.5
  expect_values(dequantize(DType::Q4_0, b), 0.0f, {{0, 1.0f}, {16, -2.5f}, {1, -4.0f}, {17, 3.5f}});
}

TEST(Block32Dequantize, Q4_1) {
  // d = 0x3C00 = 1, m = 0xC000 = -2; y = q*d + m.
  std::vector<uint8_t> b(20, 0x00);  // code 0 -> -2
  b[1] = 0x3C, b[3] = 0xC0;
  b[4] = 0x5F;  // element 0: 15 - 2 = 13; element 16: 5 - 2 = 3
  expect_values(dequantize(DType::Q4_1, b), -2.0f, {{0, 13.0f}, {16, 3.0f}});
}

TEST(Block32Dequantize, Q5_0) {
  // d = 0x3400 = 0.25; qh = bytes 01 00 01 80 = bits 0, 16, 31; y = (q-16)*d.
  std::vector<uint8_t> b(22, 0x00);  // code 0 -> -4
  b[1] = 0x34;
  b[2] = 0x01, b[4] = 0x01, b[5] = 0x80;
  b[6] = 0x21;   // element 0: 1|16 = 17 -> 0.25; element 16: 2|16 = 18 -> 0.5
  b[21] = 0x70;  // element 15: 0 -> -4 (bit 15 clear); element 31: 7|16 = 23 -> 1.75
  expect_values(dequantize(DType::Q5_0, b), -4.0f, {{0, 0.25f}, {16, 0.5f}, {31, 1.75f}});
}

TEST(Block32Dequantize, Q5_1) {
  // d = 1, m = 0x3800 = 0.5; qh bits 0 and 16; y = q*d + m.
  std::vector<uint8_t> b(24, 0x00);  // code 0 -> 0.5
  b[1] = 0x3C, b[3] = 0x38;
  b[4] = 0x01, b[6] = 0x01;
  b[8] = 0x21;  // element 0: 17 + 0.5; element 16: 18 + 0.5
  expect_values(dequantize(DType::Q5_1, b), 0.5f, {{0, 17.5f}, {16, 18.5f}});
}

TEST(Block32Dequantize, Q8_0AndQ8_1) {
  // Q8_0: d = 0x3000 = 0.125; y = q*d with q signed.
  std::vector<uint8_t> b(34, 0x00);
  b[1] = 0x30;
  b[2] = 0x80, b[3] = 0x7F, b[4] = 0xFF;  // -128 -> -16, 127 -> 15.875, -1 -> -0.125
  expect_values(dequantize(DType::Q8_0, b), 0.0f, {{0, -16.0f}, {1, 15.875f}, {2, -0.125f}});
  // Q8_1: d = 0x4000 = 2; s (bytes 2-3) plays no part in dequantization.
  std::vector<uint8_t> c(36, 0x00);
  c[1] = 0x40, c[2] = 0x12, c[3] = 0x34;
  c[4] = 3, c[35] = uint8_t(-5);  // 3*2 = 6, -5*2 = -10
  expect_values(dequantize(DType::Q8_1, c), 0.0f, {{0, 6.0f}, {31, -10.0f}});
}

TEST(Block32Dequantize, Mxfp4) {
  // e = 128: scale 2^(128-127) = 2, so code c gives E2M1(c) * 2. Code 7 = 6.0 -> 12,
  // code 9 = -0.5 -> -1, code 0 = 0.
  std::vector<uint8_t> b(17, 0x00);
  b[0] = 128;
  b[1] = 0x97;  // element 0: code 7 -> 12; element 16: code 9 -> -1
  expect_values(dequantize(DType::MXFP4, b), 0.0f, {{0, 12.0f}, {16, -1.0f}});
  // e = 0 and 1 give subnormal scales: 2^-127 * 6.0 = 1.5 * 2^-125 and 2^-126 * 0.5 = 2^-127.
  b.assign(17, 0x00);
  b[1] = 0x07;
  expect_values(dequantize(DType::MXFP4, b), 0.0f, {{0, std::ldexp(1.5f, -125)}});
  b[0] = 1, b[1] = 0x01;
  expect_values(dequantize(DType::MXFP4, b), 0.0f, {{0, std::ldexp(1.0f, -127)}});
}

// ---- (b) known floats -> known bytes (ggml's rounding rules) ----

TEST(Block32Quantize, Q4_0SignedMaxAndClamp) {
  std::vector<float> x(32, 0.0f);
  // -4 and +4 tie for largest magnitude; the first (-4) wins, so d = -4 / -8 = 0.5, id = 2.
  x[0] = -4.0f;   // -8 + 8.5 = 0.5 -> code 0
  x[1] = 2.0f;    //  4 + 8.5 -> 12
  x[2] = 4.0f;    //  8 + 8.5 = 16.5 -> 16, clamped to 15
  x[3] = 0.25f;   //  0.5 + 8.5 = 9 -> 9
  x[4] = -0.25f;  // -0.5 + 8.5 = 8 -> 8 (halves round up)
  std::vector<uint8_t> want(18, 0x88);  // zeros -> code 8 in both nibbles
  want[0] = 0x00, want[1] = 0x38;       // fp16(0.5)
  want[2] = 0x80, want[3] = 0x8C, want[4] = 0x8F, want[5] = 0x89, want[6] = 0x88;
  EXPECT_EQ(quantize(DType::Q4_0, x), want);
  // An all-zero block: d = 0 / -8 = -0 (fp16 0x8000, as ggml stores it), id = 0, codes 8.
  std::vector<uint8_t> zero(18, 0x88);
  zero[0] = 0x00, zero[1] = 0x80;
  EXPECT_EQ(quantize(DType::Q4_0, std::vector<float>(32, 0.0f)), zero);
}

TEST(Block32Quantize, Q4_1MinMax) {
  std::vector<float> x(32, 0.0f);
  x[0] = -1.0f;  // min: code 0
  x[1] = 2.0f;   // max: d = 3/15 = 0.2 (fp16 0x3266), id = 1/0.2f = 5 -> 15 + 0.5 -> 15
  x[2] = 0.5f;   // (0.5+1)*5 = 7.5 + 0.5 -> 8
  // zeros: (0+1)*5 + 0.5 -> 5
  std::vector<uint8_t> want(20, 0x55);
  want[0] = 0x66, want[1] = 0x32;  // d
  want[2] = 0x00, want[3] = 0xBC;  // m = fp16(-1)
  want[4] = 0x50, want[5] = 0x5F, want[6] = 0x58;
  EXPECT_EQ(quantize(DType::Q4_1, x), want);
}

TEST(Block32Quantize, Q5_0) {
  std::vector<float> x(32, 0.0f);
  x[0] = 2.0f;      // signed max: d = 2 / -16 = -0.125 (fp16 0xB000), id = -8; -16 + 16.5 -> 0
  x[1] = -2.0f;     // 16 + 16.5 -> 32, clamped to 31
  x[2] = 0.0625f;   // -0.5 + 16.5 -> 16
  x[3] = -0.0625f;  //  0.5 + 16.5 -> 17
  x[16] = 1.0f;     // -8 + 16.5 -> 8
  // zeros -> 16. Low nibbles: qs[j] = (q[j] & 15) | (q[j+16] & 15) << 4.
  std::vector<uint8_t> want(22, 0x00);
  want[0] = 0x00, want[1] = 0xB0;
  // qh: bit j = q[j] >> 4; set for every code >= 16, i.e. all but elements 0 and 16.
  want[2] = 0xFE, want[3] = 0xFF, want[4] = 0xFE, want[5] = 0xFF;
  want[6] = 0x80;  // q0 = 0, q16 = 8
  want[7] = 0x0F;  // q1 = 31, q17 = 16
  want[9] = 0x01;  // q3 = 17, q19 = 16
  EXPECT_EQ(quantize(DType::Q5_0, x), want);
}

TEST(Block32Quantize, Q5_1) {
  std::vector<float> x(32, 0.0f);
  x[1] = 7.75f;   // max, min = 0: d = 7.75 / 31 = 0.25 (fp16 0x3400), id = 4 -> 31
  x[2] = 0.375f;  // 1.5 + 0.5 -> 2
  x[3] = 4.0f;    // 16 -> nibble 0, qh bit 3
  x[17] = 1.0f;   // 4
  std::vector<uint8_t> want(24, 0x00);
  want[1] = 0x34;                     // d; m = fp16(0) = 0
  want[4] = 0x0A;                     // qh bits 1 (31) and 3 (16)
  want[9] = 0x4F, want[10] = 0x02;    // qs[1] = 31&15 | 4<<4, qs[2] = 2
  EXPECT_EQ(quantize(DType::Q5_1, x), want);
}

TEST(Block32Quantize, Q8RoundsHalvesAwayFromZero) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;  // amax: d = 1 (fp16 0x3C00), id = 1
  x[1] = 2.5f;    // roundf -> 3 (ties-to-even would give 2)
  x[2] = -2.5f;   // -> -3
  x[3] = 0.4f;    // -> 0
  std::vector<uint8_t> want(34, 0x00);
  want[1] = 0x3C;
  want[2] = 127, want[3] = 3, want[4] = uint8_t(-3);
  EXPECT_EQ(quantize(DType::Q8_0, x), want);
  // Q8_1 adds s = fp16(d * sum(q)) = fp16(127) = 0x57F0 after d.
  std::vector<uint8_t> want1(36, 0x00);
  want1[1] = 0x3C, want1[2] = 0xF0, want1[3] = 0x57;
  want1[4] = 127, want1[5] = 3, want1[6] = uint8_t(-3);
  EXPECT_EQ(quantize(DType::Q8_1, x), want1);
}

TEST(Block32Quantize, Mxfp4NearestWithLowestCodeOnTies) {
  std::vector<float> x(32, 0.0f);
  // amax = 7: floor(log2 7) = 2, e = 2 - 2 + 127 = 127, scale 1: values are E2M1 as is.
  x[0] = 5.0f;    // 4 (code 6) and 6 (code 7) tie -> 6
  x[1] = -0.25f;  // +0 (code 0) and -0.5 (code 9) tie -> 0
  x[2] = -1.25f;  // -1 (code 10) and -1.5 (code 11) tie -> 10
  x[3] = 7.0f;    // beyond 6 -> code 7
  x[4] = 2.6f;    // nearest 3 -> code 5
  std::vector<uint8_t> want(17, 0x00);
  want[0] = 127;
  want[1] = 0x06, want[2] = 0x00, want[3] = 0x0A, want[4] = 0x07, want[5] = 0x05;
  EXPECT_EQ(quantize(DType::MXFP4, x), want);
}

TEST(Block32Quantize, RejectsPartialBlocks) {
  std::vector<float> x(33, 1.0f);
  std::vector<uint8_t> out(64);
  EXPECT_THROW(quant::quantize_row(DType::Q4_0, x.data(), out.data(), 33), Error);
  EXPECT_THROW(quant::dequantize_row(DType::MXFP4, out.data(), x.data(), 33), Error);
}

// ---- (c) round-trip error bounds on random rows ----
//
// With d the stored (fp16) scale and q the code, the quantizer picks q within half a step of
// x / d_fp32 (RTN), then d_fp32 is rounded to fp16 (relative error <= 2^-11), which moves the
// dequantized value by at most |q| * |d| * 2^-11. So per element:
//   symmetric (Q4_0, Q5_0, Q8_0, Q8_1):  |x - y| <= |d| * (1/2 + qmax * 2^-11) + clamp
// where clamp = |x| - (qpos + 1/2)|d| for the elements beyond the largest positive code qpos
// (Q4_0: 7, Q5_0: 15; the signed maximum maps to -8 / -16, so +amax can only reach 7.5 / 15.5
// steps and is clamped: that error is below one step);
//   min/max (Q4_1, Q5_1): the same with no clamp, plus |min - m| for the rounded min;
//   MXFP4 (s = 2^(e-127), grid 0, .5, 1, 1.5, 2, 3, 4, 6): half the grid gap around |x| / s,
// i.e. s/4 up to 2s, s/2 up to 4s, s up to 6s, and |x| - 6s beyond (the max lies below 8s).
// A relative 1e-3 margin (plus 1e-6 |x|) covers the fp32 rounding of x * id and of q * d + m.

struct Bound {
  DType type;
  int qmax;  // largest |code| after removing the offset
  int qpos;  // largest positive code (symmetric types), 0 when there is no clamp
};

float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}

float max_error_allowed(const Bound& b, const float* x, const uint8_t* block, int j) {
  const float ax = std::fabs(x[j]);
  const float slack = 1.001f;
  if (b.type == DType::MXFP4) {
    const float s = std::ldexp(1.0f, int(block[0]) - 127);
    const float a = ax / s;
    const float units = a <= 2 ? 0.25f : a <= 4 ? 0.5f : a <= 6 ? 1.0f : a - 6.0f;
    return units * s * slack + 1e-6f * ax;
  }
  const float d = std::fabs(half_at(block));
  float bound = d * (0.5f + float(b.qmax) * 0x1p-11f) * slack + 1e-6f * ax;
  if (b.type == DType::Q4_1 || b.type == DType::Q5_1) {
    float min = x[0];
    for (int i = 1; i < kBlock; ++i) min = std::min(min, x[i]);
    bound += std::fabs(min - half_at(block + 2)) + 1e-6f * std::fabs(min);
  } else if (b.qpos > 0 && x[j] * half_at(block) > 0) {
    bound += std::max(0.0f, ax - (float(b.qpos) + 0.5f) * d / slack);
  }
  return bound;
}

// Rows of different character: gaussian, uniform, all-positive, with outliers, constant.
std::vector<float> random_row(int kind, int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::uniform_real_distribution<float> uni(-3.0f, 3.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    switch (kind) {
      case 0: x[size_t(i)] = gauss(rng); break;
      case 1: x[size_t(i)] = uni(rng); break;
      case 2: x[size_t(i)] = std::fabs(uni(rng)) + 5.0f; break;
      case 3: x[size_t(i)] = gauss(rng) * (i % 29 == 0 ? 40.0f : 0.05f); break;
      default: x[size_t(i)] = 0.75f; break;
    }
  }
  return x;
}

constexpr Bound kBounds[] = {
    {DType::Q4_0, 8, 7},  {DType::Q5_0, 16, 15}, {DType::Q8_0, 127, 0}, {DType::Q8_1, 127, 0},
    {DType::Q4_1, 15, 0}, {DType::Q5_1, 31, 0},  {DType::MXFP4, 0, 0},
};

TEST(Block32RoundTrip, ErrorWithinPerElementBound) {
  std::mt19937 rng(1234);
  const int64_t n = 32 * 64;
  for (const Bound& b : kBounds) {
    const int64_t block_bytes = dtype_info(b.type).block_bytes;
    for (int kind = 0; kind < 5; ++kind) {
      const std::vector<float> x = random_row(kind, n, rng);
      const std::vector<uint8_t> q = quantize(b.type, x);
      const std::vector<float> y = dequantize(b.type, q);
      float worst_ratio = 0.0f;  // max |x - y| / bound, printed to show the bound is not vacuous
      for (int64_t i = 0; i < n; ++i) {
        const int64_t blk = i / kBlock;
        const float allowed =
            max_error_allowed(b, x.data() + blk * kBlock, q.data() + blk * block_bytes, int(i % kBlock));
        const float err = std::fabs(x[size_t(i)] - y[size_t(i)]);
        ASSERT_LE(err, allowed) << dtype_name(b.type) << " kind " << kind << " element " << i << " x "
                                << x[size_t(i)] << " y " << y[size_t(i)];
        if (allowed > 0) worst_ratio = std::max(worst_ratio, err / allowed);
      }
      std::printf("%-6s kind %d: worst error / bound = %.3f\n", std::string(dtype_name(b.type)).c_str(),
                  kind, worst_ratio);
    }
  }
}

// ---- (d) quantize(dequantize(quantize(x))) == quantize(x) ----
// For the symmetric types the extreme element dequantizes to exactly -8d / -16d / +-127d (or
// the MXFP4 maximum stays in [4s, 8s)), so the second pass finds the same scale and codes.
TEST(Block32RoundTrip, RequantizingIsIdempotent) {
  std::mt19937 rng(99);
  for (DType t : {DType::Q4_0, DType::Q5_0, DType::Q8_0, DType::MXFP4}) {
    for (int kind = 0; kind < 5; ++kind) {
      const std::vector<uint8_t> q = quantize(t, random_row(kind, 32 * 16, rng));
      EXPECT_EQ(quantize(t, dequantize(t, q)), q) << dtype_name(t) << " kind " << kind;
    }
  }
}

}  // namespace
}  // namespace moxie
