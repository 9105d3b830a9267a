#include "moxie/model/layers/moe_experts.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "moxie/core/thread_pool.h"
#include "moxie/kernels/api.h"
#include "moxie/kernels/matmul.h"
#include "moxie/model/forward_pass.h"
#include "moxie/model/layers/moe.h"

namespace moxie {
namespace {

// An item's weight rows stay in L2 (1 MiB here) while all of its tokens pass over them.
constexpr int64_t kChunkWeightBytes = 256 << 10;
// One gemm call's packed activation rows stay in L2 while a row chunk sweeps them.
constexpr int64_t kTileActBytes = 256 << 10;
constexpr int64_t kRowAlign = 16;   // a multiple of every kernel's row tile
constexpr int64_t kTokAlign = 4;    // a multiple of every kernel's token tile
constexpr int64_t kMaxTileTokens = 64;
constexpr int64_t kItemsPerThread = 4;  // for load balance with dynamic pulling
// Below this many multiply-adds in the scatter, waking the workers costs more than it saves.
constexpr int64_t kInlineScatterFloats = 1 << 16;
constexpr int kScratchInts = 3;     // Workspace int slot this file uses (moe.cc uses 0..2)
constexpr int64_t kMaxRouted = 64;  // experts per token this path handles (scatter's stack array)

int64_t ceil_div(int64_t n, int64_t m) { return (n + m - 1) / m; }
int64_t round_up(int64_t n, int64_t m) { return ceil_div(n, m) * m; }

// One work item: rows [r0, r0 + rows) of expert e's matrices over all of e's pairs.
struct Item {
  int32_t e, r0, rows;
};

// Rows per item: L2-sized (weight_row_bytes covers every matrix an item reads per row),
// and small enough that the active experts give every thread several items.
int64_t chunk_rows(int64_t n_rows, int64_t weight_row_bytes, int64_t n_active, int nth) {
  const int64_t l2_rows = std::max(kRowAlign, kChunkWeightBytes / std::max<int64_t>(weight_row_bytes, 1) / kRowAlign * kRowAlign);
  const int64_t chunks_per_expert = std::max<int64_t>(1, ceil_div(kItemsPerThread * nth, n_active));
  int64_t rows = std::min(l2_rows, round_up(ceil_div(n_rows, chunks_per_expert), kRowAlign));
  rows = round_up(ceil_div(n_rows, ceil_div(n_rows, rows)), kRowAlign);  // even chunks
  return std::max<int64_t>(1, std::min(rows, n_rows));
}

void plan_items(const ExpertGroups& g, int64_t n_rows, int64_t rows_per_item, std::vector<Item>& items) {
  items.clear();
  for (int64_t e = 0; e < g.n_expert; ++e) {
    if (g.start[e + 1] == g.start[e]) continue;
    for (int64_t r0 = 0; r0 < n_rows; r0 += rows_per_item) {
      items.push_back({int32_t(e), int32_t(r0), int32_t(std::min(rows_per_item, n_rows - r0))});
    }
  }
}

int64_t count_active(const ExpertGroups& g) {
  int64_t n = 0;
  for (int64_t e = 0; e < g.n_expert; ++e) n += g.start[e + 1] > g.start[e] ? 1 : 0;
  return n;
}

// Runs fn(item index) for every item, pulled dynamically by the pool's threads.
template <class F>
void run_items(ThreadPool& pool, int64_t n_items, F&& fn) {
  if (pool.size() == 1 || n_items <= 1) {
    for (int64_t i = 0; i < n_items; ++i) fn(i);
    return;
  }
  std::atomic<int64_t> next{0};
  pool.run([&](int, int) {
    for (int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < n_items;
         i = next.fetch_add(1, std::memory_order_relaxed)) {
      fn(i);
    }
  });
}

int64_t tile_tokens(int64_t act_row_stride) {
  return std::clamp(kTileActBytes / std::max<int64_t>(act_row_stride, 1) / kTokAlign * kTokAlign, kTokAlign,
                    kMaxTileTokens);
}

// y[t][r] for rows r of w_rows (w_stride bytes apart) and n_tok packed activation rows, in
// token tiles of `tile`.
void gemm_tiles(const kernels::WeightOps& ops, int64_t k, const char* w_rows, int64_t w_stride, int64_t rows,
                const char* x, int64_t x_stride, int64_t n_tok, int64_t tile, float* y, int64_t y_stride) {
  for (int64_t t0 = 0; t0 < n_tok; t0 += tile) {
    ops.gemm(k, w_rows, w_stride, rows, x + t0 * x_stride, x_stride, std::min(tile, n_tok - t0), y + t0 * y_stride,
             y_stride);
  }
}

// Whether the stacked expert tensors have the shapes and kernels this path assumes; when not,
// the per-expert path runs and reports the problem with matmul's own error messages.
bool supported(const kernels::KernelTable& kt, const MoeWeights& w, int64_t n_embd) {
  const kernels::WeightOps& gate = kt.weights[uint32_t(w.gate_exps.type)];
  const kernels::WeightOps& up = kt.weights[uint32_t(w.up_exps.type)];
  const kernels::WeightOps& down = kt.weights[uint32_t(w.down_exps.type)];
  if (!gate.gemm || !gate.to_act || !up.gemm || !down.gemm || !down.to_act) return false;
  if (gate.act_type != up.act_type) return false;
  const int64_t n_ff = w.gate_exps.ne[1];
  for (const TensorView* t : {&w.gate_exps, &w.up_exps, &w.down_exps}) {
    if (t->n_dims != 3 || t->ne[3] != 1 || t->ne[2] != w.gate_exps.ne[2]) return false;
    if (t->ne[0] % dtype_info(t->type).block_size != 0) return false;
    if (t->nb[1] < int64_t(row_bytes(t->type, t->ne[0]))) return false;
  }
  if (w.gate_exps.ne[0] != n_embd || w.up_exps.ne[0] != n_embd || w.up_exps.ne[1] != n_ff) return false;
  if (w.down_exps.ne[0] != n_ff || w.down_exps.ne[1] != n_embd) return false;
  return n_embd % dtype_info(gate.act_type).block_size == 0 && n_ff % dtype_info(down.act_type).block_size == 0;
}

// Packed activation rows in pair order: row i is token slots[i] / k's row of `tok`.
kernels::PackedActivations gather_pairs(ForwardPass& p, const kernels::PackedActivations& tok,
                                        const ExpertGroups& g, int64_t n_pairs) {
  const int64_t floats = ceil_div(n_pairs * tok.row_stride, int64_t(sizeof(float)));
  char* out = reinterpret_cast<char*>(p.ws().get(Buf::expert_in, floats));
  const char* in = static_cast<const char*>(tok.data);
  for (int64_t i = 0; i < n_pairs; ++i) {
    std::memcpy(out + i * tok.row_stride, in + (g.slots[i] / g.k) * tok.row_stride, size_t(tok.row_stride));
  }
  kernels::PackedActivations pairs = tok;
  pairs.n_tok = n_pairs;
  pairs.data = out;
  return pairs;
}

// hidden [n_pairs][n_ff] = silu(gate x) * up x, every expert's rows in one job.
void gate_up_job(ForwardPass& p, const MoeWeights& w, const ExpertGroups& g, const kernels::PackedActivations& xp,
                 float* hidden, float* up_out, std::vector<Item>& items) {
  const kernels::WeightOps& gate_ops = p.kt.weights[uint32_t(w.gate_exps.type)];
  const kernels::WeightOps& up_ops = p.kt.weights[uint32_t(w.up_exps.type)];
  const int64_t n_ff = w.gate_exps.ne[1], k = xp.k;
  const int64_t n_active = count_active(g);
  const int64_t row_bytes_both = row_bytes(w.gate_exps.type, k) + row_bytes(w.up_exps.type, k);
  plan_items(g, n_ff, chunk_rows(n_ff, row_bytes_both, n_active, p.pool().size()), items);
  const int64_t tile = tile_tokens(xp.row_stride);
  const char* x = static_cast<const char*>(xp.data);
  run_items(p.pool(), int64_t(items.size()), [&](int64_t i) {
    const Item it = items[size_t(i)];
    const int64_t p0 = g.start[it.e], n = g.start[it.e + 1] - p0;
    const char* gw = static_cast<const char*>(w.gate_exps.row(it.r0, it.e));
    const char* uw = static_cast<const char*>(w.up_exps.row(it.r0, it.e));
    float* gy = hidden + p0 * n_ff + it.r0;
    float* uy = up_out + p0 * n_ff + it.r0;
    gemm_tiles(gate_ops, k, gw, w.gate_exps.nb[1], it.rows, x + p0 * xp.row_stride, xp.row_stride, n, tile, gy, n_ff);
    gemm_tiles(up_ops, k, uw, w.up_exps.nb[1], it.rows, x + p0 * xp.row_stride, xp.row_stride, n, tile, uy, n_ff);
    for (int64_t t = 0; t < n; ++t) p.kt.swiglu(gy + t * n_ff, uy + t * n_ff, gy + t * n_ff, it.rows);
  });
}

// y [n_pairs][n_embd] = down(hidden), every expert's rows in one job.
void down_job(ForwardPass& p, const MoeWeights& w, const ExpertGroups& g, const kernels::PackedActivations& hp,
              float* y, std::vector<Item>& items) {
  const kernels::WeightOps& ops = p.kt.weights[uint32_t(w.down_exps.type)];
  const int64_t n_embd = w.down_exps.ne[1], k = hp.k;
  const int64_t n_active = count_active(g);
  plan_items(g, n_embd, chunk_rows(n_embd, row_bytes(w.down_exps.type, k), n_active, p.pool().size()), items);
  const int64_t tile = tile_tokens(hp.row_stride);
  const char* x = static_cast<const char*>(hp.data);
  run_items(p.pool(), int64_t(items.size()), [&](int64_t i) {
    const Item it = items[size_t(i)];
    const int64_t p0 = g.start[it.e], n = g.start[it.e + 1] - p0;
    const char* dw = static_cast<const char*>(w.down_exps.row(it.r0, it.e));
    gemm_tiles(ops, k, dw, w.down_exps.nb[1], it.rows, x + p0 * hp.row_stride, hp.row_stride, n, tile,
               y + p0 * n_embd + it.r0, n_embd);
  });
}

// out[t] = sum of route_weights[slot] * y[pair of slot] over t's k slots, added in ascending
// pair (= ascending expert) order, as the per-expert loop adds them.
void scatter(ForwardPass& p, const ExpertGroups& g, const float* route_weights, const float* y, int64_t n_embd,
             std::vector<int32_t>& pair_of_slot, float* out) {
  const int64_t n_pairs = p.n_tok * g.k;
  pair_of_slot.resize(size_t(n_pairs));
  for (int64_t i = 0; i < n_pairs; ++i) pair_of_slot[size_t(g.slots[i])] = int32_t(i);
  const auto tokens = [&](int64_t t0, int64_t t1) {
    int32_t pairs[kMaxRouted];
    for (int64_t t = t0; t < t1; ++t) {
      for (int64_t j = 0; j < g.k; ++j) pairs[j] = pair_of_slot[size_t(t * g.k + j)];
      std::sort(pairs, pairs + g.k);
      float* o = out + t * n_embd;
      std::memset(o, 0, size_t(n_embd) * sizeof(float));
      for (int64_t j = 0; j < g.k; ++j) p.kt.axpy(route_weights[g.slots[pairs[j]]], y + pairs[j] * n_embd, o, n_embd);
    }
  };
  if (p.pool().size() == 1 || n_pairs * n_embd < kInlineScatterFloats) {
    tokens(0, p.n_tok);
    return;
  }
  p.pool().run([&](int ith, int nth) {
    int64_t t0, t1;
    ThreadPool::split(p.n_tok, ith, nth, &t0, &t1);
    tokens(t0, t1);
  });
}

}  // namespace

bool run_routed_experts(ForwardPass& p, const MoeWeights& w, const ExpertGroups& g, const float* route_weights,
                        const float* x, float* out) {
  const int64_t n_embd = p.config.n_embd, n_pairs = p.n_tok * g.k;
  if (g.k > kMaxRouted || !supported(p.kt, w, n_embd)) return false;
  if (p.n_tok == 0) return true;
  const int64_t n_ff = w.gate_exps.ne[1];
  std::vector<int32_t>& scratch_ints = p.ws().ints(kScratchInts);
  std::vector<Item> items;  // a few hundred entries at most per job
  const kernels::PackedActivations x_tok =
      kernels::pack_activations(p.kt, w.gate_exps.type, x, p.n_tok, n_embd, p.pool(), p.scratch());
  const kernels::PackedActivations x_pairs = gather_pairs(p, x_tok, g, n_pairs);

  float* hidden = p.ws().get(Buf::hidden_gate, n_pairs * n_ff);
  float* up = p.ws().get(Buf::hidden_up, n_pairs * n_ff);
  gate_up_job(p, w, g, x_pairs, hidden, up, items);
  // x_tok's scratch is free again: the gathered copy is all job 1 read.
  const kernels::PackedActivations h_pairs =
      kernels::pack_activations(p.kt, w.down_exps.type, hidden, n_pairs, n_ff, p.pool(), p.scratch());
  float* y = p.ws().get(Buf::expert_out, n_pairs * n_embd);
  down_job(p, w, g, h_pairs, y, items);
  scatter(p, g, route_weights, y, n_embd, scratch_ints, out);
  return true;
}

}  // namespace moxie
