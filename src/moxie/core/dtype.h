#pragma once
// Element types of tensors, numbered exactly as ggml_type / GGUF tensor infos number them.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace moxie {

enum class DType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
  // moxie's own layouts, made at load time and never read from or written to a file: a
  // type's rows re-laid out in groups of 16 for the AVX-512 kernels (quant/repack.h).
  Q4_K_R16 = 100, Q8_0_R16 = 101,
};

// One past the largest id above; tables indexed by DType have this many slots.
inline constexpr uint32_t kDTypeSlots = 102;

struct DTypeInfo {
  std::string_view name;  // as ggml prints it: "q4_K", "bf16", ...
  int64_t block_size;     // elements per block (1 for plain types)
  int64_t block_bytes;    // bytes per block
  bool computable;        // moxie has dequantize + kernels for it (else: readable, not runnable)
  bool in_files = true;   // a GGUF type id (false: one of moxie's in-memory layouts)
};

// Info for a GGUF type id, or nullptr when the id is unknown (removed or never assigned).
const DTypeInfo* dtype_info(uint32_t id);
const DTypeInfo& dtype_info(DType t);  // t must be a known type
std::string_view dtype_name(DType t);
// Parses "q4_K", "Q4_K", "q4_k", "bf16", ... Returns false when the name is unknown.
bool dtype_from_name(std::string_view name, DType* out);

// Bytes of one row of n elements; n must be a multiple of the block size. For the _R16
// layouts, a row's share of its 16-row group (groups are 16 * row_bytes apart).
inline int64_t row_bytes(DType t, int64_t n) {
  const DTypeInfo& info = dtype_info(t);
  return n / info.block_size * info.block_bytes;
}

}  // namespace moxie
