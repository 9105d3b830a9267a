// The threaded matmul driver: for every weight type with a kernel at run time (discovered, not
// listed: quantized families join as they land), 1..4 threads give bit-identical results, and
// the result matches double-precision dots of the dequantized weights and of the activations
// as the kernel table packed them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "moxie/core/error.h"
#include "moxie/core/tensor.h"
#include "moxie/core/thread_pool.h"
#include "moxie/kernels/api.h"
#include "moxie/kernels/matmul.h"
#include "moxie/quant/quant.h"

namespace {

using moxie::DType;
using moxie::TensorView;
using moxie::ThreadPool;
namespace kernels = moxie::kernels;
namespace quant = moxie::quant;

// Normalised error (|got - exact| / sum |w_i x_i|) allowed against the double oracle. When the
// activation type cannot be decoded, the oracle uses the F32 activations and the activation
// quantization error (8-bit: up to 1/254 of each term) is allowed.
constexpr double kTolAsSeen = 1e-4;
constexpr double kTolRawActivations = 2e-2;
// Q8_1 blocks also carry s = d * sum(qs) as an F16, which kernels use for the weight's min
// term; the decoded activations do not show that rounding (up to 2^-11 of the min term).
constexpr double kTolAsSeenQ8_1 = 1e-3;

double tolerance_as_seen(DType weight_type) {
  return kernels::active().weights[uint32_t(weight_type)].act_type == DType::Q8_1 ? kTolAsSeenQ8_1 : kTolAsSeen;
}

// Weight types whose kernel exists in the active table and that can be built from floats.
std::vector<DType> runnable_weight_types() {
  std::vector<DType> types;
  for (uint32_t id = 0; id < moxie::kDTypeSlots; ++id) {
    if (!moxie::dtype_info(id)) continue;
    const DType t = DType(id);
    const quant::QuantFns& q = quant::quant_fns(t);
    if (kernels::active().weights[id].gemm && q.quantize && q.dequantize) types.push_back(t);
  }
  return types;
}

struct Weights {
  std::vector<char> bytes;
  std::vector<float> dequantized;  // [n_rows][k]
  TensorView view;
};

Weights make_weights(DType t, int64_t n_rows, int64_t k, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> values(static_cast<size_t>(n_rows * k));
  for (float& v : values) v = dist(rng);
  Weights w;
  const int64_t rb = moxie::row_bytes(t, k);
  w.bytes.resize(size_t(rb * n_rows));
  w.dequantized.resize(values.size());
  for (int64_t r = 0; r < n_rows; ++r) {
    quant::quantize_row(t, values.data() + r * k, w.bytes.data() + r * rb, k);
    quant::dequantize_row(t, w.bytes.data() + r * rb, w.dequantized.data() + r * k, k);
  }
  const int64_t ne[2] = {k, n_rows};
  w.view = moxie::make_contiguous_view(t, 2, ne, w.bytes.data());
  return w;
}

// The activations the kernel multiplies with, decoded; false when the act type has no decoder.
bool activations_as_seen(DType weight_type, const std::vector<float>& x, int64_t k, std::vector<double>* seen) {
  const kernels::WeightOps& ops = kernels::active().weights[uint32_t(weight_type)];
  const quant::QuantFns& act = quant::quant_fns(ops.act_type);
  if (!act.dequantize) return false;
  std::vector<char> packed(size_t(moxie::row_bytes(ops.act_type, k)));
  std::vector<float> decoded(static_cast<size_t>(k));
  for (size_t t = 0; t < x.size() / size_t(k); ++t) {
    ops.to_act(x.data() + t * size_t(k), packed.data(), k);
    act.dequantize(packed.data(), decoded.data(), k);
    seen->insert(seen->end(), decoded.begin(), decoded.end());
  }
  return true;
}

double max_error_vs_double(const Weights& w, const std::vector<double>& x, const std::vector<float>& y,
                           int64_t n_rows, int64_t n_tok, int64_t k) {
  double worst = 0;
  for (int64_t t = 0; t < n_tok; ++t) {
    for (int64_t r = 0; r < n_rows; ++r) {
      double exact = 0, scale = 1e-30;
      for (int64_t i = 0; i < k; ++i) {
        const double p = double(w.dequantized[size_t(r * k + i)]) * x[size_t(t * k + i)];
        exact += p;
        scale += std::fabs(p);
      }
      worst = std::max(worst, std::fabs(y[size_t(t * n_rows + r)] - exact) / scale);
    }
  }
  return worst;
}

TEST(Matmul, EveryRunnableTypeIsThreadInvariantAndMatchesDouble) {
  const std::vector<DType> types = runnable_weight_types();
  ASSERT_FALSE(types.empty());
  const int64_t k = 768, n_rows = 100;  // k: a multiple of every block size; rows: ragged chunks
  std::mt19937 rng(2024);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  ThreadPool pools[] = {ThreadPool(1), ThreadPool(2), ThreadPool(3), ThreadPool(4)};
  kernels::MatmulScratch scratch;
  for (DType t : types) {
    const Weights w = make_weights(t, n_rows, k, rng);
    double worst = 0;
    bool raw = false;
    for (int64_t n_tok : {1, 3, 8, 70}) {  // 70: more than one token tile and token groups
      SCOPED_TRACE(testing::Message() << moxie::dtype_name(t) << " n_tok=" << n_tok);
      std::vector<float> x(static_cast<size_t>(n_tok * k));
      for (float& v : x) v = dist(rng);
      std::vector<float> y1(static_cast<size_t>(n_tok * n_rows));
      kernels::matmul(kernels::active(), w.view, x.data(), n_tok, y1.data(), pools[0], &scratch);
      for (ThreadPool& pool : pools) {
        std::vector<float> y(y1.size(), NAN);
        kernels::matmul(kernels::active(), w.view, x.data(), n_tok, y.data(), pool, &scratch);
        EXPECT_EQ(std::memcmp(y.data(), y1.data(), y.size() * sizeof(float)), 0) << pool.size() << " threads";
      }
      std::vector<double> seen;
      raw = !activations_as_seen(t, x, k, &seen);
      if (raw) seen.assign(x.begin(), x.end());
      const double err = max_error_vs_double(w, seen, y1, n_rows, n_tok, k);
      EXPECT_LE(err, raw ? kTolRawActivations : tolerance_as_seen(t));
      worst = std::max(worst, err);
    }
    std::printf("[%s %s] max normalised error vs double%s: %.3g\n", kernels::isa_name(kernels::active().isa),
                std::string(moxie::dtype_name(t)).c_str(), raw ? " (F32 activations)" : "", worst);
  }
}

TEST(Matmul, ExpertMatrixViewsOneExpert) {
  const int64_t k = 16, n_rows = 5, n_expert = 3;
  std::vector<float> data(static_cast<size_t>(k * n_rows * n_expert));
  for (size_t i = 0; i < data.size(); ++i) data[i] = float(i % 7) - 3.0f;
  const int64_t ne[3] = {k, n_rows, n_expert};
  const TensorView w = moxie::make_contiguous_view(DType::F32, 3, ne, data.data());
  const TensorView e1 = kernels::expert_matrix(w, 1);
  EXPECT_EQ(e1.n_dims, 2);
  EXPECT_EQ(e1.ne[0], k);
  EXPECT_EQ(e1.ne[1], n_rows);
  EXPECT_EQ(e1.ne[2], 1);
  EXPECT_EQ(e1.row(2), data.data() + (1 * n_rows + 2) * k);

  // Multiplying through the view equals multiplying a standalone copy of expert 1.
  const std::vector<float> copy(data.begin() + n_rows * k, data.begin() + 2 * n_rows * k);
  const int64_t ne2[2] = {k, n_rows};
  const TensorView standalone = moxie::make_contiguous_view(DType::F32, 2, ne2, copy.data());
  std::vector<float> x(size_t(2 * k), 0.5f), y_view(size_t(2 * n_rows)), y_copy(size_t(2 * n_rows));
  ThreadPool pool(2);
  kernels::matmul(kernels::active(), e1, x.data(), 2, y_view.data(), pool, nullptr);
  kernels::matmul(kernels::active(), standalone, x.data(), 2, y_copy.data(), pool, nullptr);
  EXPECT_EQ(y_view, y_copy);

  EXPECT_THROW(kernels::expert_matrix(w, 3), moxie::Error);
  EXPECT_THROW(kernels::expert_matrix(w, -1), moxie::Error);
  EXPECT_THROW(kernels::expert_matrix(e1, 0), moxie::Error);  // not 3-D
}

TEST(Matmul, RejectsBadShapesAndTypesWithClearErrors) {
  ThreadPool pool(1);
  std::vector<float> data(64 * 4, 1.0f), x(64 * 2, 1.0f), y(64);
  const int64_t ne3[3] = {16, 2, 2};
  const TensorView stacked = moxie::make_contiguous_view(DType::F32, 3, ne3, data.data());
  try {
    kernels::matmul(kernels::active(), stacked, x.data(), 1, y.data(), pool, nullptr);
    ADD_FAILURE() << "a 3-D weight was accepted";
  } catch (const moxie::Error& e) {
    EXPECT_NE(std::string(e.what()).find("2-D"), std::string::npos) << e.what();
  }

  // A type the tables have no kernel for (I32 is never a weight type).
  ASSERT_EQ(kernels::active().weights[uint32_t(DType::I32)].gemm, nullptr);
  const int64_t ne2[2] = {16, 2};
  const TensorView ints = moxie::make_contiguous_view(DType::I32, 2, ne2, data.data());
  try {
    kernels::matmul(kernels::active(), ints, x.data(), 1, y.data(), pool, nullptr);
    ADD_FAILURE() << "an I32 weight was accepted";
  } catch (const moxie::Error& e) {
    EXPECT_NE(std::string(e.what()).find("i32"), std::string::npos) << e.what();
  }

  // Activations packed with a different depth than the weight rows.
  kernels::MatmulScratch scratch;
  const TensorView f32 = moxie::make_contiguous_view(DType::F32, 2, ne2, data.data());
  const kernels::PackedActivations p =
      kernels::pack_activations(kernels::active(), DType::F32, x.data(), 1, 32, pool, scratch);
  EXPECT_THROW(kernels::matmul_packed(kernels::active(), f32, p, y.data(), 2, pool), moxie::Error);
  EXPECT_THROW(kernels::pack_activations(kernels::active(), DType::F32, x.data(), -1, 16, pool, scratch),
               moxie::Error);

  // k not a multiple of a block size, for every runnable blocked type.
  for (DType t : runnable_weight_types()) {
    if (moxie::dtype_info(t).block_size == 1) continue;
    EXPECT_THROW(kernels::pack_activations(kernels::active(), t, x.data(), 1, 33, pool, scratch), moxie::Error)
        << moxie::dtype_name(t);
  }
}

TEST(Matmul, ScratchIsReusedWithoutReallocating) {
  kernels::MatmulScratch scratch;
  ThreadPool pool(2);
  const int64_t k = 256, n_rows = 64;
  std::vector<float> w(size_t(k * n_rows), 0.25f), x(size_t(k * 16), 1.0f), y(size_t(n_rows * 16));
  const int64_t ne[2] = {k, n_rows};
  const TensorView view = moxie::make_contiguous_view(DType::F32, 2, ne, w.data());
  kernels::matmul(kernels::active(), view, x.data(), 16, y.data(), pool, &scratch);
  const size_t capacity = scratch.capacity();
  const void* first = scratch.reserve(1);
  for (int64_t n_tok : {1, 8, 16}) {
    kernels::matmul(kernels::active(), view, x.data(), n_tok, y.data(), pool, &scratch);
    EXPECT_EQ(scratch.capacity(), capacity);
    EXPECT_EQ(scratch.reserve(1), first);
    EXPECT_EQ(y[0], 0.25f * float(k));
  }
}

}  // namespace
