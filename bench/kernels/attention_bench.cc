// Decode attention (KernelTable::attention) over a KV cache laid out as the model's: per
// layer [n_ctx][n_kv * 128] floats for K and for V, Qwen3-30B-A3B's heads (32 query heads,
// 4 kv heads of 128, group 8). One iteration is one decoded token's attention over 4
// layers x 4 kv heads, the work `moxie bench -d N` times. The attention benchmark rotates
// over 16 stored layers, so at 4096 positions the cached rows come from DRAM as in a real
// decode, where the weights read between two tokens flush the 32 MiB L3 (16 layers: 69 MiB
// of int8 rows, 128 MiB of F16, 256 MiB of F32; 4 layers of int8 rows would stay in L3).
//
// type:0 caches F32 rows, type:1 F16 rows (the command line's default, `--cache-type f16`),
// type:2 int8 tiles with one scale per position and head (`--cache-type q8`, core/kv_int8.h).
//
// threads:2 splits each layer's kv heads between two threads, as the model's decode does.
//
//   attention/<isa>/pos:N/layout:L/type:T/threads:N   -> counter kv_GB (K and V bytes read per second)
#include <benchmark/benchmark.h>

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "moxie/core/half.h"
#include "moxie/core/thread_pool.h"
#include "moxie/kernels/api.h"
#include "moxie/core/kv_int8.h"

namespace {

using moxie::kernels::AttentionArgs;
using moxie::kernels::Isa;
using moxie::kernels::KernelTable;

constexpr int64_t kHeads = 32, kKvHeads = 4, kHeadDim = 128, kGroup = kHeads / kKvHeads;
constexpr int64_t kLayers = 4;         // per iteration
constexpr int64_t kStoredLayers = 16;  // rotated over by attention()
constexpr int64_t kRowFloats = kKvHeads * kHeadDim;  // one token's k (or v) row of one layer
constexpr int64_t kI8RowBytes = moxie::kv_int8_row_bytes(kKvHeads, kHeadDim);
constexpr int64_t kI8PieceBytes = moxie::kv_int8_piece_bytes(kHeadDim);

// As the KV cache allocates: 2 MiB aligned, transparent huge pages asked for (unless
// MOXIE_BENCH_SMALL_PAGES is set, to measure what they buy).
struct HugeBuffer {
  explicit HugeBuffer(size_t floats) : n(floats) {
    const size_t bytes = (floats * sizeof(float) + kHuge - 1) / kHuge * kHuge;
    p = static_cast<float*>(std::aligned_alloc(kHuge, bytes));
    if (!std::getenv("MOXIE_BENCH_SMALL_PAGES")) madvise(p, bytes, MADV_HUGEPAGE);
  }
  ~HugeBuffer() {
    std::free(p);
    std::free(i8);
  }
  // Rewrites the first n elements as F16 (in place: each half is written below the float it
  // came from), for the F16 rows.
  void to_f16() {
    uint16_t* h = reinterpret_cast<uint16_t*>(p);
    for (size_t i = 0; i < n; ++i) h[i] = moxie::fp32_to_fp16(p[i]);
  }
  // The rows as the int8 cache holds them (core/kv_int8.h): per layer of n_pos positions, a
  // head-major region of tiles of 16 positions, into a buffer of its own (2 MiB aligned,
  // huge pages as above).
  void to_i8(int64_t n_layers, int64_t n_pos, moxie::KvRole role) {
    const size_t bytes = (size_t(n_layers * n_pos * kI8RowBytes) + kHuge - 1) / kHuge * kHuge;
    i8 = static_cast<char*>(std::aligned_alloc(kHuge, bytes));
    if (!std::getenv("MOXIE_BENCH_SMALL_PAGES")) madvise(i8, bytes, MADV_HUGEPAGE);
    std::vector<char> row(static_cast<size_t>(kI8RowBytes));
    for (int64_t s = 0; s < n_layers * n_pos; ++s) {
      moxie::quantize_kv_int8_row(p + s * kRowFloats, kKvHeads, kHeadDim, row.data());
      char* region = i8 + s / n_pos * n_pos * kI8RowBytes;
      char* piece0 = region + s % n_pos / moxie::kKvInt8Tile * kI8PieceBytes;
      moxie::put_kv_int8_row(role, row.data(), kKvHeads, kHeadDim, piece0, i8_head_stride(n_pos),
                             s % moxie::kKvInt8Tile);
    }
  }
  static int64_t i8_head_stride(int64_t n_pos) { return n_pos / moxie::kKvInt8Tile * kI8PieceBytes; }
  char* i8 = nullptr;
  static constexpr size_t kHuge = size_t(2) << 20;
  float* p;
  size_t n;
};

void attention(benchmark::State& state, const KernelTable* kt) {
  const int64_t n_pos = state.range(0);
  // layout 0: the model's, token rows of all kv heads, one call per layer (n_kv = 4);
  // 1: each kv head's rows contiguous, one call per head; 2: the model's rows, one call per
  // kv head (each reads a 512-byte slice of every 2 KiB row).
  const int64_t layout = state.range(1);
  const int64_t type = state.range(2);
  const bool f16 = type == 1, i8 = type == 2;
  const size_t elem_bytes = f16 ? 2 : 4;  // I8 rows: kI8RowBytes per row instead
  const int64_t n_calls = layout == 0 ? 1 : kKvHeads, n_kv = layout == 0 ? kKvHeads : 1;
  const size_t head_offset = layout == 1 ? size_t(n_pos * kHeadDim) : size_t(kHeadDim);  // per kv head
  const size_t layer_floats = size_t(n_pos * kRowFloats);
  HugeBuffer k(kStoredLayers * layer_floats), v(kStoredLayers * layer_floats);
  std::vector<float> q(size_t(kHeads * kHeadDim)), o(size_t(kHeads * kHeadDim));
  const int64_t n_threads = state.range(3);
  moxie::ThreadPool pool{int(n_threads)};
  const int64_t scratch_per_thread = moxie::kernels::attention_scratch_floats(kHeads, kHeadDim);
  std::vector<float> scratch(size_t(n_threads * scratch_per_thread));
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (size_t i = 0; i < k.n; ++i) k.p[i] = normal(rng);
  for (size_t i = 0; i < v.n; ++i) v.p[i] = normal(rng);
  for (float& x : q) x = normal(rng);
  if (f16) {
    k.to_f16();
    v.to_f16();
  }
  if (i8) {
    k.to_i8(kStoredLayers, n_pos, moxie::KvRole::key);
    v.to_i8(kStoredLayers, n_pos, moxie::KvRole::value);
  }
  const char* k_base = reinterpret_cast<const char*>(k.p);
  const char* v_base = reinterpret_cast<const char*>(v.p);
  // Kernel arguments for kv heads [g0, g0 + n_g) of stored layer il (layouts 0 and 2).
  const auto args_for = [&](int64_t il, int64_t g0, int64_t n_g, float* scratch_of_call) {
    AttentionArgs a;
    a.n_kv = n_g;
    a.n_q = kGroup;
    a.n_pos = n_pos;
    a.dk = a.dv = kHeadDim;
    a.q = q.data() + g0 * kGroup * kHeadDim;
    a.q_stride = kHeadDim;
    a.kv_type = f16 ? moxie::DType::F16 : moxie::DType::F32;
    a.k = k_base + (size_t(il) * layer_floats + size_t(g0) * head_offset) * elem_bytes;
    a.k_stride = layout == 1 ? kHeadDim : kRowFloats;
    a.v = v_base + (size_t(il) * layer_floats + size_t(g0) * head_offset) * elem_bytes;
    a.v_stride = a.k_stride;
    if (i8) {  // the model's head-major tiles (n_pos a multiple of 16)
      a.kv_type = moxie::DType::I8;
      const int64_t head_stride = HugeBuffer::i8_head_stride(n_pos);
      a.k = k.i8 + il * n_pos * kI8RowBytes + g0 * head_stride;
      a.v = v.i8 + il * n_pos * kI8RowBytes + g0 * head_stride;
      a.k_stride = a.v_stride = kI8PieceBytes;
      a.k_head_stride = a.v_head_stride = head_stride;
    }
    a.scale = 0.088f;
    a.o = o.data() + g0 * kGroup * kHeadDim;
    a.o_stride = kHeadDim;
    a.scratch = scratch_of_call;
    return a;
  };
  int64_t next_layer = 0;
  for (auto _ : state) {
    for (int64_t l = 0; l < kLayers; ++l) {
      const int64_t il = next_layer++ % kStoredLayers;
      if (n_threads > 1) {  // as the model's decode: each thread takes its share of kv heads
        pool.run([&](int ith, int nth) {
          int64_t g0, g1;
          moxie::ThreadPool::split(kKvHeads, ith, nth, &g0, &g1);
          if (g1 > g0) kt->attention(args_for(il, g0, g1 - g0, scratch.data() + ith * scratch_per_thread));
        });
        continue;
      }
      for (int64_t g = 0; g < n_calls; ++g) kt->attention(args_for(il, g * n_kv, n_kv, scratch.data()));
    }
    benchmark::DoNotOptimize(o.data());
  }
  const double bytes = i8 ? 2.0 * double(kLayers * n_pos * kI8RowBytes)
                          : 2.0 * double(kLayers * layer_floats) * double(elem_bytes);
  state.counters["kv_GB"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["ms_per_token"] =
      benchmark::Counter(1e3, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// The attention before the fused kernel, for comparison in the same run: per kv head, the
// group's scores by the float gemm, softmax per head, then one axpy per (position, head).
void attention_unfused(benchmark::State& state, const KernelTable* kt) {
  const int64_t n_pos = state.range(0);
  const size_t layer_floats = size_t(n_pos * kRowFloats);
  HugeBuffer k(kLayers * layer_floats), v(kLayers * layer_floats);
  std::vector<float> q(size_t(kHeads * kHeadDim)), o(size_t(kHeads * kHeadDim)), probs(size_t(kGroup * n_pos));
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (size_t i = 0; i < k.n; ++i) k.p[i] = normal(rng);
  for (size_t i = 0; i < v.n; ++i) v.p[i] = normal(rng);
  for (float& x : q) x = normal(rng);
  const auto gemm = kt->weights[uint32_t(moxie::DType::F32)].gemm;
  for (auto _ : state) {
    for (int64_t il = 0; il < kLayers; ++il) {
      for (int64_t g = 0; g < kKvHeads; ++g) {
        const float* kr = k.p + size_t(il) * layer_floats + g * kHeadDim;
        const float* vr = v.p + size_t(il) * layer_floats + g * kHeadDim;
        const float* qg = q.data() + g * kGroup * kHeadDim;
        float* og = o.data() + g * kGroup * kHeadDim;
        gemm(kHeadDim, kr, kRowFloats * 4, n_pos, qg, kHeadDim * 4, kGroup, probs.data(), n_pos);
        for (int64_t h = 0; h < kGroup; ++h) {
          for (int64_t s = 0; s < n_pos; ++s) probs[size_t(h * n_pos + s)] *= 0.088f;
          kt->softmax(probs.data() + h * n_pos, n_pos);
        }
        std::fill(og, og + kGroup * kHeadDim, 0.0f);
        for (int64_t s = 0; s < n_pos; ++s) {
          for (int64_t h = 0; h < kGroup; ++h) {
            kt->axpy(probs[size_t(h * n_pos + s)], vr + s * kRowFloats, og + h * kHeadDim, kHeadDim);
          }
        }
      }
    }
    benchmark::DoNotOptimize(o.data());
  }
  state.counters["kv_GB"] = benchmark::Counter(2.0 * double(kLayers * layer_floats) * sizeof(float) * 1e-9,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

int register_all() {
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
    const KernelTable* kt = moxie::kernels::table_for(isa);
    if (!kt) continue;
    const std::string name = std::string("attention/") + moxie::kernels::isa_name(isa);
    auto* b = benchmark::RegisterBenchmark(name.c_str(), attention, kt)
                  ->ArgNames({"pos", "layout", "type", "threads"})
                  ->Unit(benchmark::kMillisecond);
    if (isa == Isa::scalar) {
      b->Args({1024, 0, 0, 1});
      continue;
    }
    for (int64_t type : {0, 1, 2}) {
      b->Args({256, 0, type, 1})->Args({1024, 0, type, 1})->Args({4096, 0, type, 1})->Args({4096, 0, type, 2});
    }
    b->Args({4096, 1, 0, 1})->Args({4096, 2, 0, 1});
    const std::string unfused = std::string("attention_unfused/") + moxie::kernels::isa_name(isa);
    benchmark::RegisterBenchmark(unfused.c_str(), attention_unfused, kt)
        ->ArgName("pos")
        ->Unit(benchmark::kMillisecond)
        ->Arg(256)
        ->Arg(1024)
        ->Arg(4096);
  }
  return 0;
}

const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
