#pragma once
// A non-owning view of tensor data: type, shape in GGUF order and byte strides.
// ne[0] is the innermost (contiguous) dimension, as in GGUF and ggml: an HF Linear
// weight [out, in] is ne = {in, out}, so each row of ne[0] elements is one output.
#include <cstdint>

#include "moxie/core/dtype.h"

namespace moxie {

inline constexpr int kMaxDims = 4;

struct TensorView {
  DType type = DType::F32;
  int n_dims = 0;
  int64_t ne[kMaxDims] = {1, 1, 1, 1};  // elements per dimension, unused ones are 1
  int64_t nb[kMaxDims] = {0, 0, 0, 0};  // bytes between consecutive indices of each dimension
  const void* data = nullptr;

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t n_bytes() const { return nb[3] * ne[3]; }  // contiguous tensors only
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
  // Row i1 of matrix i2 (e.g. expert i2 of a stacked [n_expert, n_ff, n_embd] tensor).
  const void* row(int64_t i1, int64_t i2 = 0, int64_t i3 = 0) const {
    return static_cast<const char*>(data) + i1 * nb[1] + i2 * nb[2] + i3 * nb[3];
  }
};

// A contiguous view over data with the given shape (GGUF order); computes nb from the type.
TensorView make_contiguous_view(DType type, int n_dims, const int64_t* ne, const void* data);

}  // namespace moxie
