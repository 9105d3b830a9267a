// touch_rows and prefetch_rows (registry.h): plain C++, compiled without any instruction-set
// flags, so every kernel folder can call the one copy.
#include "moxie/kernels/registry.h"

namespace moxie::kernels {

void touch_rows(const void* x, int64_t stride_bytes, int64_t r0, int64_t r1, int64_t row_bytes) {
  const char* base = static_cast<const char*>(x);
  for (int64_t r = r0; r < r1; ++r) {
    const char* row = base + r * stride_bytes;
    // volatile: the loads are the point, their values are not used. Four lines per step: in a
    // kernel whose rows are already cached the loop's own overhead is what these loads cost.
    const auto line = [row](int64_t b) { (void)*reinterpret_cast<const volatile char*>(row + b); };
    int64_t b = 0;
    for (; b + 256 <= row_bytes; b += 256) {
      line(b);
      line(b + 64);
      line(b + 128);
      line(b + 192);
    }
    for (; b < row_bytes; b += 64) line(b);
  }
}

void prefetch_rows(const void* x, int64_t stride_bytes, int64_t r0, int64_t r1, int64_t row_bytes) {
  const char* base = static_cast<const char*>(x);
  for (int64_t r = r0; r < r1; ++r) {
    const char* row = base + r * stride_bytes;
    for (int64_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(row + b, 0, 2);  // 2: into L2
  }
}

}  // namespace moxie::kernels
