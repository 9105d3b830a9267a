// Every SIMD element-wise kernel of every instruction set this CPU runs, against the scalar
// reference on random data of every tail size; then in-place (aliased) calls of every table.
#include <cstdio>

#include "unit/kernels/elementwise_test_util.h"

namespace moxie::kernels::testing {
namespace {

class SimdVsRef : public ::testing::TestWithParam<Isa> {};

void report(const char* kernel, Isa isa, double err, double tol) {
  std::printf("  %-8s %-7s max err %.3g (tolerance %.3g)\n", kernel, isa_name(isa), err, tol);
}

TEST_P(SimdVsRef, Rmsnorm) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  double worst = 0.0;
  for (int64_t n : test_sizes()) {
    const auto x = random_normal(n, 2.0, uint32_t(n));
    const auto w = random_normal(n, 1.0, uint32_t(n + 7));
    for (const float* weight : {w.data(), static_cast<const float*>(nullptr)}) {
      std::vector<float> want(x.size()), got(x.size());
      reference().rmsnorm(x.data(), weight, want.data(), n, 1e-6f);
      t.rmsnorm(x.data(), weight, got.data(), n, 1e-6f);
      worst = std::max(worst, max_rel_err(got.data(), want.data(), n, 1e-30));
    }
  }
  report("rmsnorm", GetParam(), worst, kTol.rmsnorm_rel);
  EXPECT_LE(worst, kTol.rmsnorm_rel);
}

TEST_P(SimdVsRef, Softmax) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  double worst = 0.0, worst_ratio = 0.0;
  for (int64_t n : test_sizes()) {
    for (double sigma : {1.0, 10.0}) {
      const auto logits = random_normal(n, sigma, uint32_t(n * 3));
      auto want = logits, got = logits;
      reference().softmax(want.data(), n);
      t.softmax(got.data(), n);
      worst = std::max(worst, max_rel_err(got.data(), want.data(), n, 1e-30));
      worst_ratio = std::max(worst_ratio, softmax_err_ratio(got.data(), want.data(), logits.data(), n));
    }
  }
  std::printf("  softmax  %-7s max err %.3g; max err / allowance %.3g (must be <= 1)\n",
              isa_name(GetParam()), worst, worst_ratio);
  EXPECT_LE(worst_ratio, 1.0);
}

TEST_P(SimdVsRef, SiluAndSwiglu) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  double worst_silu = 0.0, worst_swiglu = 0.0;
  for (int64_t n : test_sizes()) {
    const auto gate = random_uniform(n, -30.0f, 30.0f, uint32_t(n));
    const auto up = random_normal(n, 1.0, uint32_t(n + 1));
    std::vector<float> want(gate.size()), got(gate.size());
    reference().silu(gate.data(), want.data(), n);
    t.silu(gate.data(), got.data(), n);
    worst_silu = std::max(worst_silu, max_rel_err(got.data(), want.data(), n, 1e-30));
    reference().swiglu(gate.data(), up.data(), want.data(), n);
    t.swiglu(gate.data(), up.data(), got.data(), n);
    worst_swiglu = std::max(worst_swiglu, max_rel_err(got.data(), want.data(), n, 1e-30));
  }
  report("silu", GetParam(), worst_silu, kTol.silu_rel);
  report("swiglu", GetParam(), worst_swiglu, kTol.swiglu_rel);
  EXPECT_LE(worst_silu, kTol.silu_rel);
  EXPECT_LE(worst_swiglu, kTol.swiglu_rel);
}

// add and mul are single IEEE operations: every ISA must agree bit for bit.
TEST_P(SimdVsRef, AddAndMulExact) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  for (int64_t n : test_sizes()) {
    const auto a = random_normal(n, 3.0, uint32_t(n)), b = random_normal(n, 3.0, uint32_t(n + 2));
    std::vector<float> want(a.size()), got(a.size());
    reference().add(a.data(), b.data(), want.data(), n);
    t.add(a.data(), b.data(), got.data(), n);
    ASSERT_EQ(got, want) << "add, n=" << n;
    reference().mul(a.data(), b.data(), want.data(), n);
    t.mul(a.data(), b.data(), got.data(), n);
    ASSERT_EQ(got, want) << "mul, n=" << n;
  }
}

TEST_P(SimdVsRef, Axpy) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  double worst = 0.0;
  for (int64_t n : test_sizes()) {
    const auto x = random_normal(n, 1.0, uint32_t(n));
    auto want = random_normal(n, 1.0, uint32_t(n + 5));
    auto got = want;
    reference().axpy(0.37f, x.data(), want.data(), n);
    t.axpy(0.37f, x.data(), got.data(), n);
    worst = std::max(worst, max_rel_err(got.data(), want.data(), n, 1e-30));
  }
  report("axpy", GetParam(), worst, kTol.axpy_rel);
  EXPECT_LE(worst, kTol.axpy_rel);
}

TEST_P(SimdVsRef, Dot) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  double worst = 0.0;
  for (int64_t n : test_sizes()) {
    const auto a = random_normal(n, 1.0, uint32_t(n)), b = random_normal(n, 1.0, uint32_t(n + 9));
    double abs_sum = 0.0;
    for (int64_t i = 0; i < n; ++i) abs_sum += std::fabs(double(a[size_t(i)]) * b[size_t(i)]);
    const double err = std::fabs(double(t.dot_f32(a.data(), b.data(), n)) -
                                 double(reference().dot_f32(a.data(), b.data(), n)));
    worst = std::max(worst, err / abs_sum);
  }
  report("dot_f32", GetParam(), worst, kTol.dot_rel_to_abs);
  EXPECT_LE(worst, kTol.dot_rel_to_abs);
}

// Random floats rarely tie: values drawn from 4 levels make ties common.
TEST_P(SimdVsRef, ArgmaxAndTopkMatchExactly) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  for (int64_t n : test_sizes()) {
    for (bool few_levels : {false, true}) {
      auto x = random_normal(n, 1.0, uint32_t(n * 11 + few_levels));
      if (few_levels) {
        for (float& v : x) v = std::floor(v * 2.0f);
      }
      ASSERT_EQ(t.argmax(x.data(), n), reference().argmax(x.data(), n)) << "n=" << n;
      for (int64_t k : {int64_t(1), std::min<int64_t>(n, 8), n}) {
        std::vector<int32_t> want(static_cast<size_t>(k)), got(static_cast<size_t>(k));
        reference().topk(x.data(), n, k, want.data());
        t.topk(x.data(), n, k, got.data());
        ASSERT_EQ(got, want) << "n=" << n << " k=" << k;
      }
    }
  }
}

// Masked tails must neither read nor write past n: run every kernel on the first n floats of
// buffers whose remaining 32 floats hold a guard value, and check the guards afterwards.
TEST_P(SimdVsRef, NothingWrittenPastTheEnd) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  constexpr float kGuard = 12345.0f;
  for (int64_t n = 1; n <= 40; ++n) {
    auto buffer = [n] {
      std::vector<float> v = random_normal(n + 32, 1.0, uint32_t(n));
      for (size_t i = size_t(n); i < v.size(); ++i) v[i] = kGuard;
      return v;
    };
    auto a = buffer(), b = buffer(), y = buffer();
    t.rmsnorm(a.data(), b.data(), y.data(), n, 1e-6f);
    t.softmax(y.data(), n);
    t.silu(a.data(), y.data(), n);
    t.swiglu(a.data(), b.data(), y.data(), n);
    t.add(a.data(), b.data(), y.data(), n);
    t.mul(a.data(), b.data(), y.data(), n);
    t.axpy(2.0f, a.data(), y.data(), n);
    if (n % 2 == 0) t.rope(y.data(), 1, n, n, b.data(), RopeMode::normal);
    if (n % 2 == 0) t.rope(y.data(), 1, n, n, b.data(), RopeMode::neox);
    for (size_t i = size_t(n); i < y.size(); ++i) ASSERT_EQ(y[i], kGuard) << "n=" << n << " i=" << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, SimdVsRef, ::testing::ValuesIn(simd_isas()), isa_param_name);

// In-place calls where the contract allows aliasing must equal the out-of-place reference
// exactly (the same table's out-of-place call; that one is checked against the reference above).
class Aliasing : public ::testing::TestWithParam<Isa> {};

TEST_P(Aliasing, InPlaceEqualsOutOfPlace) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  for (int64_t n : {int64_t(1), int64_t(13), int64_t(33), int64_t(4099)}) {
    const auto a = random_normal(n, 2.0, uint32_t(n)), b = random_normal(n, 2.0, uint32_t(n + 1));
    std::vector<float> want(a.size()), inout;
    t.rmsnorm(a.data(), b.data(), want.data(), n, 1e-5f);
    inout = a;
    t.rmsnorm(inout.data(), b.data(), inout.data(), n, 1e-5f);
    EXPECT_EQ(inout, want) << "rmsnorm n=" << n;
    t.silu(a.data(), want.data(), n);
    inout = a;
    t.silu(inout.data(), inout.data(), n);
    EXPECT_EQ(inout, want) << "silu n=" << n;
    t.swiglu(a.data(), b.data(), want.data(), n);
    inout = a;
    t.swiglu(inout.data(), b.data(), inout.data(), n);
    EXPECT_EQ(inout, want) << "swiglu y=gate n=" << n;
    inout = b;
    t.swiglu(a.data(), inout.data(), inout.data(), n);
    EXPECT_EQ(inout, want) << "swiglu y=up n=" << n;
    t.add(a.data(), b.data(), want.data(), n);
    inout = a;
    t.add(inout.data(), b.data(), inout.data(), n);
    EXPECT_EQ(inout, want) << "add y=a n=" << n;
    t.mul(a.data(), b.data(), want.data(), n);
    inout = b;
    t.mul(a.data(), inout.data(), inout.data(), n);
    EXPECT_EQ(inout, want) << "mul y=b n=" << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, Aliasing, ::testing::ValuesIn(all_isas()), isa_param_name);

}  // namespace
}  // namespace moxie::kernels::testing
