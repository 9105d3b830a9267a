// K-quant gemm (Q4_K, Q5_K, Q6_K, Q8_K weights x Q8_K activations) of every instruction set
// this CPU runs, against two oracles:
//  - a double-precision dot of the dequantized weights with the dequantized activations
//    (quant::dequantize_row, independent of every gemm), for every ISA including scalar;
//  - the scalar reference gemm, for the SIMD ISAs.
// Weights are random bytes (every scale, min, high bit and sign pattern occurs) with finite
// fp16 scales; activations are random floats converted by the table's own to_act.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "moxie/core/dtype.h"
#include "moxie/core/half.h"
#include "moxie/core/quant_blocks.h"
#include "moxie/kernels/api.h"
#include "moxie/quant/quant.h"
#include "unit/kernels/random_scale.h"

namespace moxie {
namespace {

using kernels::Isa;

struct TypeCase {
  DType type;
  // Allowed |gemm - oracle| / sum_i |w_i * x_i|. Within a block the sums are exact integers;
  // the error is fp32 rounding of the per-block products and of the running sum (~k/256 terms,
  // each off by a few ulps): observed <= 7e-8 up to k = 2048, so 1e-6 leaves a wide margin.
  double tolerance;
};
constexpr TypeCase kTypes[] = {
    {DType::Q4_K, 1e-6}, {DType::Q5_K, 1e-6}, {DType::Q6_K, 1e-6}, {DType::Q8_K, 1e-6}};

using kernels::testing::random_half;

// n_rows rows of k elements of type t, each row w_stride bytes apart, from random bytes.
std::vector<uint8_t> random_weights(DType t, int64_t k, int64_t n_rows, int64_t w_stride, std::mt19937& rng) {
  std::vector<uint8_t> w(size_t(w_stride * n_rows));
  for (auto& b : w) b = uint8_t(rng());
  const int64_t n_blocks = k / kQKK;
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t b = 0; b < n_blocks; ++b) {
      uint8_t* p = w.data() + r * w_stride + b * dtype_info(t).block_bytes;
      if (t == DType::Q4_K || t == DType::Q5_K) {
        auto* blk = reinterpret_cast<BlockQ4_K*>(p);  // Q5_K shares the d, dmin, scales prefix
        blk->d = random_half(rng, false);
        blk->dmin = random_half(rng, false);
      } else if (t == DType::Q6_K) {
        reinterpret_cast<BlockQ6_K*>(p)->d = random_half(rng, true);
      } else {
        auto* blk = reinterpret_cast<BlockQ8_K*>(p);
        blk->d = std::ldexp(float(int(rng() % 2001) - 1000), -16);
        for (auto& q : blk->qs) q = int8_t(int(rng() % 255) - 127);  // Q8_K quants are in [-127, 127]
      }
    }
  }
  return w;
}

struct Problem {
  int64_t k, n_rows, n_tok;
  int64_t w_stride, x_stride, c_stride;
  std::vector<uint8_t> w, x;  // x: Q8_K rows from the table's to_act
  std::vector<float> xf;      // the float activations before conversion
};

Problem make_problem(DType t, int64_t k, int64_t n_rows, int64_t n_tok, std::mt19937& rng) {
  Problem p{k, n_rows, n_tok, 0, 0, 0, {}, {}, {}};
  // Padded strides check that kernels honour them.
  p.w_stride = row_bytes(t, k) + 16;
  p.x_stride = row_bytes(DType::Q8_K, k) + 4;
  p.c_stride = n_rows + 3;
  p.w = random_weights(t, k, n_rows, p.w_stride, rng);
  std::normal_distribution<float> nd(0.f, 1.f);
  p.xf.resize(size_t(k * n_tok));
  for (auto& v : p.xf) v = nd(rng);
  p.x.assign(size_t(p.x_stride * n_tok), 0);
  return p;
}

void convert_activations(const kernels::WeightOps& ops, Problem& p) {
  for (int64_t t = 0; t < p.n_tok; ++t) ops.to_act(p.xf.data() + t * p.k, p.x.data() + t * p.x_stride, p.k);
}

std::vector<float> run_gemm(const kernels::WeightOps& ops, const Problem& p) {
  std::vector<float> c(size_t(p.c_stride * p.n_tok), -12345.f);
  ops.gemm(p.k, p.w.data(), p.w_stride, p.n_rows, p.x.data(), p.x_stride, p.n_tok, c.data(), p.c_stride);
  return c;
}

struct ErrorStats {
  double max_abs = 0, max_norm = 0;
};

// Checks c against the dequantized double-precision oracle; returns the worst errors.
// mags[tok * n_rows + r] gets sum_i |w_i * x_i| of each output.
ErrorStats check_against_dequantized(DType t, const Problem& p, const std::vector<float>& c, double tol,
                                     const char* what, std::vector<double>* mags) {
  mags->assign(size_t(p.n_rows * p.n_tok), 0.0);
  std::vector<float> wf(size_t(p.k)), xf(size_t(p.k));
  ErrorStats s;
  for (int64_t tok = 0; tok < p.n_tok; ++tok) {
    quant::dequantize_row(DType::Q8_K, p.x.data() + tok * p.x_stride, xf.data(), p.k);
    for (int64_t r = 0; r < p.n_rows; ++r) {
      quant::dequantize_row(t, p.w.data() + r * p.w_stride, wf.data(), p.k);
      double dot = 0, mag = 0;
      for (int64_t i = 0; i < p.k; ++i) {
        dot += double(wf[size_t(i)]) * xf[size_t(i)];
        mag += std::fabs(double(wf[size_t(i)]) * xf[size_t(i)]);
      }
      (*mags)[size_t(tok * p.n_rows + r)] = mag;
      const double got = c[size_t(tok * p.c_stride + r)];
      const double err = std::fabs(got - dot), norm = err / (mag + 1e-30);
      s.max_abs = std::max(s.max_abs, err);
      s.max_norm = std::max(s.max_norm, norm);
      if (!(norm <= tol)) {
        ADD_FAILURE() << what << " " << dtype_name(t) << " k=" << p.k << " rows=" << p.n_rows
                           << " tok=" << p.n_tok << " at row " << r << " token " << tok << ": got " << got
                           << ", oracle " << dot << " (normalised error " << norm << " > " << tol << ")";
        return s;
      }
    }
  }
  return s;
}

constexpr int64_t kKs[] = {256, 512, 2048, 768};
constexpr int64_t kRows[] = {1, 2, 3, 4, 5, 7, 8, 13, 16, 17};
constexpr int64_t kToks[] = {1, 2, 3, 4, 5, 8, 9};

class KQuantGemm : public ::testing::TestWithParam<Isa> {};

TEST_P(KQuantGemm, MatchesOracles) {
  const kernels::KernelTable* table = kernels::table_for(GetParam());
  if (!table) GTEST_SKIP() << "this CPU cannot run " << kernels::isa_name(GetParam());
  const kernels::KernelTable& ref = *kernels::table_for(Isa::scalar);
  for (const TypeCase& tc : kTypes) {
    const kernels::WeightOps& ops = table->weights[int(tc.type)];
    ASSERT_NE(ops.gemm, nullptr) << dtype_name(tc.type);
    ASSERT_EQ(ops.act_type, DType::Q8_K);
    std::mt19937 rng(1234 + int(tc.type));
    ErrorStats worst_oracle, worst_ref;
    for (int64_t k : kKs) {
      for (int64_t n_rows : kRows) {
        for (int64_t n_tok : kToks) {
          Problem p = make_problem(tc.type, k, n_rows, n_tok, rng);
          convert_activations(ops, p);
          const std::vector<float> c = run_gemm(ops, p);
          std::vector<double> mags;
          const ErrorStats s =
              check_against_dequantized(tc.type, p, c, tc.tolerance, kernels::isa_name(GetParam()), &mags);
          if (HasFailure()) return;
          worst_oracle.max_abs = std::max(worst_oracle.max_abs, s.max_abs);
          worst_oracle.max_norm = std::max(worst_oracle.max_norm, s.max_norm);
          const std::vector<float> c_ref = run_gemm(ref.weights[int(tc.type)], p);
          for (int64_t t = 0; t < n_tok; ++t) {
            for (int64_t r = 0; r < p.c_stride; ++r) {
              const float a = c[size_t(t * p.c_stride + r)], b = c_ref[size_t(t * p.c_stride + r)];
              if (r >= n_rows) {  // padding between output rows stays untouched
                ASSERT_EQ(a, -12345.f) << "wrote outside its rows at token " << t << " col " << r;
                continue;
              }
              const double err = std::fabs(double(a) - b);
              worst_ref.max_abs = std::max(worst_ref.max_abs, err);
              const double mag = mags[size_t(t * n_rows + r)];
              worst_ref.max_norm = std::max(worst_ref.max_norm, err / (mag + 1e-30));
              ASSERT_LE(err, 2 * tc.tolerance * mag) << "vs scalar ref, k=" << k << " row " << r << " token " << t;
            }
          }
        }
      }
    }
    std::printf("[%s %s] vs dequantized fp64: max abs %.3g, max normalised %.3g; vs scalar ref: max abs %.3g, max normalised %.3g\n",
                kernels::isa_name(GetParam()), std::string(dtype_name(tc.type)).c_str(), worst_oracle.max_abs,
                worst_oracle.max_norm, worst_ref.max_abs, worst_ref.max_norm);
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, KQuantGemm, ::testing::Values(Isa::scalar, Isa::avx2, Isa::avx512),
                         [](const auto& info) { return std::string(kernels::isa_name(info.param)); });

}  // namespace
}  // namespace moxie
