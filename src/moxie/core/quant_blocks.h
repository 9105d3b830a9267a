#pragma once
// Byte layouts of the quantized blocks moxie computes with. They match ggml-common.h
// field for field, so GGUF tensor data is used in place. `uint16_t d` fields hold
// IEEE binary16 bits (see half.h).
#include <cstdint>

namespace moxie {

inline constexpr int kQK32 = 32;   // elements in a 32-block (Q4_0 .. Q8_1, MXFP4)
inline constexpr int kQKK = 256;   // elements in a K-quant super-block
inline constexpr int kKScaleBytes = 12;  // packed 6-bit scales and mins of Q4_K / Q5_K

struct BlockQ4_0 { uint16_t d; uint8_t qs[kQK32 / 2]; };
struct BlockQ4_1 { uint16_t d; uint16_t m; uint8_t qs[kQK32 / 2]; };
struct BlockQ5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[kQK32 / 2]; };
struct BlockQ5_1 { uint16_t d; uint16_t m; uint8_t qh[4]; uint8_t qs[kQK32 / 2]; };
struct BlockQ8_0 { uint16_t d; int8_t qs[kQK32]; };
// Activation-side: s = d * sum(qs), lets Q4_1/Q5_1 fold their min into one multiply.
struct BlockQ8_1 { uint16_t d; uint16_t s; int8_t qs[kQK32]; };
struct BlockMXFP4 { uint8_t e; uint8_t qs[kQK32 / 2]; };  // e: E8M0 shared exponent

struct BlockQ4_K { uint16_t d; uint16_t dmin; uint8_t scales[kKScaleBytes]; uint8_t qs[kQKK / 2]; };
struct BlockQ5_K {
  uint16_t d; uint16_t dmin; uint8_t scales[kKScaleBytes]; uint8_t qh[kQKK / 8]; uint8_t qs[kQKK / 2];
};
struct BlockQ6_K { uint8_t ql[kQKK / 2]; uint8_t qh[kQKK / 4]; int8_t scales[kQKK / 16]; uint16_t d; };
// Activation-side super-block for the K-quants: fp32 scale, bsums = sums of each 16 qs.
struct BlockQ8_K { float d; int8_t qs[kQKK]; int16_t bsums[kQKK / 16]; };

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockMXFP4) == 17);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

// moxie's in-memory layouts (quant/repack.h): one block of 16 interleaved rows.
inline constexpr int kR16 = 16;
struct BlockQ4_K_R16 {
  uint16_t d[kR16], dmin[kR16];
  uint8_t scales[kQKK / 32][kR16];  // [sub-block j][row l], 6-bit values
  uint8_t mins[kQKK / 32][kR16];
  uint8_t qs[kQKK / 32][4][kR16][4];  // [j][p][l][i]: elements 32j+8p+i (low), +4 (high nibble)
};
struct BlockQ8_0_R16 {
  uint16_t d[kR16];
  uint8_t qs[kQK32 / 4][kR16][4];  // [p][l][i]: element 4p+i plus 128
};
static_assert(sizeof(BlockQ4_K_R16) == kR16 * 148);
static_assert(sizeof(BlockQ8_0_R16) == kR16 * 34);

}  // namespace moxie
