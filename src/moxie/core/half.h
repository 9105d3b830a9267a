#pragma once
// Scalar IEEE binary16 and bfloat16 conversions (round to nearest, ties to even).
// SIMD kernels use F16C / AVX-512 BF16 instead; these are the reference.
#include <bit>
#include <cstdint>

namespace moxie {

inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ff;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24
    const float v = float(mant) * 0x1p-24f;
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));  // inf / NaN
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

inline uint16_t fp32_to_fp16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000);
  const uint32_t mag = x & 0x7fffffffu;
  if (mag > 0x7f800000u) return sign | 0x7e00;   // NaN stays NaN (quiet)
  if (mag >= 0x47800000u) return sign | 0x7c00;  // >= 65536 or inf
  const int32_t exp = int32_t(mag >> 23) - 127;
  if (exp >= -14) {  // normal half: keep the top 10 mantissa bits, round on the other 13
    uint32_t h = (uint32_t(exp + 15) << 10) | ((mag >> 13) & 0x3ff);
    const uint32_t rest = mag & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;  // a carry correctly bumps the exponent
    return uint16_t(sign | h);
  }
  if (exp < -25) return sign;  // below half of the smallest subnormal (2^-24)
  // Subnormal half: count units of 2^-24. mant carries the implicit bit, value = mant * 2^(exp-23).
  const uint32_t mant = (mag & 0x7fffff) | 0x800000;
  const uint32_t shift = uint32_t(-(exp + 1));  // 14..24
  uint32_t q = mant >> shift;
  const uint32_t rest = mant & ((1u << shift) - 1);
  const uint32_t halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (q & 1))) q++;
  return uint16_t(sign | q);
}

inline float bf16_to_fp32(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

inline uint16_t fp32_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40);  // keep NaN a NaN
  return uint16_t((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

}  // namespace moxie
