#pragma once
// The int8 KV cache ("--cache-type q8", DType::I8 in a KvShape).
//
// A cached row of n_groups head slices of `width` elements is rounded to int8 with one scale
// per slice, scale[g] = max |x| / 127 over the slice (0 for an all-zero slice). In its plain
// form (what quantize_kv_int8_row writes, and what the prefix cache saves) the row is
//   [n_groups * width int8][n_groups float scales]          (kv_int8_row_bytes)
// One scale per head slice, not per 32-element block as in GGUF's Q8_0: the attention kernels
// dot whole int8 slices with VPDPBUSD and apply one scale per (position, head).
//
// In the cache, each kv head's slices are stored in tiles of kKvInt8Tile positions, laid
// out for VPDPBUSD (kernels/avx512/attention_i8.cc), so the kernel loads registers straight
// from the cache instead of transposing rows. One kv head's piece of a tile is
//   [16 * width int8 in the role's order][16 float scales]  (kv_int8_piece_bytes)
//   keys:   element d of position p at byte (d / 4 * 16 + p) * 4 + d % 4: one 64-byte
//           register holds 4 dims of all 16 positions, the 4-byte dot a broadcast query
//           quad makes with 16 positions at once;
//   values: element d of position p at byte (p / 4 * width + d) * 4 + p % 4: one register
//           holds 4 positions of 16 dims, the 4-byte dot a broadcast quad of 4 positions'
//           weights makes into 16 output dims at once.
// A sequence's region of one layer is head-major: kv head g's pieces of consecutive tiles
// follow each other, piece (g, t) at g * head_stride + t * kv_int8_piece_bytes(width), where
// head_stride covers the region's capacity of tiles. A decode thread, which takes some kv
// heads, then streams each of them front to back: measured 25-30% faster at 4096 positions
// with two threads than tiles holding all heads side by side, where each thread read every
// other 4 KiB. A quarter of an F32 row's bytes (plus 4 per head) and half of an F16 row's.
#include <cstdint>

namespace moxie {

inline constexpr int64_t kKvInt8Tile = 16;  // positions per tile

// Which of a layer's two cached rows: their tiles order elements differently.
enum class KvRole { key, value };

// Bytes of one plain row; a multiple of 4 when width is (KvCache requires it, so the scales
// are aligned floats and pieces stay 64-byte aligned).
constexpr int64_t kv_int8_row_bytes(int64_t n_groups, int64_t width) { return n_groups * (width + 4); }
// Bytes of one kv head's piece of a tile (16 positions' slices and scales).
constexpr int64_t kv_int8_piece_bytes(int64_t width) { return kKvInt8Tile * (width + 4); }

// Byte of element d of tile position p (0 <= p < 16) within a piece.
constexpr int64_t kv_int8_offset(KvRole role, int64_t width, int64_t p, int64_t d) {
  return role == KvRole::key ? (d / 4 * kKvInt8Tile + p) * 4 + d % 4 : (p / 4 * width + d) * 4 + p % 4;
}

// The 16 scales of a piece, after its int8 elements.
inline const float* kv_int8_piece_scales(const void* piece, int64_t width) {
  return reinterpret_cast<const float*>(static_cast<const char*>(piece) + kKvInt8Tile * width);
}

// Rounds x (n_groups slices of width floats) into the plain row at dst (kv_int8_row_bytes
// bytes): each element to the nearest multiple of its slice's scale.
void quantize_kv_int8_row(const float* x, int64_t n_groups, int64_t width, void* dst);

// The scales of a plain row: n_groups floats after the int8 elements.
inline const float* kv_int8_scales(const void* row, int64_t n_groups, int64_t width) {
  return reinterpret_cast<const float*>(static_cast<const char*>(row) + n_groups * width);
}

// Puts a plain row into position p (0 <= p < 16) of a tile whose kv head 0 piece is at
// piece0 and kv head g's at piece0 + g * head_stride bytes, and reads it back out.
void put_kv_int8_row(KvRole role, const void* row, int64_t n_groups, int64_t width, void* piece0,
                     int64_t head_stride, int64_t p);
void get_kv_int8_row(KvRole role, const void* piece0, int64_t head_stride, int64_t n_groups, int64_t width,
                     int64_t p, void* row);

}  // namespace moxie
