// The element-wise kernels on extreme inputs (huge and tiny logits, infinities, NaN, ties),
// the accuracy of the SIMD exp against double-precision exp, and the scalar reference itself
// against hand-worked values.
#include <cstdio>

#include "unit/kernels/elementwise_test_util.h"

namespace moxie::kernels::testing {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// ---- The reference against closed forms -------------------------------------------------

TEST(ElementwiseReference, RmsnormOfThreeFour) {
  const float x[2] = {3.0f, 4.0f}, w[2] = {1.0f, 2.0f};
  float y[2];
  reference().rmsnorm(x, w, y, 2, 0.0f);  // rms = sqrt(12.5)
  EXPECT_FLOAT_EQ(y[0], float(3.0 / std::sqrt(12.5)));
  EXPECT_FLOAT_EQ(y[1], float(8.0 / std::sqrt(12.5)));
}

TEST(ElementwiseReference, SoftmaxOfLogs) {
  float x[4] = {0.0f, float(std::log(2.0)), float(std::log(3.0)), -kInf};
  reference().softmax(x, 4);
  EXPECT_FLOAT_EQ(x[0], 1.0f / 6.0f);
  EXPECT_FLOAT_EQ(x[1], 2.0f / 6.0f);
  EXPECT_FLOAT_EQ(x[2], 3.0f / 6.0f);
  EXPECT_EQ(x[3], 0.0f);
}

TEST(ElementwiseReference, SiluValues) {
  const float x[3] = {0.0f, 1.0f, -2.0f};
  float y[3];
  reference().silu(x, y, 3);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_FLOAT_EQ(y[1], float(1.0 / (1.0 + std::exp(-1.0))));
  EXPECT_FLOAT_EQ(y[2], float(-2.0 / (1.0 + std::exp(2.0))));
}

TEST(ElementwiseReference, ArgmaxAndTopkTies) {
  const float x[6] = {1.0f, 3.0f, kNaN, 3.0f, 2.0f, 3.0f};
  EXPECT_EQ(reference().argmax(x, 6), 1);
  int32_t idx[6];
  reference().topk(x, 6, 6, idx);
  const int32_t want[6] = {1, 3, 5, 4, 0, 2};  // ties by index, NaN last
  for (int i = 0; i < 6; ++i) EXPECT_EQ(idx[i], want[i]) << i;
  const float all_nan[2] = {kNaN, kNaN};
  EXPECT_EQ(reference().argmax(all_nan, 2), 0);
}

// ---- SIMD exp accuracy --------------------------------------------------------------------

class SimdExtreme : public ::testing::TestWithParam<Isa> {};

// softmax([0, t]) = [1, e^t] / (1 + e^t): for t <= -16, its second entry is e^t to within
// 1e-7, and the test measures the relative error of the SIMD exp at e^t directly against
// std::exp in double, for t from -87 (near the smallest normal result) to 0.
TEST_P(SimdExtreme, ExpAccuracy) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  double worst = 0.0;
  for (double v = -87.0; v <= 0.0; v += 0.0001) {
    float pair[2] = {0.0f, float(v)};
    t.softmax(pair, 2);
    const double e = std::exp(double(float(v)));
    const double want = e / (1.0 + e);
    worst = std::max(worst, std::fabs(pair[1] - want) / want);
  }
  // silu(x) = x / (1 + e^-x) exercises e^y for y in [0, 88].
  for (double v = -88.0; v <= 0.0; v += 0.0001) {
    const float x = float(v);
    float y;
    t.silu(&x, &y, 1);
    const double want = double(x) / (1.0 + std::exp(-double(x)));
    if (x != 0.0f) worst = std::max(worst, std::fabs(y - want) / std::fabs(want));
  }
  std::printf("  exp      %-7s max rel err %.3g (tolerance %.3g)\n", isa_name(GetParam()), worst,
              kTol.exp_rel);
  EXPECT_LE(worst, kTol.exp_rel);
}

// ---- Extreme inputs, SIMD vs reference -----------------------------------------------------

std::vector<float> extreme_values() {
  return {-kInf, -1e30f, -1000.0f, -104.0f, -89.0f, -88.7f, -87.5f, -87.0f, -20.0f, -1e-30f, -0.0f,
          0.0f, 1e-30f, 1e-45f, 20.0f, 87.0f, 88.0f, 88.7f, 89.0f, 1000.0f, 1e30f, kInf, kNaN};
}

TEST_P(SimdExtreme, SiluAndSwiglu) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  const std::vector<float> x = extreme_values();
  const int64_t n = int64_t(x.size());
  const std::vector<float> up(x.size(), 0.5f);
  std::vector<float> want(x.size()), got(x.size());
  reference().silu(x.data(), want.data(), n);
  t.silu(x.data(), got.data(), n);
  // Floor 1e-30: below e^-88.7 the SIMD exp overflows and silu flushes to -0, while the true
  // value is under 4e-37.
  const double silu_err = max_rel_err(got.data(), want.data(), n, 1e-30);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_TRUE(got[i] == want[i] || std::fabs(got[i] - want[i]) <= 1e-6 * std::fabs(want[i]) + 1e-36 ||
                (std::isnan(got[i]) && std::isnan(want[i])))
        << "silu(" << x[i] << "): got " << got[i] << ", want " << want[i];
  }
  reference().swiglu(x.data(), up.data(), want.data(), n);
  t.swiglu(x.data(), up.data(), got.data(), n);
  const double swiglu_err = max_rel_err(got.data(), want.data(), n, 1e-30);
  std::printf("  extreme silu %.3g swiglu %.3g (%s)\n", silu_err, swiglu_err, isa_name(GetParam()));
  EXPECT_LE(silu_err, kTol.silu_rel);
  EXPECT_LE(swiglu_err, kTol.swiglu_rel);
}

void expect_softmax_matches(const KernelTable& t, const std::vector<float>& logits, const char* what) {
  std::vector<float> want = logits, got = logits;
  const int64_t n = int64_t(logits.size());
  reference().softmax(want.data(), n);
  t.softmax(got.data(), n);
  EXPECT_LE(softmax_err_ratio(got.data(), want.data(), logits.data(), n), 1.0) << what;
  for (float p : got) EXPECT_FALSE(std::isnan(p)) << what;
}

TEST_P(SimdExtreme, Softmax) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  for (int64_t n : {int64_t(3), int64_t(17), int64_t(129)}) {
    std::vector<float> v = random_uniform(n, -1e4f, 1e4f, uint32_t(n));
    expect_softmax_matches(t, v, "logits spread over +-1e4");
    for (float& x : v) x = x * 1e34f;
    expect_softmax_matches(t, v, "logits spread over +-1e38");
    v = random_normal(n, 1.0, uint32_t(n));
    for (int64_t i = 0; i < n; i += 2) v[size_t(i)] = -kInf;
    expect_softmax_matches(t, v, "every other logit -inf (masked)");
    expect_softmax_matches(t, std::vector<float>(size_t(n), 3e38f), "all equal, huge");
    expect_softmax_matches(t, std::vector<float>(size_t(n), -3e38f), "all equal, hugely negative");
    std::vector<float> masked(size_t(n), -kInf);
    t.softmax(masked.data(), n);
    for (float p : masked) EXPECT_EQ(p, 0.0f) << "all -inf gives zeros";
  }
}

TEST_P(SimdExtreme, RmsnormHugeAndTiny) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  for (double scale : {1e18, 1e-20}) {
    for (float eps : {0.0f, 1e-6f}) {
      std::vector<float> x = random_normal(1000, 1.0, 5);
      for (float& v : x) v = float(v * scale);
      std::vector<float> want(x.size()), got(x.size());
      reference().rmsnorm(x.data(), nullptr, want.data(), 1000, eps);
      t.rmsnorm(x.data(), nullptr, got.data(), 1000, eps);
      EXPECT_LE(max_rel_err(got.data(), want.data(), 1000, 1e-30), kTol.rmsnorm_rel)
          << "scale " << scale << " eps " << eps;
    }
  }
}

TEST_P(SimdExtreme, ArgmaxTopkTiesAndSpecials) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(16), int64_t(33), int64_t(256)}) {
    std::vector<std::vector<float>> cases = {
        std::vector<float>(size_t(n), 0.25f), std::vector<float>(size_t(n), -kInf),
        std::vector<float>(size_t(n), kNaN)};
    std::vector<float> mixed = random_normal(n, 1.0, uint32_t(n));
    for (int64_t i = 0; i < n; i += 3) mixed[size_t(i)] = kNaN;
    for (int64_t i = 1; i < n; i += 5) mixed[size_t(i)] = -kInf;
    cases.push_back(mixed);
    std::vector<float> late_max(size_t(n), -0.0f);
    late_max[size_t(n - 1)] = 0.0f;  // -0 == +0: the first index wins
    cases.push_back(late_max);
    for (const auto& x : cases) {
      ASSERT_EQ(t.argmax(x.data(), n), reference().argmax(x.data(), n)) << "n=" << n;
      const int64_t k = std::min<int64_t>(n, 8);
      std::vector<int32_t> want(static_cast<size_t>(k)), got(static_cast<size_t>(k));
      reference().topk(x.data(), n, k, want.data());
      t.topk(x.data(), n, k, got.data());
      ASSERT_EQ(got, want) << "n=" << n;
    }
    EXPECT_EQ(t.argmax(cases[0].data(), n), 0) << "all equal: first index";
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, SimdExtreme, ::testing::ValuesIn(simd_isas()), isa_param_name);

}  // namespace
}  // namespace moxie::kernels::testing
