#pragma once
// The tail mask shared by this folder's kernels. Only files compiled with the AVX-512 flags
// include it, and the anonymous namespace gives each its own copy (kernels/registry.h).
#include <immintrin.h>
#include <stdint.h>

namespace moxie::kernels {
namespace {

// Lanes [0, count) set: the mask for the next min(count, 16) floats (none when count <= 0).
inline __mmask16 tail_mask(int64_t count) {
  return count >= 16 ? __mmask16(0xFFFF) : count <= 0 ? __mmask16(0) : __mmask16((1u << count) - 1u);
}

}  // namespace
}  // namespace moxie::kernels
