#include "moxie/model/layers/attention_mla.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "moxie/core/thread_pool.h"
#include "moxie/kernels/api.h"
#include "moxie/kernels/matmul.h"
#include "moxie/model/config.h"
#include "moxie/model/forward_pass.h"
#include "moxie/model/layers/linear.h"
#include "moxie/model/layers/rope.h"
#include "moxie/model/weights.h"

namespace moxie {
namespace {

// Heads attended together per work item: each cached latent row (kv_lora floats, 2 KiB for
// V3) is then read from memory once per 8 heads instead of once per head.
constexpr int64_t kHeadBlock = 8;

// Sizes of one MLA layer, in floats.
struct MlaDims {
  int64_t n_head, q_lora, kv_lora, nope, rope, v_head;
  int64_t dk() const { return nope + rope; }            // one q head
  int64_t q_row() const { return n_head * dk(); }       // one token's q
  int64_t kv_a_row() const { return kv_lora + rope; }   // one token's kv_a_mqa output
};

MlaDims dims_of(const ModelConfig& c) {
  return {c.n_head, c.mla.q_lora_rank, c.mla.kv_lora_rank, c.mla.qk_nope, c.mla.qk_rope, c.mla.v_head};
}

// q [n_tok][q_row] and kv_a [n_tok][kv_a_row] from x, the latent part of kv_a normalised.
void project(ForwardPass& p, const MlaWeights& w, const MlaDims& d, const float* x, float* q, float* kv_a) {
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
void store_latents(ForwardPass& p, int64_t il, const MlaDims& d, const float* kv_a) {
  for (int64_t t = 0; t < p.n_tok; ++t) {
    const BatchToken& bt = p.batch.tokens[size_t(t)];
    const float* row = kv_a + t * d.kv_a_row();
    std::memcpy(p.kv.k(il, bt.seq) + bt.pos * d.kv_lora, row, size_t(d.kv_lora) * sizeof(float));
    std::memcpy(p.kv.v(il, bt.seq) + bt.pos * d.rope, row + d.kv_lora, size_t(d.rope) * sizeof(float));
  }
}

// latent [H][n_tok][kv_lora]: q_abs_h = W_UK[h]^T q_nope_h for every token, one matmul per head.
void absorb_queries(ForwardPass& p, const MlaWeights& w, const MlaDims& d, const float* q, float* latent) {
  float* q_nope = p.ws().get(Buf::mla_head_io, p.n_tok * std::max(d.nope, d.v_head));
  for (int64_t h = 0; h < d.n_head; ++h) {
    for (int64_t t = 0; t < p.n_tok; ++t) {
      std::memcpy(q_nope + t * d.nope, q + t * d.q_row() + h * d.dk(), size_t(d.nope) * sizeof(float));
    }
    linear(p, kernels::expert_matrix(w.k_b, h), q_nope, p.n_tok, latent + h * p.n_tok * d.kv_lora);
  }
}

// heads [n_tok][H * v_head]: o_h = W_UV[h] o_lat_h, one matmul per head.
void expand_outputs(ForwardPass& p, const MlaWeights& w, const MlaDims& d, const float* latent, float* heads) {
  float* o = p.ws().get(Buf::mla_head_io, p.n_tok * std::max(d.nope, d.v_head));
  for (int64_t h = 0; h < d.n_head; ++h) {
    linear(p, kernels::expert_matrix(w.v_b, h), latent + h * p.n_tok * d.kv_lora, p.n_tok, o);
    for (int64_t t = 0; t < p.n_tok; ++t) {
      std::memcpy(heads + t * d.n_head * d.v_head + h * d.v_head, o + t * d.v_head, size_t(d.v_head) * sizeof(float));
    }
  }
}

// What one work item reads: token t's queries and its sequence's cached rows [0, n_pos).
struct TokenView {
  int64_t t, n_tok, n_pos;
  const float* q_row;    // [H][nope + rope]: the q_pe parts are used
  const float* latents;  // [n_pos][kv_lora]
  const float* keys;     // [n_pos][rope]
};

// Heads [h0, h0 + nb) of one token. latent holds q_abs [H][n_tok][kv_lora] and receives o_lat
// in the same rows: each row's q_abs is fully read before its o_lat is written.
// probs: [nb][n_pos] scratch. Position-major, so each cached row serves all nb heads at once.
void attend_heads(const kernels::KernelTable& kt, const MlaDims& d, const TokenView& v, int64_t h0, int64_t nb,
                  float scale, float* probs, float* latent) {
  auto lat_row = [&](int64_t b) { return latent + ((h0 + b) * v.n_tok + v.t) * d.kv_lora; };
  for (int64_t s = 0; s < v.n_pos; ++s) {
    const float* c = v.latents + s * d.kv_lora;
    const float* key = v.keys + s * d.rope;
    for (int64_t b = 0; b < nb; ++b) {
      const float* q_pe = v.q_row + (h0 + b) * d.dk() + d.nope;
      probs[b * v.n_pos + s] = (kt.dot_f32(lat_row(b), c, d.kv_lora) + kt.dot_f32(q_pe, key, d.rope)) * scale;
    }
  }
  for (int64_t b = 0; b < nb; ++b) {
    kt.softmax(probs + b * v.n_pos, v.n_pos);
    std::memset(lat_row(b), 0, size_t(d.kv_lora) * sizeof(float));
  }
  for (int64_t s = 0; s < v.n_pos; ++s) {
    for (int64_t b = 0; b < nb; ++b) kt.axpy(probs[b * v.n_pos + s], v.latents + s * d.kv_lora, lat_row(b), d.kv_lora);
  }
}

// Turns latent's q_abs rows into o_lat rows for every (token, head block), across the pool.
void attend_all(ForwardPass& p, int64_t il, const MlaDims& d, const float* q, float scale, float* latent) {
  int64_t max_pos = 0;
  for (const BatchToken& bt : p.batch.tokens) max_pos = std::max(max_pos, bt.pos + 1);
  const int64_t per_thread = kHeadBlock * max_pos;
  float* scores = p.ws().get(Buf::scores, int64_t(p.pool().size()) * per_thread);
  const int64_t n_blocks = (d.n_head + kHeadBlock - 1) / kHeadBlock;
  p.pool().run([&](int ith, int nth) {
    int64_t begin, end;
    ThreadPool::split(p.n_tok * n_blocks, ith, nth, &begin, &end);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t t = i / n_blocks, h0 = (i % n_blocks) * kHeadBlock;
      const BatchToken& bt = p.batch.tokens[size_t(t)];
      const TokenView v{t, p.n_tok, bt.pos + 1, q + t * d.q_row(), p.kv.k(il, bt.seq), p.kv.v(il, bt.seq)};
      attend_heads(p.kt, d, v, h0, std::min(kHeadBlock, d.n_head - h0), scale, scores + ith * per_thread, latent);
    }
  });
}

}  // namespace

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
  m.k_b = w.matrix(il, "attn_k_b");
  m.v_b = w.matrix(il, "attn_v_b");
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
  const MlaDims d = dims_of(p.config);
  float* q = p.ws().get(Buf::q, p.n_tok * d.q_row());
  float* kv_a = p.ws().get(Buf::k, p.n_tok * d.kv_a_row());
  project(p, w, d, x, q, kv_a);
  apply_rope(p, rope, q + d.nope, d.n_head, d.dk(), d.q_row());
  apply_rope(p, rope, kv_a + d.kv_lora, 1, d.kv_a_row(), d.kv_a_row());
  store_latents(p, il, d, kv_a);

  float* latent = p.ws().get(Buf::mla_latent, d.n_head * p.n_tok * d.kv_lora);
  absorb_queries(p, w, d, q, latent);
  attend_all(p, il, d, q, softmax_scale, latent);
  float* heads = p.ws().get(Buf::heads, p.n_tok * d.n_head * d.v_head);
  expand_outputs(p, w, d, latent, heads);
  p.trace("attn_heads", il, heads, d.n_head * d.v_head);
  linear(p, w.o, heads, p.n_tok, out);
}

}  // namespace moxie
