#pragma once
// Reference conversions of the K-quant formats (super-blocks of 256 elements, layouts in
// core/quant_blocks.h). n must be a multiple of 256. The quantizers reimplement ggml's
// quantize_row_*_K_ref (no importance matrix), so they produce the blocks ggml would.
#include <cstdint>

namespace moxie::quant {

void dequantize_row_q4_k(const void* src, float* dst, int64_t n);
void dequantize_row_q5_k(const void* src, float* dst, int64_t n);
void dequantize_row_q6_k(const void* src, float* dst, int64_t n);
void dequantize_row_q8_k(const void* src, float* dst, int64_t n);

void quantize_row_q4_k(const float* src, void* dst, int64_t n);
void quantize_row_q5_k(const float* src, void* dst, int64_t n);
void quantize_row_q6_k(const float* src, void* dst, int64_t n);
// Q8_K is the activation format of the K-quant kernels: d = -max / 127 where max is the
// element of largest magnitude (so that element maps to -127), bsums = sums of each 16 qs.
void quantize_row_q8_k(const float* src, void* dst, int64_t n);

}  // namespace moxie::quant
