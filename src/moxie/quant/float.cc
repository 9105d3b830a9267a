// Row conversions for the plain float types: F32 (a copy), F16 (IEEE binary16) and BF16
// (the top half of an F32). Encoding rounds to nearest, ties to even (see core/half.h).
#include <cstring>

#include "moxie/core/dtype.h"
#include "moxie/core/half.h"
#include "moxie/quant/families.h"

namespace moxie::quant {
namespace {

void floats_copy_to_f32(const float* src, void* dst, int64_t n) { std::memcpy(dst, src, size_t(n) * sizeof(float)); }
void f32_copy_to_floats(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, size_t(n) * sizeof(float));
}

// uint16_t rows may sit at any even offset inside a GGUF file; memcpy keeps the access legal.
void f16_to_f32_row(const void* src, float* dst, int64_t n) {
  const char* bytes = static_cast<const char*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, bytes + 2 * i, 2);
    dst[i] = fp16_to_fp32(h);
  }
}

void f32_to_f16_row(const float* src, void* dst, int64_t n) {
  char* bytes = static_cast<char*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = fp32_to_fp16(src[i]);
    std::memcpy(bytes + 2 * i, &h, 2);
  }
}

void bf16_to_f32_row(const void* src, float* dst, int64_t n) {
  const char* bytes = static_cast<const char*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t b;
    std::memcpy(&b, bytes + 2 * i, 2);
    dst[i] = bf16_to_fp32(b);
  }
}

void f32_to_bf16_row(const float* src, void* dst, int64_t n) {
  char* bytes = static_cast<char*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t b = fp32_to_bf16(src[i]);
    std::memcpy(bytes + 2 * i, &b, 2);
  }
}

}  // namespace

void register_float_quants(QuantFns* table) {
  table[uint32_t(DType::F32)] = {f32_copy_to_floats, floats_copy_to_f32};
  table[uint32_t(DType::F16)] = {f16_to_f32_row, f32_to_f16_row};
  table[uint32_t(DType::BF16)] = {bf16_to_f32_row, f32_to_bf16_row};
}

}  // namespace moxie::quant
