#pragma once
// The AVX2 decode attention kernel for the int8 cache's tiles (attention_i8.cc,
// core/kv_int8.h); attention.cc's table entry calls it for AttentionArgs::kv_type I8.
#include "moxie/kernels/registry.h"

namespace moxie::kernels {

void attention_i8_avx2(const AttentionArgs& a);

}  // namespace moxie::kernels
