#pragma once
// What every layer of one forward pass reads and writes: the batch, the KV cache, the
// kernel table and thread pool, reusable buffers, and the optional trace hook and
// expert counters. Model::forward builds one ForwardPass per call; layers receive it.
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "moxie/model/batch.h"
#include "moxie/model/config.h"

namespace moxie {

class ExpertStats;
class KvCache;
class ThreadPool;
namespace kernels {
struct KernelTable;
class MatmulScratch;
class RopeCache;
}  // namespace kernels

// Receives named intermediates, rows in batch order: data [n_rows][row_len] floats, valid
// only during the call. Names follow the numpy reference (attn_out, ffn_out, l_out, ...),
// so a forward can be diffed layer by layer against it.
using TraceFn = std::function<void(std::string_view name, int64_t layer, const float* data, int64_t n_rows,
                                   int64_t row_len)>;

// Buffers reused across forward passes (grow, never shrink). One per concurrent caller.
enum class Buf {
  normed, block_out,               // decoder block: normed input and output, [n_tok][n_embd]
  q, k, v, heads,                  // attention: projections [n_tok][heads * dim], outputs
  rope,                            // [n_tok][n_rot] cos/sin pairs per token
  scores,                          // [n_threads][n_ctx] attention probabilities
  hidden_gate, hidden_up,          // SwiGLU hidden activations [n_rows][n_ff]
  router_logits, route_weights,    // [n_tok][n_expert], [n_tok][k]
  expert_in, expert_out,           // one expert's gathered tokens [n_rows][n_embd]
  shared_out,                      // shared expert output [n_tok][n_embd]
  logits_in,                       // final normed rows whose logits are wanted
  mla_q_lora,                      // MLA: compressed query [n_tok][q_lora]
  mla_latent,                      // MLA: per head [n_head][n_tok][kv_lora], q_abs then o_lat
  mla_head_io,                     // MLA: per-thread converted activations of per-head products
  mla_gather,                      // MLA: absorbed rows of a mixed batch, q [n][q_row] then heads
  mla_latent_act,                  // MLA decompressed form: cached latents as activations
  mla_head_kv,                     // MLA decompressed form: per-thread k_nope and v of one head
  count
};

class Workspace {
 public:
  Workspace();
  ~Workspace();
  // At least n floats; contents are not kept when the buffer grows.
  float* get(Buf b, int64_t n);
  std::vector<int32_t>& ints(int slot) { return ints_[size_t(slot)]; }  // router ids, expert groups
  kernels::MatmulScratch& scratch() { return *scratch_; }

 private:
  std::vector<float> bufs_[size_t(Buf::count)];
  std::vector<int32_t> ints_[4];
  std::unique_ptr<kernels::MatmulScratch> scratch_;
};

// Caller-owned state that outlives one forward: threads, buffers, trace hook, counters.
struct ForwardContext {
  explicit ForwardContext(ThreadPool& p) : pool(p) {}
  ThreadPool& pool;
  Workspace workspace;
  TraceFn trace;                        // empty: no tracing (free)
  ExpertStats* expert_stats = nullptr;  // null: not counted
};

struct ForwardPass {
  ForwardPass(const ModelConfig& c, const kernels::KernelTable& k, const Batch& b, KvCache& cache, ForwardContext& x)
      : config(c), kt(k), batch(b), kv(cache), ctx(x), n_tok(b.size()) {}

  const ModelConfig& config;
  const kernels::KernelTable& kt;
  const Batch& batch;
  KvCache& kv;
  ForwardContext& ctx;
  int64_t n_tok;

  ThreadPool& pool() const { return ctx.pool; }
  Workspace& ws() const { return ctx.workspace; }
  kernels::MatmulScratch& scratch() const { return ctx.workspace.scratch(); }
  void trace(std::string_view name, int64_t layer, const float* data, int64_t row_len) const {
    if (ctx.trace) ctx.trace(name, layer, data, n_tok, row_len);
  }
  // Per-token RoPE cos/sin for this batch, [n_tok][n_rot], computed on first use per pass.
  const float* rope_table(const kernels::RopeCache& rope);

 private:
  const kernels::RopeCache* rope_filled_for_ = nullptr;
};

}  // namespace moxie
