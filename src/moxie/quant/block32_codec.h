#pragma once
// Small pieces of the 32-block formats shared by the quantizers (quant/block32.cc) and the
// reference kernels (kernels/ref/). SIMD kernel files must not include this (see registry.h).
#include <bit>
#include <cstdint>

namespace moxie::quant {

// E2M1 values times two, indexed by the 4-bit MXFP4 code (bit 3 = sign): doubling makes them
// integers, and e8m0_to_fp32_half() halves the block scale to compensate.
inline constexpr int8_t kMxfp4Doubled[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// Half of the E8M0 scale 2^(e - 127), i.e. 2^(e - 128), built from its bits: e = 0 and 1 give
// the subnormals 2^-128 and 2^-127. e = 255 (NaN in the OCP spec) is treated as 2^127.
inline float e8m0_to_fp32_half(uint8_t e) {
  const uint32_t bits = e < 2 ? 0x00200000u << e : uint32_t(e - 1) << 23;
  return std::bit_cast<float>(bits);
}

}  // namespace moxie::quant
