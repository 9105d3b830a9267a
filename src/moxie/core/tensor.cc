#include "moxie/core/tensor.h"

namespace moxie {

TensorView make_contiguous_view(DType type, int n_dims, const int64_t* ne, const void* data) {
  TensorView v;
  v.type = type;
  v.n_dims = n_dims;
  v.data = data;
  for (int i = 0; i < n_dims && i < kMaxDims; ++i) v.ne[i] = ne[i];
  const DTypeInfo& info = dtype_info(type);
  v.nb[0] = info.block_bytes;  // bytes per block: meaningful as a stride only for plain types
  v.nb[1] = v.ne[0] / info.block_size * info.block_bytes;
  for (int i = 2; i < kMaxDims; ++i) v.nb[i] = v.nb[i - 1] * v.ne[i - 1];
  return v;
}

}  // namespace moxie
