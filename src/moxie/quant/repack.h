#pragma once
// Re-laying out weight rows for the AVX-512 kernels (the _R16 types of core/dtype.h).
//
// A GGUF file stores each weight row's blocks one after another, so a kernel that works on
// 16 rows at once has to gather 16 scattered blocks and unpack each one's scales alone.
// The _R16 layouts interleave 16 rows block by block: one 64-byte load then holds the same
// 4 elements of all 16 rows (one per 32-bit lane), so VPDPBUSD multiplies 16 rows by 4
// activations broadcast to every lane, and the scales of 16 rows arrive as one vector.
//
// Q4_K -> Q4_K_R16, per group of 16 rows and super-block of 256 elements (2368 bytes):
//   d[16], dmin[16]       fp16, row l's super-block scales
//   scales[8][16]         uint8, scales[j][l] = row l's 6-bit scale of sub-block j (32 elements)
//   mins[8][16]           uint8, the same for the 6-bit mins
//   qs[8][4][16][4]       qs[j][p][l][i]: low nibble = row l's element 32j + 8p + i,
//                         high nibble = element 32j + 8p + 4 + i
// Q8_0 -> Q8_0_R16, per group of 16 rows and block of 32 elements (544 bytes):
//   d[16]                 fp16
//   qs[8][16][4]          qs[p][l][i] = row l's element 4p + i plus 128, as an unsigned byte
//                         (VPDPBUSD wants one unsigned operand; the kernel subtracts
//                         128 * sum(x) per block)
// Group g's data starts at 16 * g * row_bytes(type, k): the per-row stride callers pass stays
// row_bytes, so a 16-aligned row index still finds its group.
#include <cstdint>

#include "moxie/core/dtype.h"

namespace moxie::quant {

inline constexpr int64_t kRepackRows = 16;

// The _R16 type rows of t repack into, or t itself when it has none.
DType repacked_type(DType t);

// Repacks n_rows rows (a multiple of kRepackRows) of k elements of type `from` (row r at
// (char*)src + r * src_stride) into dst, which holds n_rows * row_bytes(repacked_type(from), k)
// bytes. Throws moxie::Error for a type without a repacked form or a bad row count.
void repack_rows(DType from, const void* src, int64_t src_stride, int64_t n_rows, int64_t k, void* dst);

}  // namespace moxie::quant
