#pragma once
// The int8 KV cache row ("--cache-type q8", DType::I8 in a KvShape): a cached row of n_groups
// head slices of `width` elements each is stored as
//   [n_groups * width int8][n_groups float scales]
// where element d of slice g is q[g * width + d] * scale[g], scale[g] = max |x| / 127 over the
// slice (0 for an all-zero slice). One scale per head slice, not per 32-element block as in
// GGUF's Q8_0: the attention kernels then dot whole int8 slices with VPDPBUSD and apply one
// scale per (position, head) (kernels/avx512/attention_i8.cc). A quarter of an F32 row's
// bytes (plus 4 per head) and half of an F16 row's: what a long-context decode streams.
#include <cstdint>

namespace moxie {

// Bytes of one such row; a multiple of 4 when n_groups * width is (KvCache requires it, so
// the scales are aligned floats).
constexpr int64_t kv_int8_row_bytes(int64_t n_groups, int64_t width) { return n_groups * (width + 4); }

// Rounds x (n_groups slices of width floats) into the row at dst (kv_int8_row_bytes bytes):
// each element to the nearest multiple of its slice's scale.
void quantize_kv_int8_row(const float* x, int64_t n_groups, int64_t width, void* dst);

// The scales of a row at src: n_groups floats after the int8 elements.
inline const float* kv_int8_scales(const void* row, int64_t n_groups, int64_t width) {
  return reinterpret_cast<const float*>(static_cast<const char*>(row) + n_groups * width);
}

}  // namespace moxie
