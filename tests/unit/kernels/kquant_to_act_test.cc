// The SIMD float -> Q8_K conversions (K-quant to_act) against the reference quantizer: the
// blocks must be byte-identical (same d, qs and bsums), including the sign choice on ties in
// magnitude, exact .5 products (ties to even), zero blocks and very large or tiny values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "moxie/core/dtype.h"
#include "moxie/core/quant_blocks.h"
#include "moxie/kernels/api.h"
#include "moxie/quant/quant.h"

namespace moxie {
namespace {

using kernels::Isa;

constexpr int64_t kBlocks = 64;
constexpr int64_t kN = kBlocks * kQKK;

// Inputs that stress the conversion, one pattern per block.
std::vector<float> tricky_inputs(uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(kN);
  for (auto& v : x) v = nd(rng);
  for (int64_t b = 0; b < kBlocks; ++b) {
    float* blk = x.data() + b * kQKK;
    switch (b % 8) {
      case 0: break;  // plain Gaussian
      case 1: std::fill(blk, blk + kQKK, 0.0f); break;
      case 2: blk[200] = 5.f; blk[30] = -5.f; break;   // magnitude tie: the first (-5) sets the sign
      case 3: blk[3] = 127.f; for (int i = 4; i < 40; ++i) blk[i] = float(i) + 0.5f; break;  // .5 products
      case 4: for (int i = 0; i < kQKK; ++i) blk[i] *= 1e30f; break;
      case 5: for (int i = 0; i < kQKK; ++i) blk[i] *= 1e-30f; break;
      case 6: std::fill(blk, blk + kQKK, -2.0f); break;  // constant
      case 7: blk[255] = 100.f; break;  // the max in the last lane
    }
  }
  return x;
}

class KQuantToAct : public ::testing::TestWithParam<Isa> {};

TEST_P(KQuantToAct, IdenticalToReference) {
  const kernels::KernelTable* table = kernels::table_for(GetParam());
  if (!table) GTEST_SKIP() << "this CPU cannot run " << kernels::isa_name(GetParam());
  for (DType w : {DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_K}) {
    const kernels::WeightOps& ops = table->weights[int(w)];
    ASSERT_EQ(ops.act_type, DType::Q8_K) << dtype_name(w);
    for (uint32_t seed : {1u, 2u, 3u}) {
      const std::vector<float> x = tricky_inputs(seed);
      std::vector<BlockQ8_K> got(kBlocks), want(kBlocks);
      std::memset(got.data(), 0xCD, sizeof(BlockQ8_K) * kBlocks);
      ops.to_act(x.data(), got.data(), kN);
      quant::quantize_row(DType::Q8_K, x.data(), want.data(), kN);
      for (int64_t b = 0; b < kBlocks; ++b) {
        ASSERT_EQ(got[b].d, want[b].d) << dtype_name(w) << " block " << b;
        ASSERT_EQ(std::memcmp(got[b].qs, want[b].qs, sizeof(want[b].qs)), 0) << dtype_name(w) << " block " << b;
        ASSERT_EQ(std::memcmp(got[b].bsums, want[b].bsums, sizeof(want[b].bsums)), 0) << " block " << b;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, KQuantToAct, ::testing::Values(Isa::scalar, Isa::avx2, Isa::avx512),
                         [](const auto& info) { return std::string(kernels::isa_name(info.param)); });

}  // namespace
}  // namespace moxie
