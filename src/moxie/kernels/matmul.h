#pragma once
// The threaded matrix multiply every projection goes through:
//   y[t][r] = dot(W row r, x[t])   for t < n_tok, r < n_rows
// W is a 2-D weight view (ne0 = k_in, ne1 = n_rows), possibly one expert of a stacked
// [n_expert, n_rows, k_in] tensor (see expert_matrix). Activations are first converted once to
// the weight type's activation type (kernel table's to_act), then output rows are split across
// the pool's threads in cache-sized chunks (and token tiles when rows alone are too few).
#include <cstddef>
#include <cstdint>

#include "moxie/core/tensor.h"

namespace moxie {
class ThreadPool;
}

namespace moxie::kernels {

struct KernelTable;

// Reusable, 64-byte-aligned memory for converted activations. Grows, never shrinks, so a
// steady-state caller allocates nothing. One scratch per concurrent caller.
class MatmulScratch {
 public:
  MatmulScratch() = default;
  ~MatmulScratch();
  MatmulScratch(const MatmulScratch&) = delete;
  MatmulScratch& operator=(const MatmulScratch&) = delete;

  void* reserve(size_t bytes);  // at least `bytes`, contents not kept across growth
  size_t capacity() const { return capacity_; }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

// Activations already converted to a weight type's act_type: n_tok rows of k elements,
// row t at (char*)data + t * row_stride bytes.
struct PackedActivations {
  DType type = DType::F32;
  int64_t k = 0;
  int64_t n_tok = 0;
  int64_t row_stride = 0;  // bytes
  const void* data = nullptr;
};

// Converts x [n_tok][k] floats for weights of type weight_type, into scratch.
// Throws moxie::Error when the type has no kernel or k is not a multiple of its block sizes.
PackedActivations pack_activations(const KernelTable& kt, DType weight_type, const float* x, int64_t n_tok,
                                   int64_t k, ThreadPool& pool, MatmulScratch& scratch);

// y[t * y_stride + r] = dot(W row r, x row t). x must be packed for w.type (so the same packed
// activations serve several weights of one type, e.g. an expert's gate and up projections).
void matmul_packed(const KernelTable& kt, const TensorView& w, const PackedActivations& x, float* y,
                   int64_t y_stride, ThreadPool& pool);

// y [n_tok][n_rows] = x [n_tok][k] times W^T. scratch may be nullptr (then memory is allocated
// for this call only). Throws moxie::Error on a shape mismatch or a weight type without kernel.
void matmul(const KernelTable& kt, const TensorView& w, const float* x, int64_t n_tok, float* y,
            ThreadPool& pool, MatmulScratch* scratch);

// Expert e of a stacked 3-D weight [n_expert, n_rows, k] (ne = {k, n_rows, n_expert}) as a
// 2-D view. Throws moxie::Error when w is not 3-D or e is out of range.
TensorView expert_matrix(const TensorView& w, int64_t e);

}  // namespace moxie::kernels
