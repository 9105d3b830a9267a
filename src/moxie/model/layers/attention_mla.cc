#include "moxie/model/layers/attention_mla.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "moxie/core/error.h"
#include "moxie/core/thread_pool.h"
#include "moxie/gguf/reader.h"
#include "moxie/kernels/api.h"
#include "moxie/model/config.h"
#include "moxie/model/forward_pass.h"
#include "moxie/model/layers/attention_mla_parts.h"
#include "moxie/model/layers/linear.h"
#include "moxie/model/layers/rope.h"
#include "moxie/model/tensor_specs.h"
#include "moxie/model/weights.h"

namespace moxie {
namespace mla {
namespace {

// Heads attended together per work item: each cached latent row (kv_lora floats, 2 KiB for
// V3) is then read from memory once per 8 heads instead of once per head.
constexpr int64_t kHeadBlock = 8;
// Per-head products: activation rows start on a cache line; tokens go through in tiles
// (the matmul driver's largest token tile) so a tile's converted rows stay in cache.
constexpr int64_t kActAlign = 64;
constexpr int64_t kTokTile = 64;

int64_t round_up(int64_t n, int64_t a) { return (n + a - 1) / a * a; }

// q [n_tok][q_row] and kv_a [n_tok][kv_a_row] from x, the latent part of kv_a normalised.
void project(ForwardPass& p, const MlaWeights& w, const Dims& d, const float* x, float* q, float* kv_a) {
  if (w.q_a.data) {
    float* q_lora = p.ws().get(Buf::mla_q_lora, p.n_tok * d.q_lora);
    linear_shared_input(p, {{w.q_a, q_lora}, {w.kv_a_mqa, kv_a}}, x, p.n_tok);
    rms_norm_rows(p, q_lora, w.q_a_norm, q_lora, p.n_tok, d.q_lora);
    linear(p, w.q_b, q_lora, p.n_tok, q);
  } else {
    linear_shared_input(p, {{w.q, q}, {w.kv_a_mqa, kv_a}}, x, p.n_tok);
  }
  for (int64_t t = 0; t < p.n_tok; ++t) {
    float* latent = kv_a + t * d.kv_a_row();
    p.kt.rmsnorm(latent, w.kv_a_norm, latent, d.kv_lora, p.config.rms_eps);
  }
}

// Writes every token's latent (k row) and roped key (v row) into its sequence's slot.
void store_latents(ForwardPass& p, int64_t il, const Dims& d, const float* kv_a) {
  for (int64_t t = 0; t < p.n_tok; ++t) {
    const BatchToken& bt = p.batch.tokens[size_t(t)];
    const float* row = kv_a + t * d.kv_a_row();
    std::memcpy(p.kv.k(il, bt.seq) + bt.pos * d.kv_lora, row, size_t(d.kv_lora) * sizeof(float));
    std::memcpy(p.kv.v(il, bt.seq) + bt.pos * d.rope, row + d.kv_lora, size_t(d.rope) * sizeof(float));
  }
}

// What one work item reads: token t's queries and its sequence's cached rows [0, n_pos).
struct TokenView {
  int64_t t, n_tok, n_pos;
  const float* q_row;    // [H][nope + rope]: the q_pe parts are used
  const float* latents;  // [n_pos][kv_lora]
  const float* keys;     // [n_pos][rope]
};

// Heads [h0, h0 + nb) of one token in one kernel call: each cached latent row (kv_lora
// floats) and rope key is read once for all nb heads. latent holds q_abs [H][n_tok][kv_lora]
// and receives o_lat in the same rows (the kernel reads every q row before writing o).
// scratch: kernels::attention_scratch_floats(nb, kv_lora + rope) floats.
void attend_heads(const kernels::KernelTable& kt, const Dims& d, const TokenView& v, int64_t h0, int64_t nb,
                  float scale, float* scratch, float* latent) {
  float* lat0 = latent + (h0 * v.n_tok + v.t) * d.kv_lora;
  kernels::AttentionArgs a;
  a.n_q = nb;
  a.n_pos = v.n_pos;
  a.dk = d.kv_lora;
  a.dk2 = d.rope;
  a.dv = d.kv_lora;
  a.q = lat0;
  a.q_stride = v.n_tok * d.kv_lora;
  a.q2 = v.q_row + h0 * d.dk() + d.nope;
  a.q2_stride = d.dk();
  a.k = v.latents;
  a.k_stride = d.kv_lora;
  a.k2 = v.keys;
  a.k2_stride = d.rope;
  a.v = v.latents;
  a.v_stride = d.kv_lora;
  a.scale = scale;
  a.o = lat0;
  a.o_stride = v.n_tok * d.kv_lora;
  a.scratch = scratch;
  kt.attention(a);
}

// Turns latent's q_abs rows into o_lat rows for every (row, head block), across the pool.
// Row i is batch token tokens[i]; q [n][q_row] in row order. Items are pulled dynamically,
// latest rows (longest contexts) first: in a causal prefill the last token reads n times the
// rows of the first, so a static split gave the thread with the later half about three times
// the work.
void attend_all(ForwardPass& p, int64_t il, const Dims& d, const std::vector<int64_t>& tokens, const float* q,
                float scale, float* latent) {
  const int64_t n = int64_t(tokens.size());
  const int64_t per_thread = kernels::attention_scratch_floats(kHeadBlock, d.kv_lora + d.rope);
  float* scores = p.ws().get(Buf::scores, int64_t(p.pool().size()) * per_thread);
  const int64_t n_blocks = (d.n_head + kHeadBlock - 1) / kHeadBlock;
  const int64_t n_items = n * n_blocks;
  std::atomic<int64_t> next{0};
  p.pool().run([&](int ith, int) {
    for (int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < n_items;
         i = next.fetch_add(1, std::memory_order_relaxed)) {
      const int64_t r = n - 1 - i / n_blocks, h0 = (i % n_blocks) * kHeadBlock;
      const BatchToken& bt = p.batch.tokens[size_t(tokens[size_t(r)])];
      const TokenView v{r, n, bt.pos + 1, q + r * d.q_row(), p.kv.k(il, bt.seq), p.kv.v(il, bt.seq)};
      attend_heads(p.kt, d, v, h0, std::min(kHeadBlock, d.n_head - h0), scale, scores + ith * per_thread, latent);
    }
  });
}

// per_head_matmul calls the kernels directly, so the block check matmul would make is made
// here, at load: a head's rows must be whole blocks of the weight type and its activation type.
void check_head_rows(const WeightLoader& loader, const TensorView& w, const char* base, int64_t il) {
  const kernels::WeightOps& ops = kernels::active().weights[uint32_t(w.type)];
  for (DType t : {w.type, ops.act_type}) {
    if (w.ne[0] % dtype_info(t).block_size != 0) {
      throw Error(loader.file().path() + ": tensor \"" + layer_tensor_name(il, base) + "\" has rows of " +
                  std::to_string(w.ne[0]) + " elements, not whole " + std::string(dtype_name(t)) + " blocks of " +
                  std::to_string(dtype_info(t).block_size));
    }
  }
}

// The batch's tokens grouped by sequence, in order of first appearance.
std::vector<SeqTokens> group_by_sequence(const Batch& b) {
  std::vector<SeqTokens> seqs;
  std::unordered_map<int32_t, size_t> index;
  for (int64_t t = 0; t < b.size(); ++t) {
    const BatchToken& bt = b.tokens[size_t(t)];
    const auto [it, added] = index.emplace(bt.seq, seqs.size());
    if (added) seqs.push_back({bt.seq, 0, {}});
    SeqTokens& s = seqs[it->second];
    s.tokens.push_back(t);
    s.n_pos = std::max(s.n_pos, bt.pos + 1);
  }
  return seqs;
}

}  // namespace

Dims dims_of(const ModelConfig& c) {
  return {c.n_head, c.mla.q_lora_rank, c.mla.kv_lora_rank, c.mla.qk_nope, c.mla.qk_rope, c.mla.v_head};
}

// Heads are split across the pool and each head's product runs on one thread: one dispatch
// per layer instead of one per head (decode makes H tiny products), and every thread streams
// its own heads' weights. Rows are read and written in place (strided).
void per_head_matmul(ForwardPass& p, int64_t n_tok, const TensorView& w, const float* x, const HeadRows& xr,
                     float* y, const HeadRows& yr) {
  const kernels::WeightOps& ops = p.kt.weights[uint32_t(w.type)];
  const int64_t k = w.ne[0], n_rows = w.ne[1], n_head = w.ne[2];
  const int64_t act_stride = round_up(row_bytes(ops.act_type, k), kActAlign);
  const int64_t per_thread = act_stride * std::min(n_tok, kTokTile);  // bytes
  const int n_threads = p.pool().size();
  float* buf = p.ws().get(Buf::mla_head_io, (n_threads * per_thread + kActAlign) / int64_t(sizeof(float)) + 1);
  char* base = reinterpret_cast<char*>(round_up(int64_t(reinterpret_cast<uintptr_t>(buf)), kActAlign));
  p.pool().run([&](int ith, int nth) {
    int64_t h0, h1;
    ThreadPool::split(n_head, ith, nth, &h0, &h1);
    char* act = base + ith * per_thread;
    for (int64_t h = h0; h < h1; ++h) {
      for (int64_t t0 = 0; t0 < n_tok; t0 += kTokTile) {
        const int64_t n = std::min(kTokTile, n_tok - t0);
        for (int64_t t = 0; t < n; ++t) {
          ops.to_act(x + (t0 + t) * xr.tok_stride + h * xr.head_stride, act + t * act_stride, k);
        }
        ops.gemm(k, w.row(0, h), w.nb[1], n_rows, act, act_stride, n, y + t0 * yr.tok_stride + h * yr.head_stride,
                 yr.tok_stride);
      }
    }
  });
}

// The batch tokens' rows are gathered into a compact [n][q_row] block first unless they are
// the whole batch (decode-only and absorbed-only batches skip the copies). tokens: increasing.
void attend_absorbed(ForwardPass& p, int64_t il, const MlaWeights& w, const Dims& d, float scale, const float* q,
                     const std::vector<int64_t>& tokens, float* heads) {
  const int64_t n = int64_t(tokens.size());
  const bool whole = n == p.n_tok;
  const float* q_rows = q;
  float* out = heads;
  if (!whole) {
    float* gathered = p.ws().get(Buf::mla_gather, n * (d.q_row() + d.heads_row()));
    for (int64_t r = 0; r < n; ++r) {
      std::memcpy(gathered + r * d.q_row(), q + tokens[size_t(r)] * d.q_row(), size_t(d.q_row()) * sizeof(float));
    }
    q_rows = gathered;
    out = gathered + n * d.q_row();
  }
  // latent [H][n][kv_lora]: q_abs_h = W_UK[h]^T q_nope_h, then o_lat_h in place.
  float* latent = p.ws().get(Buf::mla_latent, d.n_head * n * d.kv_lora);
  const HeadRows latent_rows{d.kv_lora, n * d.kv_lora};
  per_head_matmul(p, n, w.k_b, q_rows, {d.q_row(), d.dk()}, latent, latent_rows);
  attend_all(p, il, d, tokens, q_rows, scale, latent);
  // out [n][H * v_head]: o_h = W_UV[h] o_lat_h.
  per_head_matmul(p, n, w.v_b, latent, latent_rows, out, {d.heads_row(), d.v_head});
  if (whole) return;
  for (int64_t r = 0; r < n; ++r) {
    std::memcpy(heads + tokens[size_t(r)] * d.heads_row(), out + r * d.heads_row(),
                size_t(d.heads_row()) * sizeof(float));
  }
}

}  // namespace mla

MlaWeights load_mla_weights(WeightLoader& w, const ModelConfig& c, int64_t il) {
  MlaWeights m;
  if (c.mla.q_lora_rank > 0) {
    m.q_a = w.matrix(il, "attn_q_a");
    m.q_a_norm = w.vector(il, "attn_q_a_norm");
    m.q_b = w.matrix(il, "attn_q_b");
  } else {
    m.q = w.matrix(il, "attn_q");
  }
  m.kv_a_mqa = w.matrix(il, "attn_kv_a_mqa");
  m.kv_a_norm = w.vector(il, "attn_kv_a_norm");
  // Before matrix() repacks attn_k_b: the transposition reads the file's layout.
  mla::load_transposed_k_b(w, il, m);
  m.k_b = w.matrix(il, "attn_k_b");
  m.v_b = w.matrix(il, "attn_v_b");
  mla::check_head_rows(w, m.k_b, "attn_k_b", il);
  mla::check_head_rows(w, m.v_b, "attn_v_b", il);
  m.o = w.matrix(il, "attn_output");
  return m;
}

KvShape mla_kv_shape(const ModelConfig& c) { return {c.n_layer, c.mla.kv_lora_rank, c.mla.qk_rope}; }

kernels::RopeParams mla_rope_params(const ModelConfig& c) {
  if (c.rope.scaling != RopeScaling::yarn) return rope_params(c);
  // Equal mscale and mscale_all_dim: the ratio is 1, and the factor cancels the cache's own
  // 1 + 0.1 ln(factor) magnitude, leaving unit cos/sin.
  return rope_params(c, kernels::deepseek_yarn_attn_factor(c.rope.factor, 1.0, 1.0));
}

float mla_softmax_scale(const ModelConfig& c) {
  double scale = 1.0 / std::sqrt(double(c.mla.qk_nope + c.mla.qk_rope));
  if (c.rope.scaling == RopeScaling::yarn) {
    const double mscale_all_dim = double(c.rope.yarn_log_multiplier) / 0.1;
    const double mscale = kernels::yarn_mscale(c.rope.factor, mscale_all_dim);
    scale *= mscale * mscale;
  }
  return float(scale);
}

void attention_mla(ForwardPass& p, int64_t il, const MlaWeights& w, const kernels::RopeCache& rope,
                   float softmax_scale, const float* x, float* out) {
  const mla::Dims d = mla::dims_of(p.config);
  float* q = p.ws().get(Buf::q, p.n_tok * d.q_row());
  float* kv_a = p.ws().get(Buf::k, p.n_tok * d.kv_a_row());
  mla::project(p, w, d, x, q, kv_a);
  apply_rope(p, rope, q + d.nope, d.n_head, d.dk(), d.q_row());
  apply_rope(p, rope, kv_a + d.kv_lora, 1, d.kv_a_row(), d.kv_a_row());
  mla::store_latents(p, il, d, kv_a);

  // heads [n_tok][H * v_head], each sequence's rows from the form chosen for it.
  std::vector<mla::SeqTokens> decompressed;
  std::vector<int64_t> absorbed;
  for (mla::SeqTokens& s : mla::group_by_sequence(p.batch)) {
    if (mla::choose_decompressed(d, s)) {
      decompressed.push_back(std::move(s));
    } else {
      absorbed.insert(absorbed.end(), s.tokens.begin(), s.tokens.end());
    }
  }
  std::sort(absorbed.begin(), absorbed.end());  // all of them: the batch's own order, no gather
  float* heads = p.ws().get(Buf::heads, p.n_tok * d.heads_row());
  if (!absorbed.empty()) mla::attend_absorbed(p, il, w, d, softmax_scale, q, absorbed, heads);
  if (!decompressed.empty()) mla::attend_decompressed(p, il, w, d, softmax_scale, q, decompressed, heads);
  p.trace("attn_heads", il, heads, d.heads_row());
  linear(p, w.o, heads, p.n_tok, out);
}

}  // namespace moxie
