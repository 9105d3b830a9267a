// The 16-row interleaved layouts (quant/repack.h) and their AVX-512 gemm, against the scalar
// reference gemm of the original GGUF layout on the same bytes:
//  - random weight bytes (every nibble, scale, min and sign pattern) with finite fp16 scales,
//    activations converted by the tables' own to_act;
//  - every token count 1..19 (register tiles of 1..8 and their tails), several k (one block
//    up to beyond the kernel's activation chunk) and row counts (one group up to several);
//  - results for a token or a row do not depend on how the call was split (bit-identical),
//    which batched = unbatched decoding relies on;
//  - repack_rows refuses what it cannot do with a message.
// Skipped (with a message) on CPUs without AVX-512 VNNI, where nothing is repacked.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "moxie/core/dtype.h"
#include "moxie/core/error.h"
#include "moxie/core/half.h"
#include "moxie/core/quant_blocks.h"
#include "moxie/kernels/api.h"
#include "moxie/quant/repack.h"
#include "unit/kernels/random_scale.h"

namespace moxie {
namespace {

using kernels::Isa;

using kernels::testing::random_half;

// n_rows rows of k elements of type t (row stride = row_bytes + 16 pad bytes, to check the
// repack honours strides), random bytes with sane scales.
std::vector<uint8_t> random_rows(DType t, int64_t k, int64_t n_rows, int64_t stride, std::mt19937& rng) {
  std::vector<uint8_t> w(size_t(stride * n_rows));
  for (auto& b : w) b = uint8_t(rng());
  const DTypeInfo& info = dtype_info(t);
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t b = 0; b < k / info.block_size; ++b) {
      uint8_t* p = w.data() + r * stride + b * info.block_bytes;
      if (t == DType::Q4_K) {
        reinterpret_cast<BlockQ4_K*>(p)->d = random_half(rng, false);
        reinterpret_cast<BlockQ4_K*>(p)->dmin = random_half(rng, false);
      } else {
        reinterpret_cast<BlockQ8_0*>(p)->d = random_half(rng, true);
      }
    }
  }
  return w;
}

struct Case {
  DType type;
  int64_t k, n_rows;
};

class Repacked : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    fast_ = kernels::table_for(Isa::avx512);
    if (!fast_) GTEST_SKIP() << "this CPU has no AVX-512 VNNI: the repacked layouts are not used here";
  }
  const kernels::KernelTable* fast_ = nullptr;
};

TEST_P(Repacked, MatchesTheScalarGemmOfTheOriginalRows) {
  const Case c = GetParam();
  const DType packed_type = quant::repacked_type(c.type);
  ASSERT_NE(packed_type, c.type);
  const kernels::KernelTable& ref = *kernels::table_for(Isa::scalar);
  const kernels::WeightOps& ref_ops = ref.weights[uint32_t(c.type)];
  const kernels::WeightOps& fast_ops = fast_->weights[uint32_t(packed_type)];
  ASSERT_TRUE(fast_ops.gemm);
  ASSERT_EQ(fast_ops.act_type, ref_ops.act_type);

  std::mt19937 rng(uint32_t(c.k * 7 + c.n_rows));
  const int64_t stride = row_bytes(c.type, c.k) + 16;
  const std::vector<uint8_t> w = random_rows(c.type, c.k, c.n_rows, stride, rng);
  const int64_t packed_stride = row_bytes(packed_type, c.k);
  std::vector<uint8_t> packed(size_t(packed_stride * c.n_rows));
  quant::repack_rows(c.type, w.data(), stride, c.n_rows, c.k, packed.data());

  constexpr int64_t kMaxTok = 19;
  std::uniform_real_distribution<float> dist(-2.f, 2.f);
  std::vector<float> xf(size_t(kMaxTok * c.k));
  for (float& v : xf) v = dist(rng);
  const int64_t x_stride = row_bytes(ref_ops.act_type, c.k);
  std::vector<uint8_t> x(size_t(x_stride * kMaxTok));
  for (int64_t t = 0; t < kMaxTok; ++t) ref_ops.to_act(xf.data() + t * c.k, x.data() + t * x_stride, c.k);

  std::vector<float> want(size_t(kMaxTok * c.n_rows));
  ref_ops.gemm(c.k, w.data(), stride, c.n_rows, x.data(), x_stride, kMaxTok, want.data(), c.n_rows);
  // Scale of the sums: the largest |output| (fp32 rounding differs between the two orders).
  double scale = 1e-30;
  for (float v : want) scale = std::max(scale, double(std::fabs(v)));

  std::vector<float> all(size_t(kMaxTok * c.n_rows));
  fast_ops.gemm(c.k, packed.data(), packed_stride, c.n_rows, x.data(), x_stride, kMaxTok, all.data(), c.n_rows);
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_LE(std::fabs(double(all[i]) - double(want[i])), 2e-5 * scale)
        << dtype_name(c.type) << " k=" << c.k << " token " << i / size_t(c.n_rows) << " row " << i % size_t(c.n_rows);
  }
  // Every token count (each tile size and tail) and a split at every 16th row: bit-identical.
  for (int64_t n_tok = 1; n_tok <= kMaxTok; ++n_tok) {
    std::vector<float> part(size_t(n_tok * c.n_rows), -1.f);
    for (int64_t r0 = 0; r0 < c.n_rows; r0 += 16) {
      fast_ops.gemm(c.k, packed.data() + r0 * packed_stride, packed_stride, 16, x.data(), x_stride, n_tok,
                    part.data() + r0, c.n_rows);
    }
    ASSERT_EQ(0, std::memcmp(part.data(), all.data(), part.size() * sizeof(float))) << "n_tok " << n_tok;
  }
}

std::string name_of(const ::testing::TestParamInfo<Case>& info) {
  return std::string(dtype_name(info.param.type)) + "_k" + std::to_string(info.param.k) + "_rows" +
         std::to_string(info.param.n_rows);
}

INSTANTIATE_TEST_SUITE_P(Layouts, Repacked,
                         ::testing::Values(Case{DType::Q4_K, 256, 16}, Case{DType::Q4_K, 768, 48},
                                           Case{DType::Q4_K, 2048, 32}, Case{DType::Q8_0, 32, 16},
                                           Case{DType::Q8_0, 768, 32}, Case{DType::Q8_0, 4096, 48},
                                           Case{DType::Q8_0, 256, 128}, Case{DType::Q4_K, 256, 128}),
                         name_of);

TEST(RepackRows, RefusesWhatItCannotRepack) {
  std::vector<uint8_t> src(size_t(row_bytes(DType::Q4_K, 256) * 17)), dst(src.size() * 2);
  const auto message = [&](DType t, int64_t rows, int64_t k) {
    try {
      quant::repack_rows(t, src.data(), row_bytes(DType::Q4_K, 256), rows, k, dst.data());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(DType::Q6_K, 16, 256).find("no repacked layout"), std::string::npos);
  EXPECT_NE(message(DType::Q4_K, 17, 256).find("17 rows is not a multiple of 16"), std::string::npos);
  EXPECT_NE(message(DType::Q4_K, 16, 100).find("k = 100"), std::string::npos);
  EXPECT_EQ(quant::repacked_type(DType::Q6_K), DType::Q6_K);
}

TEST(RepackedTypes, AreNeverFileTypes) {
  for (DType t : {DType::Q4_K_R16, DType::Q8_0_R16}) {
    EXPECT_FALSE(dtype_info(t).in_files) << dtype_name(t);
    DType parsed;
    EXPECT_FALSE(dtype_from_name(dtype_name(t), &parsed)) << dtype_name(t);
  }
}

}  // namespace
}  // namespace moxie
