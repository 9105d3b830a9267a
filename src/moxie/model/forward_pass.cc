#include "moxie/model/forward_pass.h"

#include "moxie/kernels/matmul.h"
#include "moxie/kernels/rope_cache.h"

namespace moxie {

Workspace::Workspace() : scratch_(std::make_unique<kernels::MatmulScratch>()) {}
Workspace::~Workspace() = default;

float* Workspace::get(Buf b, int64_t n) {
  std::vector<float>& v = bufs_[size_t(b)];
  if (int64_t(v.size()) < n) v.resize(size_t(n));
  return v.data();
}

const float* ForwardPass::rope_table(const kernels::RopeCache& rope) {
  const int64_t n_rot = rope.n_rot();
  float* table = ws().get(Buf::rope, n_tok * n_rot);
  if (rope_filled_for_ != &rope) {
    for (int64_t t = 0; t < n_tok; ++t) rope.fill(batch.tokens[size_t(t)].pos, table + t * n_rot);
    rope_filled_for_ = &rope;
  }
  return table;
}

}  // namespace moxie
