#include "moxie/quant/kquant_search.h"

#include <algorithm>
#include <bit>
#include <cmath>

// Floating-point expressions below keep ggml's evaluation order (and this file is built
// without FMA contraction), so for the same input the searches pick the same quants.

namespace moxie::quant::kq {
namespace {

// ggml's GROUP_MAX_EPS: a group whose largest magnitude is below this is treated as zero.
constexpr float kGroupMaxEps = 1e-15f;

}  // namespace

int nearest_int(float f) {
  if (!(std::fabs(f) <= 4194303.f)) f = std::isnan(f) ? 0.f : std::copysign(4194303.f, f);
  // Adding 1.5 * 2^23 leaves the rounded integer in the low mantissa bits (ties to even).
  const float shifted = f + 12582912.f;
  return int(std::bit_cast<uint32_t>(shifted) & 0x007fffff) - 0x00400000;
}

namespace {

// Weighted error of x ~= scale * L + min over n elements.
float fit_error(int n, const float* x, const float* weights, const uint8_t* L, float scale,
                float min, bool use_mad) {
  float error = 0;
  for (int i = 0; i < n; ++i) {
    float diff = scale * L[i] + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    error += weights[i] * diff;
  }
  return error;
}

void quantize_affine(int n, int nmax, const float* x, float iscale, float min, uint8_t* L) {
  for (int i = 0; i < n; ++i) L[i] = uint8_t(std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax));
}

}  // namespace

float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += weights[i];
    sum_x += weights[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, uint8_t(0));
    *the_min = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  quantize_affine(n, nmax, x, iscale, min, L);
  float best_error = fit_error(n, x, weights, L, scale, min, use_mad);
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    quantize_affine(n, nmax, x, iscale, min, Laux);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const float w = weights[i];
      const int l = Laux[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D <= 0) continue;
    // Least-squares scale and min for these quants; a positive min is clamped to 0.
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    if (this_min > 0) {
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    const float cur_error = fit_error(n, x, weights, Laux, this_scale, this_min, use_mad);
    if (cur_error < best_error) {
      std::copy(Laux, Laux + n, L);
      best_error = cur_error;
      scale = this_scale;
      min = this_min;
    }
  }
  *the_min = -min;
  return scale;
}

namespace {

// Quantizes x with inverse scale iscale into [-nmax, nmax) and returns the x^2-weighted
// sums sum(w * x * l) and sum(w * l * l); L gets l + nmax when L is not null.
void symmetric_sums(int n, int nmax, const float* x, float iscale, int8_t* L, float* sumlx,
                    float* suml2) {
  *sumlx = 0;
  *suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    if (L) L[i] = int8_t(l + nmax);
    const float w = x[i] * x[i];
    *sumlx += w * x[i] * l;
    *suml2 += w * l * l;
  }
}

}  // namespace

float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t(0));
    return 0.f;
  }
  float sumlx, suml2;
  symmetric_sums(n, nmax, x, -nmax / max, L, &sumlx, &suml2);
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  // Try inverse scales slightly around nmax / max; keep the one with the best fit.
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    const float iscale = -(nmax + 0.1f * is) / max;
    symmetric_sums(n, nmax, x, iscale, nullptr, &sumlx, &suml2);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      symmetric_sums(n, nmax, x, iscale, L, &sumlx, &suml2);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

void get_scale_min_k4(int j, const uint8_t* packed, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = packed[j] & 63;
    *min = packed[j + 4] & 63;
  } else {
    *scale = uint8_t((packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4));
    *min = uint8_t((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
  }
}

void put_scale_min_k4(int j, uint8_t scale, uint8_t min, uint8_t* packed) {
  if (j < 4) {
    packed[j] |= scale;
    packed[j + 4] |= min;
  } else {
    packed[j + 4] = uint8_t((scale & 0xF) | ((min & 0xF) << 4));
    packed[j - 4] |= uint8_t((scale >> 4) << 6);
    packed[j] |= uint8_t((min >> 4) << 6);
  }
}

}  // namespace moxie::quant::kq
