#include "moxie/kernels/rope_cache.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "moxie/core/error.h"

namespace moxie::kernels {
namespace {

[[noreturn]] void fail(const std::string& field, const std::string& why, double value) {
  throw Error("rope: " + field + " " + why + ", got " + std::to_string(value));
}

void require_positive_finite(const std::string& field, double value) {
  if (!std::isfinite(value) || value <= 0.0) fail(field, "must be a positive finite number", value);
}

void validate(const RopeParams& p) {
  if (p.n_rot <= 0 || p.n_rot % 2 != 0) fail("n_rot", "must be a positive even number", double(p.n_rot));
  require_positive_finite("freq_base", p.freq_base);
  const RopeScaling& s = p.scaling;
  require_positive_finite("scaling.attn_factor", s.attn_factor);
  if (s.type == RopeScalingType::none) return;
  require_positive_finite("scaling.factor", s.factor);
  if (s.type != RopeScalingType::yarn) return;
  // factor < 1 (compression) has no agreed YaRN meaning: ggml would shrink cos/sin, HF not.
  if (s.factor < 1.0f) fail("scaling.factor", "must be >= 1 for YaRN", s.factor);
  if (s.n_ctx_orig <= 0) fail("scaling.n_ctx_orig", "must be positive for YaRN", double(s.n_ctx_orig));
  require_positive_finite("scaling.beta_fast", s.beta_fast);
  require_positive_finite("scaling.beta_slow", s.beta_slow);
  if (!std::isfinite(s.ext_factor) || s.ext_factor < 0.0f) {
    fail("scaling.ext_factor", "must be a finite number >= 0", s.ext_factor);
  }
}

// The pair index at which a frequency makes `rotations` turns over the original context.
double correction_dim(int64_t n_rot, int64_t n_ctx_orig, double freq_base, double rotations) {
  return double(n_rot) * std::log(double(n_ctx_orig) / (rotations * 2.0 * std::numbers::pi)) /
         (2.0 * std::log(freq_base));
}

}  // namespace

double yarn_mscale(double factor, double mscale) {
  return factor <= 1.0 ? 1.0 : 1.0 + 0.1 * mscale * std::log(factor);
}

double deepseek_yarn_attn_factor(double factor, double mscale, double mscale_all_dim) {
  return yarn_mscale(factor, mscale) / yarn_mscale(factor, mscale_all_dim) / yarn_mscale(factor);
}

YarnCorrectionDims yarn_correction_dims(int64_t n_rot, int64_t n_ctx_orig, double freq_base,
                                        double beta_fast, double beta_slow) {
  YarnCorrectionDims d;
  d.low = std::max(0.0, std::floor(correction_dim(n_rot, n_ctx_orig, freq_base, beta_fast)));
  d.high = std::min(double(n_rot - 1), std::ceil(correction_dim(n_rot, n_ctx_orig, freq_base, beta_slow)));
  return d;
}

RopeCache::RopeCache(const RopeParams& params) : n_rot_(params.n_rot) {
  validate(params);
  const RopeScaling& s = params.scaling;
  const int64_t n_pairs = n_rot_ / 2;
  inv_freq_.resize(size_t(n_pairs));
  magnitude_ = s.attn_factor;
  YarnCorrectionDims dims;
  if (s.type == RopeScalingType::yarn) {
    dims = yarn_correction_dims(n_rot_, s.n_ctx_orig, params.freq_base, s.beta_fast, s.beta_slow);
    if (s.ext_factor != 0.0f) magnitude_ *= 1.0 + 0.1 * std::log(double(s.factor));
  }
  for (int64_t i = 0; i < n_pairs; ++i) {
    const double extrapolated = std::pow(double(params.freq_base), -2.0 * double(i) / double(n_rot_));
    double f = extrapolated;
    if (s.type == RopeScalingType::linear) f = extrapolated / s.factor;
    if (s.type == RopeScalingType::yarn) {
      const double t = (double(i) - dims.low) / std::max(0.001, dims.high - dims.low);
      const double ramp = (1.0 - std::clamp(t, 0.0, 1.0)) * s.ext_factor;
      f = extrapolated / s.factor * (1.0 - ramp) + extrapolated * ramp;
    }
    inv_freq_[size_t(i)] = f;
  }
}

void RopeCache::fill(int64_t pos, float* cos_sin) const {
  for (size_t i = 0; i < inv_freq_.size(); ++i) {
    const double angle = double(pos) * inv_freq_[i];
    cos_sin[2 * i] = float(magnitude_ * std::cos(angle));
    cos_sin[2 * i + 1] = float(magnitude_ * std::sin(angle));
  }
}

}  // namespace moxie::kernels
