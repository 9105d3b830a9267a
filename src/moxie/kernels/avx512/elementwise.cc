#include "moxie/kernels/registry.h"

namespace moxie::kernels {

// Placeholder until the family's kernels land.
void register_elementwise_avx512(KernelTable& t) { (void)t; }

}  // namespace moxie::kernels
