#include "moxie/runtime/kv_int8.h"

#include <cmath>
#include <cstring>

namespace moxie {

void quantize_kv_int8_row(const float* x, int64_t n_groups, int64_t width, void* dst) {
  auto* q = static_cast<int8_t*>(dst);
  auto* scales = reinterpret_cast<float*>(static_cast<char*>(dst) + n_groups * width);
  for (int64_t g = 0; g < n_groups; ++g) {
    const float* xs = x + g * width;
    float max_abs = 0.0f;
    for (int64_t d = 0; d < width; ++d) max_abs = std::fmax(max_abs, std::fabs(xs[d]));
    const float scale = max_abs / 127.0f;
    const float inv = max_abs > 0.0f ? 127.0f / max_abs : 0.0f;
    for (int64_t d = 0; d < width; ++d) q[g * width + d] = int8_t(std::lrintf(xs[d] * inv));
    std::memcpy(scales + g, &scale, sizeof scale);
  }
}

}  // namespace moxie
