// The decode attention kernel (KernelTable::attention) of every instruction set this CPU runs
// against the scalar reference (double precision, straight from the definition), on random
// shapes with tails of both vector widths: n_pos 1..300 and past several 256-position
// softmax chunks, group sizes 1..8, 1..4 kv heads, GQA and MLA (second key part) forms,
// padded strides, with F32 and F16 cached rows. Then closed forms every table (the reference
// included) must meet, and in-place (o aliasing q) calls. Nothing is written past the scratch
// size api.h promises or into the padding of o's rows.
#include <cstdio>
#include <cstring>
#include <vector>

#include "unit/kernels/attention_problem.h"

namespace moxie::kernels::testing {
namespace {

// Output error / max |v|: float dots and sums against the double reference. Measured worst
// 6e-7 over these cases (AVX2 and AVX-512); the bound leaves room for other compilers' contractions.
constexpr double kAttentionTol = 5e-6;

// The shapes: model-like heads, vector-width tails of every dimension, padded strides, and
// contexts from 1 to past several softmax chunks.
std::vector<Case> cases() {
  std::vector<Case> out;
  std::vector<int64_t> positions;
  for (int64_t n = 1; n <= 40; ++n) positions.push_back(n);
  for (int64_t n : {63, 64, 65, 127, 128, 129, 255, 256, 257, 300}) positions.push_back(n);
  const Case shapes[] = {
      {4, 8, 128, 0, 128, 0},  // Qwen3-30B-A3B
      {1, 5, 20, 0, 36, 0},    // tails of 8 and 16 lanes, odd group
      {3, 3, 16, 0, 7, 0, 5},  // padded rows, dv below one register
      {2, 1, 9, 0, 70, 0, 3},  // group of 1
      {1, 6, 24, 8, 24, 0},    // MLA form: latent as key and value plus a rope key
  };
  for (const Case& s : shapes) {
    for (int64_t n : positions) {
      Case c = s;
      c.n_pos = n;
      out.push_back(c);
    }
  }
  out.push_back({1, 8, 64, 16, 64, 1000, 0, 3.0});    // MLA-like, 4 chunks, peaked softmax
  out.push_back({2, 4, 32, 0, 48, 777, 1, 1.0, true}); // the max moves in every chunk
  out.push_back({1, 2, 16, 0, 16, 600, 0, 12.0});     // nearly one-hot rows
  return out;
}

class AttentionVsRef : public ::testing::TestWithParam<Isa> {};

// Every case against the reference, with F32 or F16 cached rows (both sides read the same
// F16 values, so the tolerance does not change).
void expect_matches_reference(const KernelTable& t, Isa isa, bool f16) {
  double worst = 0.0;
  uint32_t seed = 1;
  for (const Case& c : cases()) {
    Problem want(c, seed), got(c, seed);
    seed += 10;
    if (f16) {
      want.to_f16();
      got.to_f16();
    }
    reference().attention(want.args());
    t.attention(got.args());
    const double err = max_abs_err_over(got.o, want.o) / want.max_abs_v();
    worst = std::max(worst, err);
    ASSERT_LE(err, kAttentionTol) << describe(c) << (f16 ? " f16" : " f32");
    ASSERT_TRUE(got.scratch_guard_intact()) << "wrote past its scratch: " << describe(c);
    // Row padding of o is never written.
    for (int64_t i = 0; i < c.n_kv * c.n_q; ++i) {
      for (int64_t d = c.dv; d < got.o_stride; ++d) ASSERT_EQ(got.o[size_t(i * got.o_stride + d)], 12345.0f);
    }
  }
  std::printf("  attention %-7s %s max err / max|v| %.3g (tolerance %.3g)\n", isa_name(isa), f16 ? "f16" : "f32",
              worst, kAttentionTol);
}

TEST_P(AttentionVsRef, MatchesTheReferenceOnEveryShape) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  expect_matches_reference(t, GetParam(), false);
}

TEST_P(AttentionVsRef, MatchesTheReferenceWithF16Rows) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  expect_matches_reference(t, GetParam(), true);
}

INSTANTIATE_TEST_SUITE_P(Isas, AttentionVsRef, ::testing::ValuesIn(simd_isas()), isa_param_name);

class AttentionClosedForms : public ::testing::TestWithParam<Isa> {};

// One cached position: softmax is exactly 1, so every head's output is v[0] of its kv head.
TEST_P(AttentionClosedForms, OnePositionReturnsItsValueRow) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  Problem p({3, 4, 20, 0, 37, 1}, 5);
  t.attention(p.args());
  for (int64_t i = 0; i < 12; ++i) {
    for (int64_t d = 0; d < 37; ++d) ASSERT_EQ(p.o[size_t(i * p.o_stride + d)], p.v[size_t((i / 4) * 37 + d)]);
  }
}

// Equal keys give equal scores: the output is the mean of the value rows (double sum here).
TEST_P(AttentionClosedForms, EqualKeysAverageTheValues) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  for (int64_t n_pos : {2, 17, 300, 700}) {
    Problem p({1, 3, 32, 0, 40, n_pos}, 9);
    for (int64_t s = 1; s < n_pos; ++s) std::memcpy(&p.k[size_t(s * 32)], &p.k[0], 32 * sizeof(float));
    t.attention(p.args());
    for (int64_t d = 0; d < 40; ++d) {
      double mean = 0.0;
      for (int64_t s = 0; s < n_pos; ++s) mean += p.v[size_t(s * 40 + d)];
      mean /= double(n_pos);
      for (int64_t h = 0; h < 3; ++h) ASSERT_NEAR(p.o[size_t(h * 40 + d)], mean, 2e-6) << n_pos;
    }
  }
}

// o aliasing q (MLA writes o_lat over q_abs): the same result as separate buffers.
TEST_P(AttentionClosedForms, OutputMayAliasTheQueries) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  for (int64_t n_pos : {1, 5, 256, 600}) {
    Problem separate({1, 8, 48, 8, 48, n_pos}, 21), aliased({1, 8, 48, 8, 48, n_pos}, 21);
    t.attention(separate.args());
    AttentionArgs a = aliased.args();
    a.o = aliased.q.data();
    a.o_stride = aliased.q_stride;
    t.attention(a);
    for (int64_t i = 0; i < 8; ++i) {
      for (int64_t d = 0; d < 48; ++d) {
        ASSERT_EQ(aliased.q[size_t(i * aliased.q_stride + d)], separate.o[size_t(i * separate.o_stride + d)]) << n_pos;
      }
    }
  }
}

// F16 rows are widened exactly: the same table gives bit-identical output from F16 rows and
// from F32 rows holding the same values (the reference's F16 path is checked this way too).
TEST_P(AttentionClosedForms, F16RowsEqualTheirWidenedF32Rows) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  for (const Case& c : {Case{4, 8, 128, 0, 128, 300}, Case{1, 6, 24, 8, 24, 37}, Case{3, 3, 16, 0, 7, 9, 5}}) {
    Problem half(c, 33), widened(c, 33);
    half.to_f16();
    widened.to_f16();
    widened.k16.clear();  // args() now passes the rounded float rows
    t.attention(half.args());
    t.attention(widened.args());
    ASSERT_EQ(half.o, widened.o) << describe(c);
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, AttentionClosedForms, ::testing::ValuesIn(all_isas()), isa_param_name);

}  // namespace
}  // namespace moxie::kernels::testing
