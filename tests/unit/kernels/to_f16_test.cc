// KernelTable::to_f16 (the F16 KV cache's store) of every instruction set this CPU runs:
// bit-identical to core/half.h's fp32_to_fp16 (itself checked against numpy's float16 by
// tests/unit/core) on every tail length and on the values where rounding is delicate:
// ties, subnormal halves, the overflow edge, infinities and NaN.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "moxie/core/half.h"
#include "unit/kernels/elementwise_test_util.h"

namespace moxie::kernels::testing {
namespace {

std::vector<float> delicate_values() {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 65519.99f, 65520.0f, -65520.0f, 1e9f, inf, -inf,
                          std::numeric_limits<float>::quiet_NaN(), 0x1p-24f, 0x1p-25f, 0x1.8p-25f, 0x1p-26f,
                          0x1p-14f, 0x1.ffcp-15f, 6.1e-5f, 1e-8f, -3e-7f};
  // Exact ties between two halves: 1 + (2k + 1) * 2^-11 rounds to the even neighbour.
  for (int k = 0; k < 8; ++k) x.push_back(1.0f + float(2 * k + 1) * 0x1p-11f);
  return x;
}

TEST(ToF16, EveryTableMatchesTheScalarConversionBitForBit) {
  std::vector<float> x = delicate_values();
  for (float v : random_normal(1000, 100.0, 3)) x.push_back(v);
  for (float v : random_normal(200, 1e-5, 4)) x.push_back(v);  // subnormal halves
  for (Isa isa : all_isas()) {
    const KernelTable* t = table_for(isa);
    if (!t) continue;
    for (size_t n : {size_t(1), size_t(7), size_t(8), size_t(15), size_t(16), size_t(17), x.size()}) {
      std::vector<uint16_t> got(n + 1, 0xABCD);
      t->to_f16(x.data(), got.data(), int64_t(n));
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(got[i], fp32_to_fp16(x[i])) << isa_name(isa) << " x = " << x[i] << " (index " << i << ")";
      }
      ASSERT_EQ(got[n], 0xABCD) << isa_name(isa) << ": wrote past n = " << n;
    }
  }
}

}  // namespace
}  // namespace moxie::kernels::testing
