#include "moxie/kernels/matmul.h"

#include <algorithm>
#include <atomic>
#include <new>
#include <string>

#include "moxie/core/error.h"
#include "moxie/core/thread_pool.h"
#include "moxie/kernels/api.h"

namespace moxie::kernels {
namespace {

constexpr size_t kScratchAlign = 64;  // a cache line: packed rows start on one
// A row chunk's weights stay in L2 while every token tile of its work item passes over them,
// so weights come from DRAM once per call.
constexpr int64_t kChunkWeightBytes = 256 << 10;
// A token tile's packed activations stay in L2 while a row chunk's tiles sweep them.
constexpr int64_t kTileActBytes = 256 << 10;
constexpr int64_t kRowAlign = 16;        // chunk rows: a multiple of every kernel's row tile
constexpr int64_t kTokAlign = 4;         // tile tokens: a multiple of every kernel's token tile
constexpr int64_t kMaxTileTokens = 64;
constexpr int64_t kItemsPerThread = 4;   // work items per thread, for load balance
// Below these sizes waking the workers costs more than the work: run on the caller.
constexpr int64_t kInlineMacs = 32 << 10;
constexpr int64_t kInlineConvertElems = 64 << 10;

int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }
int64_t ceil_div(int64_t n, int64_t m) { return (n + m - 1) / m; }

std::string type_on_isa(const KernelTable& kt, DType t) {
  return "weight type " + std::string(dtype_name(t)) + " on " + isa_name(kt.isa);
}

const WeightOps& ops_for(const KernelTable& kt, DType t, const char* what) {
  const WeightOps& ops = kt.weights[uint32_t(t)];
  if (!ops.gemm || !ops.to_act) throw Error(std::string(what) + ": no kernel for " + type_on_isa(kt, t));
  return ops;
}

// How one call's (rows x tokens) output is cut into work items: item i covers row chunk
// i / n_tok_groups and token group i % n_tok_groups, walked in tiles of tile_tokens.
struct Plan {
  int64_t chunk_rows, n_row_chunks;
  int64_t group_tokens, n_tok_groups;
  int64_t tile_tokens;
};

Plan make_plan(int64_t n_rows, int64_t w_row_bytes, int64_t n_tok, int64_t act_row_bytes, int nth) {
  Plan p;
  const int64_t want_items = kItemsPerThread * nth;
  const int64_t l2_rows = std::max(kRowAlign, kChunkWeightBytes / std::max<int64_t>(w_row_bytes, 1) / kRowAlign * kRowAlign);
  const int64_t balanced_rows = round_up(ceil_div(n_rows, want_items), kRowAlign);
  p.chunk_rows = std::min(l2_rows, balanced_rows);
  p.n_row_chunks = ceil_div(n_rows, p.chunk_rows);
  const int64_t fit_tokens = kTileActBytes / std::max<int64_t>(act_row_bytes, 1) / kTokAlign * kTokAlign;
  p.tile_tokens = std::clamp(fit_tokens, kTokAlign, kMaxTileTokens);
  const int64_t n_tiles = ceil_div(n_tok, p.tile_tokens);
  // Too few row chunks to keep every thread busy: split the tokens as well.
  p.n_tok_groups = p.n_row_chunks >= want_items ? 1 : std::min(n_tiles, ceil_div(want_items, p.n_row_chunks));
  p.group_tokens = ceil_div(n_tiles, p.n_tok_groups) * p.tile_tokens;
  p.n_tok_groups = ceil_div(n_tok, p.group_tokens);
  return p;
}

void check_weight_shape(const TensorView& w, const PackedActivations& x, int64_t y_stride, const WeightOps& ops,
                        const KernelTable& kt) {
  const std::string where = "matmul (" + type_on_isa(kt, w.type) + ")";
  if (w.ne[2] != 1 || w.ne[3] != 1) {
    throw Error(where + ": weight must be a 2-D matrix, got ne = [" + std::to_string(w.ne[0]) + ", " +
                std::to_string(w.ne[1]) + ", " + std::to_string(w.ne[2]) + ", " + std::to_string(w.ne[3]) +
                "] (use expert_matrix for a stacked expert tensor)");
  }
  if (w.ne[0] != x.k) {
    throw Error(where + ": weight rows hold " + std::to_string(w.ne[0]) + " elements but activations hold " +
                std::to_string(x.k));
  }
  if (w.ne[0] % dtype_info(w.type).block_size != 0) {
    throw Error(where + ": weight rows of " + std::to_string(w.ne[0]) + " elements are not whole blocks of " +
                std::to_string(dtype_info(w.type).block_size));
  }
  if (x.type != ops.act_type) {
    throw Error(where + ": activations are packed as " + std::string(dtype_name(x.type)) + ", the kernel wants " +
                std::string(dtype_name(ops.act_type)));
  }
  if (w.nb[1] < row_bytes(w.type, w.ne[0])) {
    throw Error(where + ": weight row stride " + std::to_string(w.nb[1]) + " bytes is shorter than a row (" +
                std::to_string(row_bytes(w.type, w.ne[0])) + " bytes)");
  }
  if (y_stride < w.ne[1]) {
    throw Error(where + ": output stride " + std::to_string(y_stride) + " is below the row count " +
                std::to_string(w.ne[1]));
  }
}

}  // namespace

MatmulScratch::~MatmulScratch() {
  if (data_) ::operator delete(data_, std::align_val_t(kScratchAlign));
}

void* MatmulScratch::reserve(size_t bytes) {
  if (bytes <= capacity_ && data_) return data_;
  if (data_) ::operator delete(data_, std::align_val_t(kScratchAlign));
  data_ = nullptr;
  capacity_ = 0;
  const size_t grown = std::max(bytes, kScratchAlign);
  data_ = ::operator new(grown, std::align_val_t(kScratchAlign));
  capacity_ = grown;
  return data_;
}

PackedActivations pack_activations(const KernelTable& kt, DType weight_type, const float* x, int64_t n_tok,
                                   int64_t k, ThreadPool& pool, MatmulScratch& scratch) {
  const WeightOps& ops = ops_for(kt, weight_type, "matmul");
  if (n_tok < 0 || k <= 0) {
    throw Error("matmul: bad activation shape n_tok = " + std::to_string(n_tok) + ", k = " + std::to_string(k));
  }
  for (DType t : {weight_type, ops.act_type}) {
    if (k % dtype_info(t).block_size != 0) {
      throw Error("matmul (" + type_on_isa(kt, weight_type) + "): k = " + std::to_string(k) +
                  " is not a multiple of " + std::string(dtype_name(t)) + "'s block size " +
                  std::to_string(dtype_info(t).block_size));
    }
  }
  PackedActivations packed;
  packed.type = ops.act_type;
  packed.k = k;
  packed.n_tok = n_tok;
  packed.row_stride = round_up(row_bytes(ops.act_type, k), int64_t(kScratchAlign));
  char* out = static_cast<char*>(scratch.reserve(size_t(packed.row_stride * std::max<int64_t>(n_tok, 1))));
  packed.data = out;
  const auto convert = [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) ops.to_act(x + t * k, out + t * packed.row_stride, k);
  };
  if (pool.size() == 1 || n_tok < 2 || n_tok * k < kInlineConvertElems) {
    convert(0, n_tok);
  } else {
    pool.run([&](int ith, int nth) {
      int64_t t0, t1;
      ThreadPool::split(n_tok, ith, nth, &t0, &t1);
      convert(t0, t1);
    });
  }
  return packed;
}

void matmul_packed(const KernelTable& kt, const TensorView& w, const PackedActivations& x, float* y,
                   int64_t y_stride, ThreadPool& pool) {
  const WeightOps& ops = ops_for(kt, w.type, "matmul");
  check_weight_shape(w, x, y_stride, ops, kt);
  const int64_t n_rows = w.ne[1], n_tok = x.n_tok, k = x.k;
  if (n_rows == 0 || n_tok == 0) return;
  const int64_t w_stride = w.nb[1];
  const int nth = pool.size();
  const Plan plan = make_plan(n_rows, row_bytes(w.type, k), n_tok, x.row_stride, nth);
  const char* w_bytes = static_cast<const char*>(w.data);
  const char* x_bytes = static_cast<const char*>(x.data);

  const auto run_item = [&](int64_t item) {
    const int64_t r0 = item / plan.n_tok_groups * plan.chunk_rows;
    const int64_t rows = std::min(plan.chunk_rows, n_rows - r0);
    const int64_t g0 = item % plan.n_tok_groups * plan.group_tokens;
    const int64_t g1 = std::min(g0 + plan.group_tokens, n_tok);
    for (int64_t t0 = g0; t0 < g1; t0 += plan.tile_tokens) {
      const int64_t toks = std::min(plan.tile_tokens, g1 - t0);
      ops.gemm(k, w_bytes + r0 * w_stride, w_stride, rows, x_bytes + t0 * x.row_stride, x.row_stride, toks,
               y + t0 * y_stride + r0, y_stride);
    }
  };
  const int64_t n_items = plan.n_row_chunks * plan.n_tok_groups;
  if (nth == 1 || n_items == 1 || n_rows * k * n_tok < kInlineMacs) {
    for (int64_t item = 0; item < n_items; ++item) run_item(item);
    return;
  }
  // Items are handed out dynamically: a thread slowed by another process takes fewer.
  std::atomic<int64_t> next{0};
  pool.run([&](int, int) {
    for (int64_t item = next.fetch_add(1, std::memory_order_relaxed); item < n_items;
         item = next.fetch_add(1, std::memory_order_relaxed)) {
      run_item(item);
    }
  });
}

void matmul(const KernelTable& kt, const TensorView& w, const float* x, int64_t n_tok, float* y,
            ThreadPool& pool, MatmulScratch* scratch) {
  MatmulScratch local;
  MatmulScratch& s = scratch ? *scratch : local;
  const PackedActivations packed = pack_activations(kt, w.type, x, n_tok, w.ne[0], pool, s);
  matmul_packed(kt, w, packed, y, w.ne[1], pool);
}

TensorView expert_matrix(const TensorView& w, int64_t e) {
  if (w.n_dims != 3 || w.ne[3] != 1) {
    throw Error("expert_matrix: expected a 3-D [n_expert, n_rows, k] tensor, got " + std::to_string(w.n_dims) +
                " dimensions");
  }
  if (e < 0 || e >= w.ne[2]) {
    throw Error("expert_matrix: expert " + std::to_string(e) + " out of range [0, " + std::to_string(w.ne[2]) + ")");
  }
  TensorView m = w;
  m.n_dims = 2;
  m.ne[2] = 1;
  m.nb[2] = w.nb[1] * w.ne[1];
  m.nb[3] = m.nb[2];
  m.data = w.row(0, e);
  return m;
}

}  // namespace moxie::kernels
