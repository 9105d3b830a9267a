#include "moxie/model/tensor_specs.h"

namespace moxie {
namespace {

using Specs = std::vector<TensorSpec>;

void add(Specs& s, int64_t il, const char* base, std::vector<int64_t> ne, TensorKind kind, const char* suffix = "weight") {
  s.push_back({layer_tensor_name(il, base, suffix), std::move(ne), kind, true});
}

// Standard multi-head / grouped-query attention.
void add_gqa(Specs& s, const ModelConfig& c, int64_t il) {
  const int64_t q = c.n_head * c.head_dim_k, k = c.n_head_kv * c.head_dim_k, v = c.n_head_kv * c.head_dim_v;
  add(s, il, "attn_q", {c.n_embd, q}, TensorKind::matrix);
  add(s, il, "attn_k", {c.n_embd, k}, TensorKind::matrix);
  add(s, il, "attn_v", {c.n_embd, v}, TensorKind::matrix);
  if (c.arch == Arch::qwen2 || c.arch == Arch::qwen2moe) {
    add(s, il, "attn_q", {q}, TensorKind::bias, "bias");
    add(s, il, "attn_k", {k}, TensorKind::bias, "bias");
    add(s, il, "attn_v", {v}, TensorKind::bias, "bias");
  }
  if (c.qk_norm) {
    add(s, il, "attn_q_norm", {c.head_dim_k}, TensorKind::norm);
    add(s, il, "attn_k_norm", {c.head_dim_k}, TensorKind::norm);
  }
  add(s, il, "attn_output", {c.n_head * c.head_dim_v, c.n_embd}, TensorKind::matrix);
}

// DeepSeek multi-head latent attention, in the split k_b / v_b form.
void add_mla(Specs& s, const ModelConfig& c, int64_t il) {
  const MlaConfig& m = c.mla;
  if (m.q_lora_rank > 0) {
    add(s, il, "attn_q_a", {c.n_embd, m.q_lora_rank}, TensorKind::matrix);
    add(s, il, "attn_q_a_norm", {m.q_lora_rank}, TensorKind::norm);
    add(s, il, "attn_q_b", {m.q_lora_rank, c.n_head * c.head_dim_k}, TensorKind::matrix);
  } else {
    add(s, il, "attn_q", {c.n_embd, c.n_head * c.head_dim_k}, TensorKind::matrix);
  }
  add(s, il, "attn_kv_a_mqa", {c.n_embd, m.kv_lora_rank + m.qk_rope}, TensorKind::matrix);
  add(s, il, "attn_kv_a_norm", {m.kv_lora_rank}, TensorKind::norm);
  add(s, il, "attn_k_b", {m.qk_nope, m.kv_lora_rank, c.n_head}, TensorKind::matrix);
  add(s, il, "attn_v_b", {m.kv_lora_rank, m.v_head, c.n_head}, TensorKind::matrix);
  add(s, il, "attn_output", {c.n_head * m.v_head, c.n_embd}, TensorKind::matrix);
}

void add_dense_ffn(Specs& s, const ModelConfig& c, int64_t il) {
  add(s, il, "ffn_gate", {c.n_embd, c.n_ff}, TensorKind::matrix);
  add(s, il, "ffn_up", {c.n_embd, c.n_ff}, TensorKind::matrix);
  add(s, il, "ffn_down", {c.n_ff, c.n_embd}, TensorKind::matrix);
}

void add_moe_ffn(Specs& s, const ModelConfig& c, int64_t il) {
  const MoeConfig& m = c.moe;
  add(s, il, "ffn_gate_inp", {c.n_embd, m.n_expert}, TensorKind::router);
  if (c.arch == Arch::deepseek2 && m.gating == Gating::sigmoid) {
    add(s, il, "exp_probs_b", {m.n_expert}, TensorKind::bias, "bias");
  }
  add(s, il, "ffn_gate_exps", {c.n_embd, m.n_ff_exp, m.n_expert}, TensorKind::matrix);
  add(s, il, "ffn_up_exps", {c.n_embd, m.n_ff_exp, m.n_expert}, TensorKind::matrix);
  add(s, il, "ffn_down_exps", {m.n_ff_exp, c.n_embd, m.n_expert}, TensorKind::matrix);
  if (m.n_ff_shexp > 0) {
    if (c.arch == Arch::qwen2moe) add(s, il, "ffn_gate_inp_shexp", {c.n_embd}, TensorKind::router);
    add(s, il, "ffn_gate_shexp", {c.n_embd, m.n_ff_shexp}, TensorKind::matrix);
    add(s, il, "ffn_up_shexp", {c.n_embd, m.n_ff_shexp}, TensorKind::matrix);
    add(s, il, "ffn_down_shexp", {m.n_ff_shexp, c.n_embd}, TensorKind::matrix);
  }
}

}  // namespace

std::string layer_tensor_name(int64_t layer, const char* base, const char* suffix) {
  return "blk." + std::to_string(layer) + "." + base + "." + suffix;
}

std::vector<TensorSpec> tensor_specs(const ModelConfig& c) {
  Specs s;
  s.push_back({"token_embd.weight", {c.n_embd, c.n_vocab}, TensorKind::embedding, true});
  for (int64_t il = 0; il < c.n_layer; ++il) {
    add(s, il, "attn_norm", {c.n_embd}, TensorKind::norm);
    if (c.is_mla()) {
      add_mla(s, c, il);
    } else {
      add_gqa(s, c, il);
    }
    add(s, il, "ffn_norm", {c.n_embd}, TensorKind::norm);
    if (c.layer_is_moe(il)) {
      add_moe_ffn(s, c, il);
    } else {
      add_dense_ffn(s, c, il);
    }
  }
  s.push_back({"output_norm.weight", {c.n_embd}, TensorKind::norm, true});
  s.push_back({"output.weight", {c.n_embd, c.n_vocab}, TensorKind::matrix, false});
  return s;
}

}  // namespace moxie
