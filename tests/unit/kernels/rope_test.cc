// The rope kernel of every table (scalar included) against a closed-form double-precision
// rotation in both pair layouts, plus the properties RoPE exists for: rotating by pos then by
// -pos restores the input, and q.k depends only on the distance between positions.
#include <cstdio>

#include "moxie/kernels/rope_cache.h"
#include "unit/kernels/elementwise_test_util.h"

namespace moxie::kernels::testing {
namespace {

class Rope : public ::testing::TestWithParam<Isa> {};

// x rotated in double: pair i of head h is (2i, 2i+1) or (i, i + n_rot/2).
std::vector<double> rotate_closed_form(const std::vector<float>& x, int64_t n_heads, int64_t stride,
                                       int64_t n_rot, const std::vector<float>& cos_sin, RopeMode mode) {
  std::vector<double> out(x.begin(), x.end());
  const int64_t half = n_rot / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      const int64_t a = h * stride + (mode == RopeMode::normal ? 2 * i : i);
      const int64_t b = h * stride + (mode == RopeMode::normal ? 2 * i + 1 : i + half);
      const double c = cos_sin[size_t(2 * i)], s = cos_sin[size_t(2 * i + 1)];
      out[size_t(a)] = double(x[size_t(a)]) * c - double(x[size_t(b)]) * s;
      out[size_t(b)] = double(x[size_t(a)]) * s + double(x[size_t(b)]) * c;
    }
  }
  return out;
}

TEST_P(Rope, MatchesClosedFormInBothLayouts) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  const int64_t n_heads = 3;
  double worst = 0.0;
  for (int64_t n_rot = 2; n_rot <= 130; n_rot += 2) {
    // Heads hold 5 dims past n_rot (left alone) and 3 more floats of stride gap.
    const int64_t stride = n_rot + 8;
    const auto x = random_normal(n_heads * stride, 1.0, uint32_t(n_rot));
    const auto angles = random_uniform(n_rot / 2, -100.0f, 100.0f, uint32_t(n_rot + 1));
    std::vector<float> cos_sin(static_cast<size_t>(n_rot));
    for (int64_t i = 0; i < n_rot / 2; ++i) {
      cos_sin[size_t(2 * i)] = float(1.1 * std::cos(double(angles[size_t(i)])));  // magnitude 1.1
      cos_sin[size_t(2 * i + 1)] = float(1.1 * std::sin(double(angles[size_t(i)])));
    }
    double max_abs = 0.0;
    for (float v : x) max_abs = std::max(max_abs, double(std::fabs(v)));
    for (RopeMode mode : {RopeMode::normal, RopeMode::neox}) {
      const auto want = rotate_closed_form(x, n_heads, stride, n_rot, cos_sin, mode);
      std::vector<float> got = x;
      t.rope(got.data(), n_heads, stride, n_rot, cos_sin.data(), mode);
      for (size_t i = 0; i < got.size(); ++i) {
        if (int64_t(i) % stride >= n_rot) {
          ASSERT_EQ(got[i], x[i]) << "dim past n_rot changed, n_rot=" << n_rot << " i=" << i;
        }
        worst = std::max(worst, std::fabs(double(got[i]) - want[i]) / max_abs);
      }
    }
  }
  std::printf("  rope     %-7s max err / max|x| %.3g (tolerance %.3g)\n", isa_name(GetParam()),
              worst, kTol.rope_rel_to_max);
  EXPECT_LE(worst, kTol.rope_rel_to_max);
}

// A hand-worked case that tells the two layouts apart: n_rot = 4, pair 0 turned by 90
// degrees, pair 1 not turned. normal rotates (x0, x1); neox rotates (x0, x2).
TEST_P(Rope, LayoutsPairDifferentDims) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  const float cos_sin[4] = {0.0f, 1.0f, 1.0f, 0.0f};
  float normal[4] = {1.0f, 2.0f, 3.0f, 4.0f}, neox[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  t.rope(normal, 1, 4, 4, cos_sin, RopeMode::normal);
  t.rope(neox, 1, 4, 4, cos_sin, RopeMode::neox);
  const float want_normal[4] = {-2.0f, 1.0f, 3.0f, 4.0f};  // (x0, x1) -> (-x1, x0)
  const float want_neox[4] = {-3.0f, 2.0f, 1.0f, 4.0f};    // (x0, x2) -> (-x2, x0)
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(normal[i], want_normal[i]) << i;
    EXPECT_EQ(neox[i], want_neox[i]) << i;
  }
}

TEST_P(Rope, RotatingBackRestoresInput) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  for (int64_t n_rot : {int64_t(64), int64_t(128)}) {
    RopeParams p;
    p.n_rot = n_rot;
    p.freq_base = 1e6f;
    const RopeCache cache(p);
    std::vector<float> fwd(static_cast<size_t>(n_rot)), back(static_cast<size_t>(n_rot));
    for (int64_t pos : {int64_t(1), int64_t(37), int64_t(4095), int64_t(100000)}) {
      cache.fill(pos, fwd.data());
      cache.fill(-pos, back.data());
      for (RopeMode mode : {RopeMode::normal, RopeMode::neox}) {
        const auto x = random_normal(4 * n_rot, 1.0, uint32_t(pos));
        std::vector<float> y = x;
        t.rope(y.data(), 4, n_rot, n_rot, fwd.data(), mode);
        t.rope(y.data(), 4, n_rot, n_rot, back.data(), mode);
        for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(y[i], x[i], 4e-6) << "pos " << pos << " i " << i;
      }
    }
  }
}

// The point of RoPE: rope(q, m) . rope(k, n) depends only on m - n.
TEST_P(Rope, DotProductDependsOnlyOnDistance) {
  MOXIE_TABLE_OR_SKIP(t, GetParam());
  RopeParams p;
  p.n_rot = 128;
  p.freq_base = 10000.0f;
  const RopeCache cache(p);
  const auto q = random_normal(128, 1.0, 1), k = random_normal(128, 1.0, 2);
  auto score = [&](int64_t m, int64_t n, RopeMode mode) {
    std::vector<float> cs(128), qr = q, kr = k;
    cache.fill(m, cs.data());
    t.rope(qr.data(), 1, 128, 128, cs.data(), mode);
    cache.fill(n, cs.data());
    t.rope(kr.data(), 1, 128, 128, cs.data(), mode);
    double s = 0.0;
    for (int i = 0; i < 128; ++i) s += double(qr[size_t(i)]) * kr[size_t(i)];
    return s;
  };
  for (RopeMode mode : {RopeMode::normal, RopeMode::neox}) {
    const double base = score(10, 3, mode);
    EXPECT_NEAR(score(1010, 1003, mode), base, 1e-4);
    EXPECT_NEAR(score(7, 0, mode), base, 1e-4);
    EXPECT_GT(std::fabs(score(10, 4, mode) - base), 1e-3) << "a different distance must differ";
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, Rope, ::testing::ValuesIn(all_isas()), isa_param_name);

}  // namespace
}  // namespace moxie::kernels::testing
