// Matmul throughput on Qwen3-30B-A3B's shapes for every weight type with a kernel at run time,
// plus a memory-bandwidth probe to compare against (bench/kernels/matmul_table.py prints both
// as one table).
//
//   bandwidth/read/threads:T              streaming sum of a 1 GiB buffer -> counter GB (per second)
//   matmul/<type>/<shape>/tok:N/threads:T  y[N][rows] = x[N][k] W^T  -> GB of weights and GFLOP per second
//
// Each benchmark rotates over enough copies of its weight matrix to fill 256 MiB (8x the host's
// 32 MiB L3), so every iteration reads weights from DRAM: matvec GB/s is DRAM bandwidth.
// MOXIE_BENCH_ROTATION_MIB=0 keeps one copy (cache-resident when it fits), which is how ggml's
// test-backend-ops perf measures, for side-by-side runs.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "moxie/core/cpu_features.h"
#include "moxie/core/tensor.h"
#include "moxie/core/thread_pool.h"
#include "moxie/kernels/api.h"
#include "moxie/kernels/matmul.h"
#include "moxie/quant/quant.h"
#include "moxie/quant/repack.h"

namespace {

using moxie::DType;

struct Shape {
  const char* name;
  int64_t k;       // input features (row length)
  int64_t n_rows;  // output features
};
// Qwen3-30B-A3B: hidden 2048, expert ffn 768, 32 query heads x 128.
constexpr Shape kShapes[] = {
    {"expert_gate_up_2048x768", 2048, 768},
    {"expert_down_768x2048", 768, 2048},
    {"attn_q_2048x4096", 2048, 4096},
    {"dense_4096x4096", 4096, 4096},
};
constexpr int64_t kBatches[] = {1, 8, 64, 512};
constexpr int kThreadCounts[] = {1, 2};
constexpr size_t kDefaultRotationMib = 256;
constexpr size_t kBandwidthBytes = size_t(1) << 30;
constexpr size_t kAlign = 4096;

struct AlignedFree {
  void operator()(char* p) const { ::operator delete(p, std::align_val_t(kAlign)); }
};
using AlignedBytes = std::unique_ptr<char[], AlignedFree>;

AlignedBytes allocate(size_t bytes) {
  return AlignedBytes(static_cast<char*>(::operator new(bytes, std::align_val_t(kAlign))));
}

// ---- bandwidth probe ----

// Sums 64-bit words with four independent accumulators of the widest vectors the CPU has, so
// the loop is bound by loads alone (this file gets no -m flags: target attributes instead).
// n is a multiple of 256 bytes and p 64-byte aligned.
__attribute__((target("avx512f"))) uint64_t sum_avx512(const char* p, size_t n) {
  __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
  for (size_t i = 0; i < n; i += 256) {
    a = _mm512_add_epi64(a, _mm512_load_si512(p + i));
    b = _mm512_add_epi64(b, _mm512_load_si512(p + i + 64));
    c = _mm512_add_epi64(c, _mm512_load_si512(p + i + 128));
    d = _mm512_add_epi64(d, _mm512_load_si512(p + i + 192));
  }
  return uint64_t(_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d))));
}

__attribute__((target("avx2"))) uint64_t sum_avx2(const char* p, size_t n) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  for (size_t i = 0; i < n; i += 128) {
    a = _mm256_add_epi64(a, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    b = _mm256_add_epi64(b, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    c = _mm256_add_epi64(c, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    d = _mm256_add_epi64(d, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d)));
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

uint64_t sum_plain(const char* p, size_t n) {
  const uint64_t* w = reinterpret_cast<const uint64_t*>(p);
  uint64_t a = 0, b = 0;
  for (size_t i = 0; i < n / 8; i += 2) {
    a += w[i];
    b += w[i + 1];
  }
  return a + b;
}

uint64_t sum_bytes(const char* p, size_t n) {
  const moxie::CpuFeatures& cpu = moxie::cpu_features();
  if (cpu.avx512) return sum_avx512(p, n);
  if (cpu.avx2) return sum_avx2(p, n);
  return sum_plain(p, n);
}

void bench_bandwidth(benchmark::State& state, int n_threads) {
  AlignedBytes buf = allocate(kBandwidthBytes);
  std::memset(buf.get(), 1, kBandwidthBytes);  // touch every page before timing
  moxie::ThreadPool pool(n_threads);
  std::vector<uint64_t> partial(size_t(n_threads) * 8);  // one cache line per thread
  constexpr int64_t kPiece = 256;                         // bytes per sum_bytes step
  for (auto _ : state) {
    pool.run([&](int ith, int nth) {
      int64_t begin, end;
      moxie::ThreadPool::split(int64_t(kBandwidthBytes) / kPiece, ith, nth, &begin, &end);
      partial[size_t(ith) * 8] = sum_bytes(buf.get() + begin * kPiece, size_t(end - begin) * kPiece);
    });
    benchmark::DoNotOptimize(partial.data());
  }
  state.counters["GB"] = benchmark::Counter(double(kBandwidthBytes) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

// ---- matmul ----

size_t rotation_bytes() {
  const char* env = std::getenv("MOXIE_BENCH_ROTATION_MIB");
  return (env ? size_t(std::strtoull(env, nullptr, 10)) : kDefaultRotationMib) << 20;
}

// The GGUF type a benchmarked type is made from: itself, or the type it is repacked from.
DType source_type(DType type) {
  for (DType t : {DType::Q4_K, DType::Q8_0}) {
    if (moxie::quant::repacked_type(t) == type) return t;
  }
  return type;
}

// Copies of one quantized matrix filling rotation_bytes(). Only the latest set is kept alive.
struct WeightSet {
  DType type = DType::F32;
  const Shape* shape = nullptr;
  AlignedBytes bytes;
  std::vector<moxie::TensorView> copies;
  int64_t matrix_bytes = 0;
};

WeightSet& weights_for(DType type, const Shape& shape) {
  static WeightSet set;
  if (set.shape == &shape && set.type == type) return set;
  set = WeightSet();
  set.type = type;
  set.shape = &shape;
  set.matrix_bytes = moxie::row_bytes(type, shape.k) * shape.n_rows;
  const size_t stride = (size_t(set.matrix_bytes) + kAlign - 1) / kAlign * kAlign;
  const size_t n_copies = std::max<size_t>(1, (rotation_bytes() + stride - 1) / stride);
  set.bytes = allocate(stride * n_copies);
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, 0.02f);  // roughly a trained layer's spread
  std::vector<float> row(size_t(shape.k));
  const DType source = source_type(type);
  const int64_t rb = moxie::row_bytes(source, shape.k);
  std::vector<char> rows(size_t(rb * shape.n_rows));
  for (int64_t r = 0; r < shape.n_rows; ++r) {
    for (float& v : row) v = dist(rng);
    moxie::quant::quantize_row(source, row.data(), rows.data() + r * rb, shape.k);
  }
  if (source == type) {
    std::memcpy(set.bytes.get(), rows.data(), rows.size());
  } else {
    moxie::quant::repack_rows(source, rows.data(), rb, shape.n_rows, shape.k, set.bytes.get());
  }
  const int64_t ne[2] = {shape.k, shape.n_rows};
  for (size_t c = 0; c < n_copies; ++c) {
    char* dst = set.bytes.get() + c * stride;
    if (c > 0) std::memcpy(dst, set.bytes.get(), size_t(set.matrix_bytes));
    set.copies.push_back(moxie::make_contiguous_view(type, 2, ne, dst));
  }
  return set;
}

void bench_matmul(benchmark::State& state, DType type, const Shape* shape, int64_t n_tok, int n_threads) {
  const WeightSet& w = weights_for(type, *shape);
  const moxie::kernels::KernelTable& kt = moxie::kernels::active();
  moxie::ThreadPool pool(n_threads);
  moxie::kernels::MatmulScratch scratch;
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(size_t(n_tok * shape->k)), y(size_t(n_tok * shape->n_rows));
  for (float& v : x) v = dist(rng);
  size_t copy = 0;
  for (auto _ : state) {
    moxie::kernels::matmul(kt, w.copies[copy], x.data(), n_tok, y.data(), pool, &scratch);
    copy = copy + 1 == w.copies.size() ? 0 : copy + 1;
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GB"] =
      benchmark::Counter(double(w.matrix_bytes) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP"] = benchmark::Counter(2.0 * double(shape->k) * double(shape->n_rows) * double(n_tok) / 1e9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(moxie::kernels::isa_name(kt.isa));
}

// Types that have a kernel and can be quantized from floats (discovered, not listed).
std::vector<DType> runnable_types() {
  std::vector<DType> types;
  for (uint32_t id = 0; id < moxie::kDTypeSlots; ++id) {
    if (!moxie::dtype_info(id) || !moxie::kernels::active().weights[id].gemm) continue;
    if (!moxie::quant::quant_fns(source_type(DType(id))).quantize) continue;
    types.push_back(DType(id));
  }
  return types;
}

void register_all() {
  for (int t : kThreadCounts) {
    benchmark::RegisterBenchmark(("bandwidth/read/threads:" + std::to_string(t)).c_str(), bench_bandwidth, t)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  for (DType type : runnable_types()) {
    for (const Shape& shape : kShapes) {
      if (shape.k % moxie::dtype_info(type).block_size != 0) continue;
      for (int64_t n_tok : kBatches) {
        for (int t : kThreadCounts) {
          const std::string name = "matmul/" + std::string(moxie::dtype_name(type)) + "/" + shape.name +
                                   "/tok:" + std::to_string(n_tok) + "/threads:" + std::to_string(t);
          benchmark::RegisterBenchmark(name.c_str(), bench_matmul, type, &shape, n_tok, t)
              ->UseRealTime()
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
