// The decode attention kernels over int8 cached rows (AttentionArgs::kv_type I8, the
// `--cache-type q8` cache, core/kv_int8.h). The reference reads I8 rows exactly (int8 *
// scale in double): it must equal itself on F32 rows holding those values. Every SIMD table
// is then checked against it; they may round q and the softmax weights to 8 bits (api.h), so
// the bound is int8-sized, not float-sized: the worst error found is printed.
#include <cstdio>
#include <vector>

#include "unit/kernels/attention_problem.h"

namespace moxie::kernels::testing {
namespace {

// Output error / max |v| of a SIMD table against the exact reference on the same int8 rows.
// Measured worst: see the printed figure (AVX-512 rounds q per head to int8 and the weights
// per 64 positions to uint8).
constexpr double kI8Tol = 2e-2;

// GQA shapes (I8 rows have no second key part): model-like heads, tails of every register
// width (64 bytes, 16 lanes), padded rows, and contexts past several softmax chunks and
// weight blocks, with flat, peaked and moving softmaxes.
std::vector<Case> i8_cases() {
  std::vector<Case> out;
  const Case shapes[] = {
      {4, 8, 128, 0, 128, 0},  // Qwen3-30B-A3B
      {1, 5, 20, 0, 36, 0},    // tails, odd group
      {3, 3, 16, 0, 8, 0, 5},  // padded rows, dv below one register
      {2, 1, 96, 0, 72, 0, 3}, // group of 1, dims past one 64-byte register
  };
  for (const Case& s : shapes) {
    for (int64_t n : {1, 2, 3, 4, 5, 7, 16, 63, 64, 65, 130, 255, 256, 257, 300, 700}) {
      Case c = s;
      c.n_pos = n;
      out.push_back(c);
    }
  }
  out.push_back({4, 8, 128, 0, 128, 1100, 0, 3.0});      // peaked softmax over 5 chunks
  out.push_back({2, 4, 32, 0, 48, 777, 1, 1.0, true});  // the max moves in every chunk
  out.push_back({1, 2, 16, 0, 16, 600, 0, 12.0});       // nearly one-hot rows
  // Slices longer than the AVX2 kernel widens at a time (512 dims of K, 256 of V): pieces
  // with tails, partial scores added across them.
  for (int64_t n : {1, 5, 70, 300}) out.push_back({2, 3, 600, 0, 300, n, 3});
  return out;
}

// The reference reads I8 rows exactly: the same output as from F32 rows holding int8 * scale
// (to float rounding of those values).
TEST(AttentionI8Reference, ReadsRowsAsInt8TimesScale) {
  uint32_t seed = 3;
  for (const Case& c : i8_cases()) {
    Problem rows(c, seed), floats(c, seed);
    seed += 10;
    rows.to_i8();
    floats.to_i8();
    floats.k8.clear();  // args() now passes the dequantized float rows
    reference().attention(rows.args());
    reference().attention(floats.args());
    ASSERT_LE(max_abs_err_over(rows.o, floats.o) / floats.max_abs_v(), 1e-6) << describe(c);
  }
}

class AttentionI8VsRef : public ::testing::TestWithParam<Isa> {};

TEST_P(AttentionI8VsRef, MatchesTheReferenceToInt8Precision) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  double worst = 0.0;
  std::string worst_case;
  uint32_t seed = 1;
  for (const Case& c : i8_cases()) {
    Problem want(c, seed), got(c, seed);
    seed += 10;
    want.to_i8();
    got.to_i8();
    reference().attention(want.args());
    t.attention(got.args());
    const double err = max_abs_err_over(got.o, want.o) / want.max_abs_v();
    if (err > worst) {
      worst = err;
      worst_case = describe(c);
    }
    ASSERT_LE(err, kI8Tol) << describe(c);
    for (int64_t i = 0; i < c.n_kv * c.n_q; ++i) {
      for (int64_t d = c.dv; d < got.o_stride; ++d) ASSERT_EQ(got.o[size_t(i * got.o_stride + d)], 12345.0f);
    }
  }
  std::printf("  attention %-7s i8 max err / max|v| %.3g (tolerance %.3g) at %s\n", isa_name(GetParam()), worst,
              kI8Tol, worst_case.c_str());
}

// One cached position: the softmax weight is 1, so each head's output is its kv head's value
// row, int8 * scale, up to float rounding.
TEST_P(AttentionI8VsRef, OnePositionReturnsItsValueRow) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  Problem p({3, 4, 20, 0, 37, 1}, 5);
  p.to_i8();
  t.attention(p.args());
  for (int64_t i = 0; i < 12; ++i) {
    for (int64_t d = 0; d < 37; ++d) {
      const float want = p.v[size_t((i / 4) * 37 + d)];
      ASSERT_NEAR(p.o[size_t(i * p.o_stride + d)], want, 1e-6 * (1.0 + std::fabs(want))) << i << " " << d;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, AttentionI8VsRef, ::testing::ValuesIn(simd_isas()), isa_param_name);

}  // namespace
}  // namespace moxie::kernels::testing
