#pragma once
// The decode attention kernel for int8 cached rows (attention_i8.cc); attention.cc's table
// entry calls it for AttentionArgs::kv_type I8.
#include "moxie/kernels/api.h"

namespace moxie::kernels {

void attention_i8_avx512(const AttentionArgs& a);

}  // namespace moxie::kernels
