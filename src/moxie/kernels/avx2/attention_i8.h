#pragma once
// The AVX2 decode attention kernel for int8 cached rows (attention_i8.cc); attention.cc's
// table entry calls it for AttentionArgs::kv_type I8.
#include "moxie/kernels/registry.h"

namespace moxie::kernels {

void attention_i8_avx2(const AttentionArgs& a);

}  // namespace moxie::kernels
