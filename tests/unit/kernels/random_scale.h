#pragma once
// Random fp16 block scales for the quantized-gemm tests: finite, of magnitude in
// [2^-12, 2^-4] (so products of random quants stay well inside fp32), random sign on request.
#include <cmath>
#include <cstdint>
#include <random>

#include "moxie/core/half.h"

namespace moxie::kernels::testing {

inline uint16_t random_half(std::mt19937& rng, bool allow_negative) {
  std::uniform_real_distribution<float> e(-12.f, -4.f);
  const float v = std::exp2(e(rng));
  return fp32_to_fp16(allow_negative && (rng() & 1) ? -v : v);
}

}  // namespace moxie::kernels::testing
