#include "moxie/model/layers/attention_gqa.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "moxie/core/kv_int8.h"
#include "moxie/core/thread_pool.h"
#include "moxie/kernels/api.h"
#include "moxie/model/forward_pass.h"
#include "moxie/model/layers/linear.h"
#include "moxie/model/layers/rope.h"
#include "moxie/model/weights.h"

namespace moxie {
namespace {

// Head dims of one layer, in floats.
struct Dims {
  int64_t n_head, n_kv, dk, dv, group;
  int64_t q_row() const { return n_head * dk; }
  int64_t k_row() const { return n_kv * dk; }
  int64_t v_row() const { return n_kv * dv; }
};

Dims dims_of(const ModelConfig& c) {
  return {c.n_head, c.n_head_kv, c.head_dim_k, c.head_dim_v, c.n_head / c.n_head_kv};
}

// Writes one row of n_kv head slices of width floats into a cache row of type F32 or F16.
void store_float_row(const kernels::KernelTable& kt, DType type, const float* x, int64_t n_kv, int64_t width,
                     void* dst) {
  if (type == DType::F16) {
    kt.to_f16(x, static_cast<uint16_t*>(dst), n_kv * width);
  } else {
    std::memcpy(dst, x, size_t(n_kv * width) * sizeof(float));
  }
}

// Writes every token's k and v rows into its sequence's slot at its position. An I8 cache
// keeps tiles (core/kv_int8.h): rows are rounded to their plain form here and put into their
// tile by the cache.
void store_kv(ForwardPass& p, int64_t il, const Dims& d, const float* k, const float* v) {
  const DType type = p.kv.shape().type;
  if (type == DType::I8) {
    thread_local std::vector<char> plain;  // [k row][v row], grown once per shape
    const int64_t k_bytes = p.kv.k_row_bytes();
    plain.resize(size_t(k_bytes + p.kv.v_row_bytes()));
    for (int64_t t = 0; t < p.n_tok; ++t) {
      const BatchToken& bt = p.batch.tokens[size_t(t)];
      quantize_kv_int8_row(k + t * d.k_row(), d.n_kv, d.dk, plain.data());
      quantize_kv_int8_row(v + t * d.v_row(), d.n_kv, d.dv, plain.data() + k_bytes);
      p.kv.write_row(il, bt.seq, bt.pos, plain.data(), plain.data() + k_bytes);
    }
    return;
  }
  for (int64_t t = 0; t < p.n_tok; ++t) {
    const BatchToken& bt = p.batch.tokens[size_t(t)];
    char* k_rows = static_cast<char*>(p.kv.k_data(il, bt.seq));
    char* v_rows = static_cast<char*>(p.kv.v_data(il, bt.seq));
    store_float_row(p.kt, type, k + t * d.k_row(), d.n_kv, d.dk, k_rows + bt.pos * p.kv.k_row_bytes());
    store_float_row(p.kt, type, v + t * d.v_row(), d.n_kv, d.dv, v_rows + bt.pos * p.kv.v_row_bytes());
  }
}

// A sequence's cached rows of one layer: element type, regions (kv_cache.h) and, for I8, the
// bytes from one kv head's pieces to the next's (the regions are head-major).
struct CachedRows {
  DType type;
  const void* k;
  const void* v;
  int64_t k_head_stride, v_head_stride;
};

// The address of element i of cached rows of type elements.
const void* element(DType type, const void* base, int64_t i) {
  return static_cast<const char*>(base) + row_bytes(type, i);
}

// Query heads of one token over its sequence's cached positions [0, n_pos): the groups of kv
// heads [g0, g0 + n_g), in one kernel call that reads each cached row's slice for those heads
// once, front to back. q, o: the token's rows, dk (dv) floats per query head, contiguous.
// scratch: kernels::attention_scratch_floats(n_g * group, dk) floats.
void attend_kv_heads(const kernels::KernelTable& kt, const Dims& d, const float* q, const CachedRows& rows,
                     int64_t g0, int64_t n_g, int64_t n_pos, float scale, float* scratch, float* o) {
  kernels::AttentionArgs a;
  a.n_kv = n_g;
  a.n_q = d.group;
  a.n_pos = n_pos;
  a.dk = d.dk;
  a.dv = d.dv;
  a.q = q + g0 * d.group * d.dk;
  a.q_stride = d.dk;
  a.kv_type = rows.type;
  if (rows.type == DType::I8) {  // kv head g0's piece of tile 0; strides in bytes (kernels/api.h)
    a.k = static_cast<const char*>(rows.k) + g0 * rows.k_head_stride;
    a.k_stride = kv_int8_piece_bytes(d.dk);
    a.k_head_stride = rows.k_head_stride;
    a.v = static_cast<const char*>(rows.v) + g0 * rows.v_head_stride;
    a.v_stride = kv_int8_piece_bytes(d.dv);
    a.v_head_stride = rows.v_head_stride;
  } else {
    a.k = element(rows.type, rows.k, g0 * d.dk);
    a.k_stride = d.k_row();
    a.v = element(rows.type, rows.v, g0 * d.dv);
    a.v_stride = d.v_row();
  }
  a.scale = scale;
  a.o = o + g0 * d.group * d.dv;
  a.o_stride = d.dv;
  a.scratch = scratch;
  kt.attention(a);
}

// heads [n_tok][n_head * dv]. Work items are (token, chunk of kv heads), pulled by the pool's
// threads, latest tokens (longest contexts) first, so a causal prefill's uneven items still
// balance. A token's kv heads stay in one chunk (whole cached rows read in order) unless
// there are fewer tokens than threads, as in decode, where the threads split them.
void attend_all(ForwardPass& p, int64_t il, const Dims& d, const float* q, float* heads) {
  const int64_t n_threads = p.pool().size();
  const int64_t want_chunks = p.n_tok >= n_threads ? 1 : std::min(d.n_kv, (n_threads + p.n_tok - 1) / p.n_tok);
  const int64_t chunk = (d.n_kv + want_chunks - 1) / want_chunks;  // kv heads per item
  const int64_t n_chunks = (d.n_kv + chunk - 1) / chunk;
  const int64_t per_thread = kernels::attention_scratch_floats(chunk * d.group, d.dk);
  float* scratch = p.ws().get(Buf::scores, n_threads * per_thread);
  const float scale = 1.0f / std::sqrt(float(d.dk));
  const int64_t n_items = p.n_tok * n_chunks;
  std::atomic<int64_t> next{0};
  const auto work = [&](int ith, int) {
    for (int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < n_items;
         i = next.fetch_add(1, std::memory_order_relaxed)) {
      const int64_t t = p.n_tok - 1 - i / n_chunks, g0 = (i % n_chunks) * chunk;
      const BatchToken& bt = p.batch.tokens[size_t(t)];
      const CachedRows rows{p.kv.shape().type, p.kv.k_data(il, bt.seq), p.kv.v_data(il, bt.seq),
                            p.kv.k_head_stride(), p.kv.v_head_stride()};
      attend_kv_heads(p.kt, d, q + t * d.q_row(), rows, g0, std::min(chunk, d.n_kv - g0), bt.pos + 1, scale,
                      scratch + ith * per_thread, heads + t * d.n_head * d.dv);
    }
  };
  if (n_items == 1) {
    work(0, 1);
  } else {
    p.pool().run([&](int ith, int nth) { work(ith, nth); });
  }
}

}  // namespace

GqaWeights load_gqa_weights(WeightLoader& w, int64_t il, const GqaFeatures& f) {
  GqaWeights g;
  g.q = w.matrix(il, "attn_q");
  g.k = w.matrix(il, "attn_k");
  g.v = w.matrix(il, "attn_v");
  g.o = w.matrix(il, "attn_output");
  if (f.qkv_bias) {
    g.q_bias = w.bias(il, "attn_q");
    g.k_bias = w.bias(il, "attn_k");
    g.v_bias = w.bias(il, "attn_v");
  }
  if (f.qk_norm) {
    g.q_norm = w.vector(il, "attn_q_norm");
    g.k_norm = w.vector(il, "attn_k_norm");
  }
  return g;
}

KvShape gqa_kv_shape(const ModelConfig& c) {
  KvShape s{c.n_layer, c.n_head_kv * c.head_dim_k, c.n_head_kv * c.head_dim_v};
  s.k_groups = s.v_groups = c.n_head_kv;
  return s;
}

void attention_gqa(ForwardPass& p, int64_t il, const GqaWeights& w, const kernels::RopeCache& rope, const float* x,
                   float* out) {
  const Dims d = dims_of(p.config);
  float* q = p.ws().get(Buf::q, p.n_tok * d.q_row());
  float* k = p.ws().get(Buf::k, p.n_tok * d.k_row());
  float* v = p.ws().get(Buf::v, p.n_tok * d.v_row());
  linear_shared_input(p, {{w.q, q, w.q_bias}, {w.k, k, w.k_bias}, {w.v, v, w.v_bias}}, x, p.n_tok);
  if (w.q_norm) rms_norm_rows(p, q, w.q_norm, q, p.n_tok * d.n_head, d.dk);
  if (w.k_norm) rms_norm_rows(p, k, w.k_norm, k, p.n_tok * d.n_kv, d.dk);
  apply_rope(p, rope, q, d.n_head, d.dk, d.q_row());
  apply_rope(p, rope, k, d.n_kv, d.dk, d.k_row());
  store_kv(p, il, d, k, v);

  float* heads = p.ws().get(Buf::heads, p.n_tok * d.n_head * d.dv);
  attend_all(p, il, d, q, heads);
  p.trace("attn_heads", il, heads, d.n_head * d.dv);
  linear(p, w.o, heads, p.n_tok, out);
}

}  // namespace moxie
