// Known bytes -> known floats for the K-quant dequantizers, worked out by hand from the block
// definitions (ggml-common.h layouts, dequantize_row_q{4,5,6,8}_K walks). Also hand-checked
// Q8_K quantization (the activation format the kernels depend on).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "moxie/core/dtype.h"
#include "moxie/core/error.h"
#include "moxie/core/quant_blocks.h"
#include "moxie/quant/quant.h"

namespace moxie {
namespace {

// Sub-block scales / mins used by the Q4_K and Q5_K blocks below:
//   j :  0  1   2  3   4   5   6   7
//   sc:  1  3  63  0  17  48   2  63
//   m :  2  0  63  1  33   5  60  16
// Packed (get_scale_min_k4): byte j (j < 4) = sc_j | (sc_{j+4} >> 4) << 6; byte j + 4 =
// m_j | (m_{j+4} >> 4) << 6; byte j + 8 = (sc_{j+4} & 15) | (m_{j+4} & 15) << 4.
//   byte0 = 1 | 1<<6 = 0x41      byte4 = 2 | 2<<6 = 0x82     byte8  = 1 | 1<<4  = 0x11
//   byte1 = 3 | 3<<6 = 0xC3      byte5 = 0 | 0<<6 = 0x00     byte9  = 0 | 5<<4  = 0x50
//   byte2 = 63 | 0<<6 = 0x3F     byte6 = 63 | 3<<6 = 0xFF    byte10 = 2 | 12<<4 = 0xC2
//   byte3 = 0 | 3<<6 = 0xC0      byte7 = 1 | 1<<6 = 0x41     byte11 = 15 | 0<<4 = 0x0F
constexpr uint8_t kPackedScales[12] = {0x41, 0xC3, 0x3F, 0xC0, 0x82, 0x00, 0xFF, 0x41, 0x11, 0x50, 0xC2, 0x0F};
constexpr uint16_t kHalfOne = 0x3C00, kHalfHalf = 0x3800, kHalfQuarter = 0x3400;

// qs[32c + l] = (l % 16) | (15 - l % 16) << 4: element 64c + l has nibble l % 16 and element
// 64c + 32 + l has 15 - l % 16.
void fill_nibbles(uint8_t* qs) {
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) qs[32 * c + l] = uint8_t((l % 16) | ((15 - l % 16) << 4));
  }
}

std::vector<float> dequantize(DType t, const void* block) {
  std::vector<float> y(kQKK);
  quant::dequantize_row(t, block, y.data(), kQKK);
  return y;
}

TEST(KQuantFormats, Q4KKnownBlock) {
  BlockQ4_K b{};
  b.d = kHalfOne;     // d = 1
  b.dmin = kHalfHalf;  // dmin = 0.5
  memcpy(b.scales, kPackedScales, 12);
  fill_nibbles(b.qs);
  const std::vector<float> y = dequantize(DType::Q4_K, &b);
  // y = d * sc_j * q - dmin * m_j
  EXPECT_EQ(y[5], 4.0f);      // j=0, q=5:  1*5 - 0.5*2
  EXPECT_EQ(y[35], 36.0f);    // j=1, q=12: 3*12 - 0
  EXPECT_EQ(y[79], 913.5f);   // j=2, q=15: 63*15 - 0.5*63
  EXPECT_EQ(y[96], -0.5f);    // j=3, q=15: 0*15 - 0.5*1
  EXPECT_EQ(y[145], 0.5f);    // j=4, q=1:  17*1 - 0.5*33
  EXPECT_EQ(y[162], 621.5f);  // j=5, q=13: 48*13 - 0.5*5
  EXPECT_EQ(y[223], 0.0f);    // j=6, q=15: 2*15 - 0.5*60
  EXPECT_EQ(y[232], 433.0f);  // j=7, q=7:  63*7 - 0.5*16
}

TEST(KQuantFormats, Q5KKnownBlock) {
  BlockQ5_K b{};
  b.d = kHalfOne;
  b.dmin = kHalfHalf;
  memcpy(b.scales, kPackedScales, 12);
  fill_nibbles(b.qs);
  // qh[l] = 0xA5 = bits 0, 2, 5, 7: sub-blocks 0, 2, 5 and 7 get bit 4 (+16) on every element.
  memset(b.qh, 0xA5, sizeof(b.qh));
  const std::vector<float> y = dequantize(DType::Q5_K, &b);
  EXPECT_EQ(y[5], 20.0f);      // j=0, q=5+16:  1*21 - 0.5*2
  EXPECT_EQ(y[35], 36.0f);     // j=1, q=12:    3*12 - 0
  EXPECT_EQ(y[79], 1921.5f);   // j=2, q=15+16: 63*31 - 0.5*63
  EXPECT_EQ(y[96], -0.5f);     // j=3, q=15:    0 - 0.5*1
  EXPECT_EQ(y[145], 0.5f);     // j=4, q=1:     17*1 - 0.5*33
  EXPECT_EQ(y[162], 1389.5f);  // j=5, q=13+16: 48*29 - 0.5*5
  EXPECT_EQ(y[223], 0.0f);     // j=6, q=15:    2*15 - 0.5*60
  EXPECT_EQ(y[232], 1441.0f);  // j=7, q=7+16:  63*23 - 0.5*16
}

TEST(KQuantFormats, Q6KKnownBlock) {
  BlockQ6_K b{};
  b.d = kHalfQuarter;  // d = 0.25
  const int8_t scales[16] = {1, -2, 3, -4, 5, -6, 7, -8, 127, -128, 10, -10, 0, 1, 2, 3};
  memcpy(b.scales, scales, 16);
  for (int i = 0; i < 128; ++i) b.ql[i] = uint8_t(i);
  // Half 0: qh = 0b11'10'01'00 -> top bits 0, 1, 2, 3 for elements +0, +32, +64, +96.
  // Half 1: qh = 0b00'01'10'11 -> top bits 3, 2, 1, 0.
  memset(b.qh, 0xE4, 32);
  memset(b.qh + 32, 0x1B, 32);
  const std::vector<float> y = dequantize(DType::Q6_K, &b);
  // y = d * scale[e / 16] * (q - 32), q = nibble | top << 4.
  EXPECT_EQ(y[3], -7.25f);     // ql[3]&15 = 3,  top 0: q=3  -> 0.25 * 1 * -29
  EXPECT_EQ(y[52], 12.0f);     // ql[52]&15 = 4, top 1: q=20 -> 0.25 * -4 * -12
  EXPECT_EQ(y[81], -1.5f);     // ql[17]>>4 = 1, top 2: q=33 -> 0.25 * -6 * 1
  EXPECT_EQ(y[127], -38.0f);   // ql[63]>>4 = 3, top 3: q=51 -> 0.25 * -8 * 19
  EXPECT_EQ(y[129], 539.75f);  // ql[65]&15 = 1, top 3: q=49 -> 0.25 * 127 * 17
  EXPECT_EQ(y[144], -512.0f);  // ql[80]&15 = 0, top 3: q=48 -> 0.25 * -128 * 16
  EXPECT_EQ(y[177], -2.5f);    // ql[113]&15 = 1, top 2: q=33 -> 0.25 * -10 * 1
  EXPECT_EQ(y[208], -2.75f);   // ql[80]>>4 = 5, top 1: q=21 -> 0.25 * 1 * -11
  EXPECT_EQ(y[255], -18.75f);  // ql[127]>>4 = 7, top 0: q=7 -> 0.25 * 3 * -25
}

TEST(KQuantFormats, Q8KKnownBlock) {
  BlockQ8_K b{};
  b.d = 0.5f;
  for (int i = 0; i < kQKK; ++i) b.qs[i] = int8_t(i - 128);
  const std::vector<float> y = dequantize(DType::Q8_K, &b);
  EXPECT_EQ(y[0], -64.0f);   // -128 * 0.5
  EXPECT_EQ(y[100], -14.0f);  // -28 * 0.5
  EXPECT_EQ(y[255], 63.5f);   // 127 * 0.5
}

TEST(KQuantFormats, Q8KQuantizeHandWorked) {
  // max |x| = 2 at x[1] = -2, so iscale = -127 / -2 = 63.5, d = 1 / 63.5.
  std::vector<float> x(kQKK, 0.0f);
  x[0] = 1.0f;    // 63.5  -> 64 (ties to even)
  x[1] = -2.0f;   // -127
  x[2] = 0.5f;    // 31.75 -> 32
  x[17] = -1.0f;  // -63.5 -> -64 (ties to even)
  x[18] = 2.0f;   // ties in magnitude: the first (-2) chose the sign; 127
  BlockQ8_K b;
  quant::quantize_row(DType::Q8_K, x.data(), &b, kQKK);
  EXPECT_EQ(b.d, 1 / 63.5f);
  EXPECT_EQ(b.qs[0], 64);
  EXPECT_EQ(b.qs[1], -127);
  EXPECT_EQ(b.qs[2], 32);
  EXPECT_EQ(b.qs[17], -64);
  EXPECT_EQ(b.qs[18], 127);
  EXPECT_EQ(b.bsums[0], 64 - 127 + 32);  // elements 0..15
  EXPECT_EQ(b.bsums[1], -64 + 127);      // elements 16..31
  for (int g = 2; g < 16; ++g) EXPECT_EQ(b.bsums[g], 0);

  // The sign trick: when the largest magnitude is positive, it maps to -127 and d < 0.
  std::vector<float> pos(kQKK, 0.0f);
  pos[7] = 4.0f;
  pos[8] = -1.0f;  // iscale = -127 / 4 = -31.75 -> 31.75 -> 32
  quant::quantize_row(DType::Q8_K, pos.data(), &b, kQKK);
  EXPECT_EQ(b.d, -4.0f / 127.0f);
  EXPECT_EQ(b.qs[7], -127);
  EXPECT_EQ(b.qs[8], 32);
}

TEST(KQuantFormats, RowsMustBeWholeSuperBlocks) {
  std::vector<float> x(300, 1.0f);
  std::vector<uint8_t> out(1024);
  EXPECT_THROW(quant::quantize_row(DType::Q4_K, x.data(), out.data(), 300), Error);
  EXPECT_THROW(quant::dequantize_row(DType::Q6_K, out.data(), x.data(), 100), Error);
}

}  // namespace
}  // namespace moxie
