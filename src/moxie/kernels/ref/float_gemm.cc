// Scalar reference gemm for float weights: the plain loop, the oracle the SIMD versions are
// tested against. Every weight type dots with F32 activations here (BF16 and F16 weights
// widen exactly to F32), accumulating in F32 in element order.
#include <cstring>

#include "moxie/core/half.h"
#include "moxie/kernels/registry.h"

namespace moxie::kernels {
namespace {

// Weight element i of a row as a float. Rows may sit at any element-aligned offset.
float load_f32(const char* row, int64_t i) {
  float v;
  std::memcpy(&v, row + 4 * i, 4);
  return v;
}
float load_f16(const char* row, int64_t i) {
  uint16_t h;
  std::memcpy(&h, row + 2 * i, 2);
  return fp16_to_fp32(h);
}
float load_bf16(const char* row, int64_t i) {
  uint16_t b;
  std::memcpy(&b, row + 2 * i, 2);
  return bf16_to_fp32(b);
}

template <float (*Load)(const char*, int64_t)>
void gemm_x_f32(int64_t k, const void* w, int64_t w_stride, int64_t n_rows, const void* x, int64_t x_stride,
                int64_t n_tok, float* c, int64_t c_stride) {
  for (int64_t t = 0; t < n_tok; ++t) {
    const char* x_row = static_cast<const char*>(x) + t * x_stride;
    for (int64_t r = 0; r < n_rows; ++r) {
      const char* w_row = static_cast<const char*>(w) + r * w_stride;
      float sum = 0.0f;
      for (int64_t i = 0; i < k; ++i) sum += Load(w_row, i) * load_f32(x_row, i);
      c[t * c_stride + r] = sum;
    }
  }
}

void f32_to_f32_act(const float* x, void* y, int64_t k) { std::memcpy(y, x, size_t(k) * sizeof(float)); }

}  // namespace

void register_float_gemm_ref(KernelTable& t) {
  t.weights[uint32_t(DType::F32)] = {DType::F32, f32_to_f32_act, gemm_x_f32<load_f32>};
  t.weights[uint32_t(DType::F16)] = {DType::F32, f32_to_f32_act, gemm_x_f32<load_f16>};
  t.weights[uint32_t(DType::BF16)] = {DType::F32, f32_to_f32_act, gemm_x_f32<load_bf16>};
}

}  // namespace moxie::kernels
