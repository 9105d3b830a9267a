// F32 / F16 / BF16 gemm of every instruction set the host runs, against two oracles:
//  - double-precision dot products of the values the kernel actually sees (weights decoded by
//    quant::dequantize, activations as the table's to_act packed them, decoded the same way);
//  - the scalar reference table (which dots with F32 activations, so BF16 on AVX-512, whose
//    activations are rounded to BF16, is looser there).
// Errors are normalised by sum |w_i * x_i| of the output, so one tolerance fits every k.
#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "moxie/core/half.h"
#include "moxie/kernels/api.h"
#include "moxie/quant/quant.h"

namespace {

using moxie::DType;
using moxie::kernels::Isa;
using moxie::kernels::KernelTable;

struct Tolerance {
  DType type;
  double vs_double;     // normalised error against exact dots of what the kernel sees
  double vs_reference;  // normalised error against the scalar reference table
};
// F32 accumulation over k = 4103 random terms stays near 1e-6. Against the reference's F32
// activations, BF16 activations differ by up to 2^-9 of the unrounded value, which is a little
// more than 2^-9 of the rounded one the error is normalised by: allow 2^-8.
constexpr Tolerance kTolerances[] = {
    {DType::F32, 2e-5, 2e-5},
    {DType::F16, 2e-5, 2e-5},
    {DType::BF16, 2e-5, 0x1p-8},
};

constexpr int64_t kDepths[] = {1, 3, 15, 16, 17, 33, 4096 + 7};
constexpr int64_t kMaxRows = 17, kMaxTokens = 9;

// n_rows rows of k values encoded as type t, row r at r * stride bytes (stride > row bytes for
// some shapes, to catch kernels that assume packed rows).
struct Matrix {
  std::vector<char> bytes;
  std::vector<double> seen;  // [row][k], the decoded values
  int64_t stride = 0;
};

Matrix encode_rows(DType t, const std::vector<float>& values, int64_t n_rows, int64_t k, int64_t pad_elems,
                   void (*encode)(const float*, void*, int64_t)) {
  const int64_t elem = moxie::dtype_info(t).block_bytes;
  Matrix m;
  m.stride = moxie::row_bytes(t, k) + pad_elems * elem;
  m.bytes.assign(size_t(m.stride * n_rows + 64), char(0x55));
  std::vector<float> decoded(static_cast<size_t>(k));
  for (int64_t r = 0; r < n_rows; ++r) {
    encode(values.data() + r * k, m.bytes.data() + r * m.stride, k);
    moxie::quant::dequantize_row(t, m.bytes.data() + r * m.stride, decoded.data(), k);
    m.seen.insert(m.seen.end(), decoded.begin(), decoded.end());
  }
  return m;
}

std::vector<float> random_values(std::mt19937& rng, int64_t n) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = dist(rng);
  return v;
}

struct MaxErrors {
  double vs_double = 0, vs_reference = 0;
};

// Runs one shape on `table` and the scalar table; checks and returns the worst errors.
MaxErrors check_shape(const KernelTable& table, const Tolerance& tol, int64_t n_rows, int64_t n_tok, int64_t k,
                      std::mt19937& rng) {
  const KernelTable& ref = *moxie::kernels::table_for(Isa::scalar);
  const moxie::kernels::WeightOps& ops = table.weights[uint32_t(tol.type)];
  const moxie::kernels::WeightOps& ref_ops = ref.weights[uint32_t(tol.type)];
  const std::vector<float> w_values = random_values(rng, n_rows * k), x_values = random_values(rng, n_tok * k);
  const Matrix w = encode_rows(tol.type, w_values, n_rows, k, n_rows % 3, moxie::quant::quant_fns(tol.type).quantize);
  const Matrix x = encode_rows(ops.act_type, x_values, n_tok, k, n_tok % 2, ops.to_act);
  const Matrix x_ref = encode_rows(ref_ops.act_type, x_values, n_tok, k, 0, ref_ops.to_act);

  const int64_t c_stride = n_rows + 2;
  std::vector<float> c(size_t(c_stride * n_tok), NAN), c_ref(size_t(n_rows * n_tok));
  ops.gemm(k, w.bytes.data(), w.stride, n_rows, x.bytes.data(), x.stride, n_tok, c.data(), c_stride);
  ref_ops.gemm(k, w.bytes.data(), w.stride, n_rows, x_ref.bytes.data(), x_ref.stride, n_tok, c_ref.data(), n_rows);

  MaxErrors worst;
  for (int64_t t = 0; t < n_tok; ++t) {
    for (int64_t r = 0; r < n_rows; ++r) {
      double exact = 0, scale = 1e-30;
      for (int64_t i = 0; i < k; ++i) {
        const double p = w.seen[size_t(r * k + i)] * x.seen[size_t(t * k + i)];
        exact += p;
        scale += std::fabs(p);
      }
      const double got = c[size_t(t * c_stride + r)];
      const double e_double = std::fabs(got - exact) / scale;
      const double e_ref = std::fabs(got - c_ref[size_t(t * n_rows + r)]) / scale;
      EXPECT_LE(e_double, tol.vs_double) << "row " << r << " token " << t << " got " << got << " exact " << exact;
      EXPECT_LE(e_ref, tol.vs_reference) << "row " << r << " token " << t;
      worst.vs_double = std::max(worst.vs_double, e_double);
      worst.vs_reference = std::max(worst.vs_reference, e_ref);
    }
    for (int64_t r = n_rows; r < c_stride; ++r) EXPECT_TRUE(std::isnan(c[size_t(t * c_stride + r)])) << "wrote past row end";
  }
  return worst;
}

class FloatGemm : public ::testing::TestWithParam<Isa> {};

TEST_P(FloatGemm, MatchesDoubleAndReferenceOnOddShapes) {
  const KernelTable* table = moxie::kernels::table_for(GetParam());
  if (!table) GTEST_SKIP() << "CPU lacks " << moxie::kernels::isa_name(GetParam());
  std::mt19937 rng(1234);
  for (const Tolerance& tol : kTolerances) {
    ASSERT_NE(table->weights[uint32_t(tol.type)].gemm, nullptr) << moxie::dtype_name(tol.type);
    MaxErrors worst;
    for (int64_t k : kDepths) {
      for (int64_t n_rows = 1; n_rows <= kMaxRows; ++n_rows) {
        for (int64_t n_tok = 1; n_tok <= kMaxTokens; ++n_tok) {
          SCOPED_TRACE(testing::Message() << moxie::dtype_name(tol.type) << " k=" << k << " rows=" << n_rows
                                          << " tokens=" << n_tok);
          const MaxErrors e = check_shape(*table, tol, n_rows, n_tok, k, rng);
          worst.vs_double = std::max(worst.vs_double, e.vs_double);
          worst.vs_reference = std::max(worst.vs_reference, e.vs_reference);
          if (HasFailure()) return;
        }
      }
    }
    // Long token runs (kernels keep accumulators for a bounded group of tokens) and deep k
    // (cut into L1-sized blocks).
    for (const auto& [n_rows, n_tok, k] : {std::array<int64_t, 3>{5, 150, 4096 + 7}, {9, 70, 100}, {2, 1, 9000}}) {
      SCOPED_TRACE(testing::Message() << moxie::dtype_name(tol.type) << " k=" << k << " rows=" << n_rows
                                      << " tokens=" << n_tok);
      const MaxErrors e = check_shape(*table, tol, n_rows, n_tok, k, rng);
      worst.vs_double = std::max(worst.vs_double, e.vs_double);
      worst.vs_reference = std::max(worst.vs_reference, e.vs_reference);
      if (HasFailure()) return;
    }
    std::printf("[%s %s] max normalised error: vs double %.3g, vs scalar reference %.3g\n",
                moxie::kernels::isa_name(GetParam()), std::string(moxie::dtype_name(tol.type)).c_str(),
                worst.vs_double, worst.vs_reference);
  }
}

// Each output's arithmetic must not depend on the tile or token group it falls in: the matmul
// driver relies on this to give identical results for any thread count.
TEST_P(FloatGemm, OutputsDoNotDependOnHowTheCallIsSplit) {
  const KernelTable* table = moxie::kernels::table_for(GetParam());
  if (!table) GTEST_SKIP() << "CPU lacks " << moxie::kernels::isa_name(GetParam());
  std::mt19937 rng(77);
  const int64_t n_rows = 11, n_tok = 131, k = 3000;
  for (const Tolerance& tol : kTolerances) {
    const moxie::kernels::WeightOps& ops = table->weights[uint32_t(tol.type)];
    const Matrix w = encode_rows(tol.type, random_values(rng, n_rows * k), n_rows, k, 0,
                                 moxie::quant::quant_fns(tol.type).quantize);
    const Matrix x = encode_rows(ops.act_type, random_values(rng, n_tok * k), n_tok, k, 0, ops.to_act);
    std::vector<float> whole(static_cast<size_t>(n_rows * n_tok)), pieces(whole.size());
    ops.gemm(k, w.bytes.data(), w.stride, n_rows, x.bytes.data(), x.stride, n_tok, whole.data(), n_rows);
    for (int64_t t = 0; t < n_tok; ++t) {
      for (int64_t r = 0; r < n_rows; ++r) {
        ops.gemm(k, w.bytes.data() + r * w.stride, w.stride, 1, x.bytes.data() + t * x.stride, x.stride, 1,
                 &pieces[size_t(t * n_rows + r)], n_rows);
      }
    }
    EXPECT_EQ(std::memcmp(whole.data(), pieces.data(), whole.size() * sizeof(float)), 0) << moxie::dtype_name(tol.type);
  }
}

// A BF16 activation conversion must round exactly like core/half.h's fp32_to_bf16 (nearest,
// ties to even, NaN kept a NaN), for every length (SIMD tails) and every bit pattern class.
TEST_P(FloatGemm, Bf16ActivationsRoundToNearestEven) {
  const KernelTable* table = moxie::kernels::table_for(GetParam());
  if (!table) GTEST_SKIP() << "CPU lacks " << moxie::kernels::isa_name(GetParam());
  const moxie::kernels::WeightOps& ops = table->weights[uint32_t(DType::BF16)];
  if (ops.act_type != DType::BF16) GTEST_SKIP() << "BF16 weights dot with F32 activations on this ISA";
  std::mt19937 rng(99);
  for (int64_t n = 1; n <= 70; ++n) {
    std::vector<float> x(static_cast<size_t>(n));
    for (float& f : x) {
      uint32_t bits = uint32_t(rng());
      if (rng() % 4 == 0) bits = (bits & 0xffff0000u) | 0x8000u;  // an exact tie
      f = std::bit_cast<float>(bits);
    }
    std::vector<uint16_t> got(size_t(n) + 1, 0xabcd);
    ops.to_act(x.data(), got.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(got[size_t(i)], moxie::fp32_to_bf16(x[size_t(i)]))
          << "n=" << n << " i=" << i << " bits 0x" << std::hex << std::bit_cast<uint32_t>(x[size_t(i)]);
    }
    ASSERT_EQ(got[size_t(n)], 0xabcd) << "wrote past the end, n=" << n;
  }
}

// F32 activations are passed through unchanged.
TEST_P(FloatGemm, F32ActivationsAreCopiedExactly) {
  const KernelTable* table = moxie::kernels::table_for(GetParam());
  if (!table) GTEST_SKIP() << "CPU lacks " << moxie::kernels::isa_name(GetParam());
  std::mt19937 rng(5);
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    const moxie::kernels::WeightOps& ops = table->weights[uint32_t(t)];
    if (ops.act_type != DType::F32) continue;
    const std::vector<float> x = random_values(rng, 37);
    std::vector<float> y(38, -7.0f);
    ops.to_act(x.data(), y.data(), 37);
    EXPECT_EQ(std::memcmp(x.data(), y.data(), 37 * sizeof(float)), 0);
    EXPECT_EQ(y[37], -7.0f);
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, FloatGemm, ::testing::Values(Isa::scalar, Isa::avx2, Isa::avx512),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                           return std::string(moxie::kernels::isa_name(info.param));
                         });

// Decoding the float formats: F16 against hand-worked encodings, BF16 as the top half of F32.
TEST(FloatQuant, RowConversionsMatchTheFormats) {
  const uint16_t halves[] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x0000, 0x8000, 0x3555};
  const float expect[] = {1.0f, -2.0f, 65504.0f, 0x1p-24f, 0.0f, -0.0f, 0.333251953125f};
  float out[7];
  moxie::quant::dequantize_row(DType::F16, halves, out, 7);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(std::bit_cast<uint32_t>(out[i]), std::bit_cast<uint32_t>(expect[i])) << i;

  const float in[] = {1.0f, 1.00390625f /* tie: stays 1 */, 1.01171875f /* tie: rounds up to even */, -3.5f};
  uint16_t b[4];
  moxie::quant::quantize_row(DType::BF16, in, b, 4);
  EXPECT_EQ(b[0], 0x3f80);
  EXPECT_EQ(b[1], 0x3f80);
  EXPECT_EQ(b[2], 0x3f82);
  EXPECT_EQ(b[3], 0xc060);

  float back[4];
  moxie::quant::quantize_row(DType::F32, in, back, 4);
  EXPECT_EQ(std::memcmp(back, in, sizeof(in)), 0);
}

}  // namespace
