// quantize -> dequantize round trips of the K-quant reference quantizers on random data.
//
// Bounds, relative RMS error (rms(y - x) / rms(x)) on N(0, 1) data: a b-bit affine quantizer
// over a 32-element sub-block spans its range (~4.5 sigma for 32 Gaussian samples) with
// 2^b - 1 steps, and rounding leaves a uniform error of step / sqrt(12):
//   Q4_K: 4.5 / 15 / 3.46 = 0.087   -> bound 0.11
//   Q5_K: 4.5 / 31 / 3.46 = 0.042   -> bound 0.055
//   Q6_K: symmetric, step max|x| / 32 over 16 elements (~2 sigma): 0.018 -> bound 0.025
// (the 6-bit scales and fp16 super-block scales add a little; the searches remove more).
// Q8_K is exact up to rounding: every |y - x| <= |d| / 2 (with a float ulp of slack).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "moxie/core/dtype.h"
#include "moxie/core/quant_blocks.h"
#include "moxie/quant/quant.h"

namespace moxie {
namespace {

constexpr int64_t kN = 256 * 64;

std::vector<float> gaussian(int64_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, sigma);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = nd(rng);
  return x;
}

std::vector<float> round_trip(DType t, const std::vector<float>& x) {
  const int64_t n = int64_t(x.size());
  std::vector<uint8_t> q(size_t(row_bytes(t, n)));
  quant::quantize_row(t, x.data(), q.data(), n);
  std::vector<float> y(static_cast<size_t>(n));
  quant::dequantize_row(t, q.data(), y.data(), n);
  return y;
}

double relative_rms(const std::vector<float>& x, const std::vector<float>& y) {
  double e2 = 0, x2 = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    e2 += (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
    x2 += double(x[i]) * x[i];
  }
  return std::sqrt(e2 / x2);
}

struct Bound {
  DType type;
  double max_relative_rms;
};

TEST(KQuantRoundTrip, RelativeRmsWithinBound) {
  const Bound bounds[] = {{DType::Q4_K, 0.11}, {DType::Q5_K, 0.055}, {DType::Q6_K, 0.025}, {DType::Q8_K, 0.01}};
  for (const Bound& b : bounds) {
    for (float sigma : {1.0f, 1e-3f, 50.0f}) {  // scale-free: the fp16 scales cover all three
      const std::vector<float> x = gaussian(kN, 7 + uint32_t(b.type), sigma);
      const std::vector<float> y = round_trip(b.type, x);
      const double err = relative_rms(x, y);
      std::printf("%s sigma %g: relative rms error %.4f (bound %.3f)\n", std::string(dtype_name(b.type)).c_str(),
                  double(sigma), err, b.max_relative_rms);
      EXPECT_LE(err, b.max_relative_rms) << dtype_name(b.type) << " sigma " << sigma;
    }
  }
}

TEST(KQuantRoundTrip, Q8KErrorAtMostHalfAStep) {
  const std::vector<float> x = gaussian(kN, 99);
  std::vector<BlockQ8_K> q(kN / kQKK);
  quant::quantize_row(DType::Q8_K, x.data(), q.data(), kN);
  std::vector<float> y(kN);
  quant::dequantize_row(DType::Q8_K, q.data(), y.data(), kN);
  for (int64_t i = 0; i < kN; ++i) {
    const float half_step = std::fabs(q[size_t(i / kQKK)].d) / 2;
    ASSERT_LE(std::fabs(y[size_t(i)] - x[size_t(i)]), half_step * (1 + 1e-5f)) << "element " << i;
  }
  for (const BlockQ8_K& b : q) {  // bsums are the sums of each 16 quants
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int l = 0; l < 16; ++l) s += b.qs[16 * g + l];
      ASSERT_EQ(b.bsums[g], s);
    }
  }
}

// Zero, constant and single-spike blocks quantize to valid blocks that reproduce them well.
TEST(KQuantRoundTrip, DegenerateBlocks) {
  for (DType t : {DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_K}) {
    std::vector<float> zero(kQKK, 0.0f);
    for (float v : round_trip(t, zero)) ASSERT_EQ(v, 0.0f) << dtype_name(t);
    std::vector<float> spike(kQKK, 0.0f);
    spike[77] = -3.0f;
    const std::vector<float> y = round_trip(t, spike);
    EXPECT_NEAR(y[77], -3.0f, 0.03f) << dtype_name(t);
    for (int i = 0; i < kQKK; ++i) {
      if (i != 77) EXPECT_NEAR(y[size_t(i)], 0.0f, 0.03f) << dtype_name(t) << " element " << i;
    }
    std::vector<float> constant(kQKK, 0.75f);
    for (float v : round_trip(t, constant)) ASSERT_NEAR(v, 0.75f, 0.01f) << dtype_name(t);
  }
}

}  // namespace
}  // namespace moxie
