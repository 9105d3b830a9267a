#pragma once
// Internal to quant/: each format family fills its slots of the table (indexed by DType id).
#include "moxie/quant/quant.h"

namespace moxie::quant {

void register_float_quants(QuantFns* table);    // F32, F16, BF16
void register_block32_quants(QuantFns* table);  // Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, MXFP4
void register_kquant_quants(QuantFns* table);   // Q4_K, Q5_K, Q6_K, Q8_K

}  // namespace moxie::quant
