// fp16/bf16 conversions against the CPU's own F16C instructions (an independent oracle)
// and against exact double arithmetic for bf16.
#include <gtest/gtest.h>
#include <immintrin.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>

#include "moxie/core/cpu_features.h"
#include "moxie/core/half.h"

namespace {

__attribute__((target("f16c"))) float hw_half_to_float(uint16_t h) { return _cvtsh_ss(h); }
__attribute__((target("f16c"))) uint16_t hw_float_to_half(float f) {
  return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}

bool same_bits_or_both_nan(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

TEST(Half, EveryHalfDecodesLikeF16C) {
  if (!moxie::cpu_features().avx2) GTEST_SKIP() << "no F16C";
  for (uint32_t h = 0; h < 65536; ++h) {
    ASSERT_TRUE(same_bits_or_both_nan(moxie::fp16_to_fp32(uint16_t(h)), hw_half_to_float(uint16_t(h))))
        << "half bits 0x" << std::hex << h;
  }
}

TEST(Half, EncodingRoundsLikeF16C) {
  if (!moxie::cpu_features().avx2) GTEST_SKIP() << "no F16C";
  std::mt19937 rng(42);
  auto check = [](float f) {
    const uint16_t ours = moxie::fp32_to_fp16(f), theirs = hw_float_to_half(f);
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(moxie::fp16_to_fp32(ours)));
    } else {
      ASSERT_EQ(ours, theirs) << "float bits 0x" << std::hex << std::bit_cast<uint32_t>(f);
    }
  };
  for (int i = 0; i < 2'000'000; ++i) check(std::bit_cast<float>(uint32_t(rng())));
  // Every float near the half range's edges and ties: exponents -26..16, all low mantissa patterns.
  for (int e = -26; e <= 16; ++e) {
    for (uint32_t m = 0; m < (1u << 14); ++m) {
      const uint32_t bits = (uint32_t(e + 127) << 23) | (m << 9) | (m & 0x1ff);
      check(std::bit_cast<float>(bits));
      check(-std::bit_cast<float>(bits));
    }
  }
}

TEST(Half, Bf16RoundsToNearestEven) {
  std::mt19937 rng(7);
  for (int i = 0; i < 1'000'000; ++i) {
    const float f = std::bit_cast<float>(uint32_t(rng()));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(moxie::bf16_to_fp32(moxie::fp32_to_bf16(f))));
      continue;
    }
    const uint16_t b = moxie::fp32_to_bf16(f);
    // The two bf16 neighbours of f; the chosen one is nearest, ties to the even mantissa.
    const uint32_t lo_bits = std::bit_cast<uint32_t>(f) & 0xffff0000u;
    const double lo = std::bit_cast<float>(lo_bits);
    const double hi = std::bit_cast<float>(lo_bits + 0x10000u);
    const double dlo = std::fabs(double(f) - lo), dhi = std::isinf(hi) ? INFINITY : std::fabs(hi - double(f));
    const uint16_t lo_b = uint16_t(lo_bits >> 16);
    const uint16_t expect = dlo < dhi ? lo_b : dlo > dhi ? uint16_t(lo_b + 1) : ((lo_b & 1) ? uint16_t(lo_b + 1) : lo_b);
    if (std::isinf(hi)) continue;  // the overflow edge is covered below
    ASSERT_EQ(b, expect) << "float bits 0x" << std::hex << std::bit_cast<uint32_t>(f);
  }
  EXPECT_EQ(moxie::fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(moxie::fp32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(moxie::fp32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie -> even (up)
  EXPECT_EQ(moxie::fp32_to_bf16(std::bit_cast<float>(0x7f7fffffu)), 0x7f80);  // max float -> inf
}

}  // namespace
