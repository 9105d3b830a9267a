// Block32 gemm (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, MXFP4 weights) for every instruction set this
// CPU runs, against two oracles:
//  - the scalar reference gemm (kernels/ref/block32.cc), on the same bytes;
//  - a double-precision dot of the dequantized weights (quant::dequantize_row) with the
//    dequantized activations, which shares no code with any kernel.
// Weights are random bytes (every code, including Q8_0's -128) with finite random scales;
// activations are random floats run through the reference to_act. Shapes have row and token
// tails, odd block counts and padded strides. Also: each ISA's to_act against the reference
// quantizer, byte for byte.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "moxie/core/dtype.h"
#include "moxie/core/half.h"
#include "moxie/kernels/api.h"
#include "moxie/quant/quant.h"

namespace moxie {
namespace {

using kernels::Isa;

// Errors are normalised by mag = sum_i |w_i * x_i| (dequantized), the natural scale of float
// rounding in a dot product. vs_ref: both sides sum the same exact block integers in fp32, in
// different orders (<= ~k/32 roundings). vs_exact: the same, except that Q4_1/Q5_1 use the
// activation's stored s = fp16(d_fp32 * sum q) where the dequantized dot has d_fp16 * sum q:
// the fp16 roundings of d and s (2^-11 each) show up relative to the min term |m * sum x|,
// which is at most mag: at most 2 * 2^-11 ~ 9.8e-4 of mag, seen in full with min-dominated
// random blocks; the tolerance doubles it.
struct Tolerance {
  DType type;
  double vs_ref;
  double vs_exact;
};
constexpr Tolerance kTolerances[] = {
    {DType::Q4_0, 2e-6, 2e-6}, {DType::Q4_1, 2e-6, 2e-3}, {DType::Q5_0, 2e-6, 2e-6},
    {DType::Q5_1, 2e-6, 2e-3}, {DType::Q8_0, 2e-6, 2e-6}, {DType::MXFP4, 2e-6, 2e-6},
};

// Random weight rows: random bytes, then every scale field replaced by a finite value
// (fp16 d in [2^-8, 2^-4) with random sign, fp16 m in +-[0, 0.5), MXFP4 e in [118, 135]).
std::vector<uint8_t> random_weights(DType t, int64_t rows, int64_t k, int64_t stride, std::mt19937& rng) {
  std::vector<uint8_t> w(size_t(rows * stride));
  for (uint8_t& b : w) b = uint8_t(rng());
  const int64_t block_bytes = dtype_info(t).block_bytes;
  const int64_t blocks = k / 32;
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  auto put_half = [&](uint8_t* p, float v) {
    const uint16_t h = fp32_to_fp16(v);
    std::memcpy(p, &h, 2);
  };
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < blocks; ++b) {
      uint8_t* blk = w.data() + r * stride + b * block_bytes;
      if (t == DType::MXFP4) {
        blk[0] = uint8_t(118 + rng() % 18);
        continue;
      }
      const float sign = rng() % 2 ? 1.0f : -1.0f;
      put_half(blk, sign * std::ldexp(1.0f + unit(rng), -8 + int(rng() % 4)));
      if (t == DType::Q4_1 || t == DType::Q5_1) put_half(blk + 2, unit(rng) - 0.5f);
    }
  }
  return w;
}

std::vector<float> random_floats(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = gauss(rng);
  return x;
}

struct Shape {
  int64_t rows, toks, k;
};

std::vector<Shape> shapes() {
  std::vector<Shape> s;
  for (int64_t k : {32, 64, 96, 2048 + 32})
    for (int64_t rows : {1, 3, 4, 5, 8, 17})
      for (int64_t toks : {1, 2, 3, 4, 5, 9}) s.push_back({rows, toks, k});
  return s;
}

struct Worst {
  double abs_ref = 0, norm_ref = 0, abs_exact = 0, norm_exact = 0;
};

// One shape: fills worst-case errors, fails the test past the tolerances.
void check_shape(const kernels::KernelTable& table, const Tolerance& tol, const Shape& s, std::mt19937& rng,
                 Worst* worst) {
  const kernels::WeightOps& ops = table.weights[uint32_t(tol.type)];
  const kernels::WeightOps& ref = kernels::table_for(Isa::scalar)->weights[uint32_t(tol.type)];
  ASSERT_NE(ops.gemm, nullptr);
  const int64_t w_stride = row_bytes(tol.type, s.k) + 6;  // padding must be skipped
  const int64_t x_stride = row_bytes(ops.act_type, s.k) + 4;
  const int64_t c_stride = s.rows + 3;
  const std::vector<uint8_t> w = random_weights(tol.type, s.rows, s.k, w_stride, rng);
  std::vector<uint8_t> x(size_t(s.toks * x_stride), 0);
  std::vector<float> wf(size_t(s.rows * s.k)), xf(size_t(s.toks * s.k));
  for (int64_t t = 0; t < s.toks; ++t) {
    const std::vector<float> src = random_floats(s.k, rng);
    ref.to_act(src.data(), x.data() + t * x_stride, s.k);
    quant::dequantize_row(ops.act_type, x.data() + t * x_stride, xf.data() + t * s.k, s.k);
  }
  for (int64_t r = 0; r < s.rows; ++r) quant::dequantize_row(tol.type, w.data() + r * w_stride, wf.data() + r * s.k, s.k);

  std::vector<float> c(size_t(s.toks * c_stride), NAN), c_ref(size_t(s.toks * c_stride), NAN);
  ops.gemm(s.k, w.data(), w_stride, s.rows, x.data(), x_stride, s.toks, c.data(), c_stride);
  ref.gemm(s.k, w.data(), w_stride, s.rows, x.data(), x_stride, s.toks, c_ref.data(), c_stride);
  for (int64_t t = 0; t < s.toks; ++t) {
    for (int64_t r = 0; r < s.rows; ++r) {
      double exact = 0, mag = 0;
      for (int64_t i = 0; i < s.k; ++i) {
        const double p = double(wf[size_t(r * s.k + i)]) * double(xf[size_t(t * s.k + i)]);
        exact += p;
        mag += std::fabs(p);
      }
      mag = std::max(mag, 1e-30);
      const double got = c[size_t(t * c_stride + r)], want = c_ref[size_t(t * c_stride + r)];
      const double d_ref = std::fabs(got - want), d_exact = std::fabs(got - exact);
      worst->abs_ref = std::max(worst->abs_ref, d_ref);
      worst->norm_ref = std::max(worst->norm_ref, d_ref / mag);
      worst->abs_exact = std::max(worst->abs_exact, d_exact);
      worst->norm_exact = std::max(worst->norm_exact, d_exact / mag);
      ASSERT_LE(d_ref, tol.vs_ref * mag) << "vs ref: row " << r << " tok " << t << " k " << s.k << " rows "
                                         << s.rows << " toks " << s.toks << ": " << got << " vs " << want;
      ASSERT_LE(d_exact, tol.vs_exact * mag) << "vs exact: row " << r << " tok " << t << " k " << s.k << " rows "
                                             << s.rows << " toks " << s.toks << ": " << got << " vs " << exact;
    }
    // Padding columns of C (between n_rows and c_stride) must be left alone.
    for (int64_t r = s.rows; r < c_stride; ++r) ASSERT_TRUE(std::isnan(c[size_t(t * c_stride + r)]));
  }
}

class Block32Gemm : public testing::TestWithParam<Isa> {};

TEST_P(Block32Gemm, MatchesReferenceAndExactDot) {
  const kernels::KernelTable* table = kernels::table_for(GetParam());
  if (!table) GTEST_SKIP() << "CPU lacks " << kernels::isa_name(GetParam());
  for (const Tolerance& tol : kTolerances) {
    std::mt19937 rng(7 + uint32_t(tol.type));
    Worst worst;
    for (const Shape& s : shapes()) {
      check_shape(*table, tol, s, rng, &worst);
      if (HasFatalFailure()) return;
    }
    std::printf("%-6s %-6s max|diff| vs ref %.3g (norm %.3g), vs exact %.3g (norm %.3g)\n",
                kernels::isa_name(GetParam()), std::string(dtype_name(tol.type)).c_str(), worst.abs_ref,
                worst.norm_ref, worst.abs_exact, worst.norm_exact);
  }
}

// Activation rows with the awkward cases: exact halves (x * id = n + 0.5, which roundf sends
// away from zero), an all-zero block, tiny and huge magnitudes, negative maxima.
std::vector<float> awkward_row(int64_t k, std::mt19937& rng) {
  std::vector<float> x = random_floats(k, rng);
  for (int64_t b = 0; b < k / 32; ++b) {
    float* blk = x.data() + b * 32;
    switch (b % 5) {
      case 0:  // amax 127 -> d = 1, id = 1: every x.5 is a tie
        for (int j = 0; j < 32; ++j) blk[j] = float(int(rng() % 253) - 126) + (j % 2 ? 0.5f : 0.0f);
        blk[5] = -127.0f;
        break;
      case 1: std::fill(blk, blk + 32, 0.0f); break;
      case 2: for (int j = 0; j < 32; ++j) blk[j] *= 1e-6f; break;
      case 3: for (int j = 0; j < 32; ++j) blk[j] *= 3e4f; break;
      default: break;
    }
  }
  return x;
}

TEST_P(Block32Gemm, ToActMatchesReferenceBytes) {
  const kernels::KernelTable* table = kernels::table_for(GetParam());
  if (!table) GTEST_SKIP() << "CPU lacks " << kernels::isa_name(GetParam());
  std::mt19937 rng(42);
  for (DType weight : {DType::Q4_0, DType::Q4_1}) {  // one _0 (-> Q8_0) and one _1 (-> Q8_1) user
    const kernels::WeightOps& ops = table->weights[uint32_t(weight)];
    for (int64_t k : {32, 160, 4096}) {
      const std::vector<float> x = awkward_row(k, rng);
      std::vector<uint8_t> got(size_t(row_bytes(ops.act_type, k)), 0xAA), want(got.size(), 0x55);
      ops.to_act(x.data(), got.data(), k);
      quant::quantize_row(ops.act_type, x.data(), want.data(), k);
      EXPECT_EQ(got, want) << dtype_name(ops.act_type) << " k " << k;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Block32Gemm, testing::Values(Isa::scalar, Isa::avx2, Isa::avx512),
                         [](const testing::TestParamInfo<Isa>& info) { return kernels::isa_name(info.param); });

}  // namespace
}  // namespace moxie
