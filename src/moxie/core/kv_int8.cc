#include "moxie/core/kv_int8.h"

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

void put_kv_int8_row(KvRole role, const void* row, int64_t n_groups, int64_t width, void* piece0,
                     int64_t head_stride, int64_t p) {
  const auto* q = static_cast<const int8_t*>(row);
  const float* scales = kv_int8_scales(row, n_groups, width);
  for (int64_t g = 0; g < n_groups; ++g) {
    char* piece = static_cast<char*>(piece0) + g * head_stride;
    for (int64_t d = 0; d < width; ++d) piece[kv_int8_offset(role, width, p, d)] = char(q[g * width + d]);
    std::memcpy(piece + kKvInt8Tile * width + p * 4, scales + g, sizeof(float));
  }
}

void get_kv_int8_row(KvRole role, const void* piece0, int64_t head_stride, int64_t n_groups, int64_t width,
                     int64_t p, void* row) {
  auto* q = static_cast<int8_t*>(row);
  char* scales = static_cast<char*>(row) + n_groups * width;
  for (int64_t g = 0; g < n_groups; ++g) {
    const char* piece = static_cast<const char*>(piece0) + g * head_stride;
    for (int64_t d = 0; d < width; ++d) q[g * width + d] = int8_t(piece[kv_int8_offset(role, width, p, d)]);
    std::memcpy(scales + g * 4, piece + kKvInt8Tile * width + p * 4, sizeof(float));
  }
}

}  // namespace moxie
