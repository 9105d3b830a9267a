#pragma once
// Shared by the element-wise and RoPE kernel tests: the tolerance table, error measures and
// random data. The oracle is always the scalar reference table (or a closed form).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "moxie/kernels/api.h"

namespace moxie::kernels::testing {

// Every tolerance of these tests, in one place. "rel" errors are |got - want| / max(|want|,
// floor); see each kernel's comparison for its floor.
struct Tolerances {
  double rmsnorm_rel = 1e-6;   // 3 float roundings on a double-exact scale
  // exp (~2e-7), float sum of n terms, one reciprocal; plus softmax_rel_per_logit per unit of
  // |x - max|, the float rounding of x - max (which the double reference does not have).
  double softmax_rel = 1e-6;
  double softmax_rel_per_logit = 1.2e-7;
  double silu_rel = 1e-6;      // exp (~2e-7), one add, one divide
  double swiglu_rel = 1e-6;    // silu and one multiply
  double axpy_rel = 1.2e-7;    // FMA vs double rounding of the exact value: within 1 ulp
  double dot_rel_to_abs = 5e-6;  // |got - want| / sum |a_i b_i|: float accumulation
  double rope_rel_to_max = 1e-6; // |got - want| / max |x|: two float FMAs per output
  double exp_rel = 3e-7;  // SIMD exp incl. one division (measured 1.9e-7 over 1.7M points)
};
inline constexpr Tolerances kTol;

// The sizes every kernel runs on: all tails of both vector widths, and a few large ones.
inline std::vector<int64_t> test_sizes() {
  std::vector<int64_t> sizes;
  for (int64_t n = 1; n <= 70; ++n) sizes.push_back(n);
  for (int64_t n : {127, 128, 129, 1000, 4096 + 3}) sizes.push_back(n);
  return sizes;
}

inline const KernelTable& reference() { return *table_for(Isa::scalar); }

// |got - want| / max(|want|, floor), maximised over the elements. Equal values (including
// equal infinities) and NaN in both count as 0; NaN in only one counts as +inf.
inline double max_rel_err(const float* got, const float* want, int64_t n, double floor) {
  double worst = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const bool got_nan = std::isnan(got[i]), want_nan = std::isnan(want[i]);
    if (got_nan || want_nan) {
      if (got_nan != want_nan) return std::numeric_limits<double>::infinity();
      continue;
    }
    if (got[i] == want[i]) continue;
    const double err = std::fabs(double(got[i]) - double(want[i])) /
                       std::max(std::fabs(double(want[i])), floor);
    worst = std::max(worst, err);
  }
  return worst;
}

// Softmax error measured against its allowance: max over i of
// rel_err_i / (softmax_rel + softmax_rel_per_logit * |logit_i - max logit|); passes at <= 1.
inline double softmax_err_ratio(const float* got, const float* want, const float* logits, int64_t n) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) max = std::max(max, logits[i]);
  double worst = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double dist = std::isinf(logits[i]) ? 0.0 : std::fabs(double(logits[i]) - double(max));
    const double allowed = kTol.softmax_rel + kTol.softmax_rel_per_logit * dist;
    worst = std::max(worst, max_rel_err(got + i, want + i, 1, 1e-30) / allowed);
  }
  return worst;
}

inline std::vector<float> random_normal(int64_t n, double sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, float(sigma));
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

inline std::vector<float> random_uniform(int64_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

// The SIMD instruction sets, named for test output; each test skips those this CPU lacks.
inline std::vector<Isa> simd_isas() { return {Isa::avx2, Isa::avx512}; }
inline std::vector<Isa> all_isas() { return {Isa::scalar, Isa::avx2, Isa::avx512}; }
inline std::string isa_param_name(const ::testing::TestParamInfo<Isa>& info) {
  return isa_name(info.param);
}

// The table under test, or skips the test when this CPU cannot run it.
#define MOXIE_TABLE_OR_SKIP(var, isa)                                                   \
  const ::moxie::kernels::KernelTable* var##_ptr = ::moxie::kernels::table_for(isa);     \
  if (!var##_ptr) GTEST_SKIP() << "CPU lacks " << ::moxie::kernels::isa_name(isa);       \
  const ::moxie::kernels::KernelTable& var = *var##_ptr

}  // namespace moxie::kernels::testing
