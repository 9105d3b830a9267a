#pragma once
// FP8 E4M3FN (the "fn" variant HF checkpoints use): 1 sign bit, 4 exponent bits with bias
// 7, 3 mantissa bits. No infinities; only S.1111.111 (0x7f, 0xff) is NaN, so the largest
// finite value is 1.75 * 2^8 = 448. Exponent 0 is subnormal: mantissa/8 * 2^-6.
#include <cmath>
#include <cstdint>

namespace moxie::convert {

inline float fp8_e4m3fn_to_fp32(uint8_t b) {
  const int exponent = (b >> 3) & 0xf, mantissa = b & 0x7;
  const float sign = (b & 0x80) ? -1.0f : 1.0f;
  if (exponent == 0xf && mantissa == 0x7) return std::nanf("");
  if (exponent == 0) return sign * std::ldexp(float(mantissa), -9);        // mantissa/8 * 2^(1-7)
  return sign * std::ldexp(float(8 + mantissa), exponent - 7 - 3);        // (1 + m/8) * 2^(e-7)
}

}  // namespace moxie::convert
