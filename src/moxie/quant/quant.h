#pragma once
// Reference (scalar) conversions between float rows and every computable tensor type,
// bit-exact to the GGUF block formats. n must be a multiple of the type's block size.
#include <cstdint>

#include "moxie/core/dtype.h"

namespace moxie::quant {

using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);
using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t n);

struct QuantFns {
  DequantizeRowFn dequantize = nullptr;
  QuantizeRowFn quantize = nullptr;  // round-to-nearest, as the reference format defines it
};

// The functions for type t; members are nullptr where moxie has none.
const QuantFns& quant_fns(DType t);

// Throw moxie::Error naming the type when it has no such conversion.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);
void quantize_row(DType t, const float* src, void* dst, int64_t n);

}  // namespace moxie::quant
