#include "moxie/model/config_writer.h"

#include <string>

#include "moxie/gguf/writer.h"
#include "moxie/model/config.h"

namespace moxie {
namespace {

class ArchKeys {
 public:
  ArchKeys(GgufWriter& w, const char* arch) : w_(w), prefix_(std::string(arch) + ".") {}
  void u32(const char* suffix, int64_t v) { w_.add_u32(prefix_ + suffix, uint32_t(v)); }
  void f32(const char* suffix, float v) { w_.add_f32(prefix_ + suffix, v); }
  void flag(const char* suffix, bool v) { w_.add_bool(prefix_ + suffix, v); }
  void text(const char* suffix, const char* v) { w_.add_string(prefix_ + suffix, v); }

 private:
  GgufWriter& w_;
  std::string prefix_;
};

void write_moe(ArchKeys& k, const ModelConfig& c) {
  const MoeConfig& m = c.moe;
  k.u32("expert_count", m.n_expert);
  k.u32("expert_used_count", m.n_expert_used);
  k.u32("expert_feed_forward_length", m.n_ff_exp);
  if (c.arch == Arch::qwen2moe) {
    if (m.n_ff_shexp > 0) k.u32("expert_shared_feed_forward_length", m.n_ff_shexp);
    return;
  }
  if (c.arch != Arch::deepseek2) return;
  k.u32("expert_shared_count", m.n_expert_shared);
  k.f32("expert_weights_scale", m.weights_scale);
  if (m.norm_topk) k.flag("expert_weights_norm", true);  // the converter writes it only when true
  k.u32("expert_gating_func", m.gating == Gating::sigmoid ? 2 : 1);
  if (m.n_group > 1) {
    k.u32("expert_group_count", m.n_group);
    k.u32("expert_group_used_count", m.n_group_used);
  }
  k.u32("leading_dense_block_count", m.n_leading_dense);
}

void write_attention(ArchKeys& k, const ModelConfig& c) {
  k.u32("attention.head_count", c.n_head);
  // MLA files say 1 kv head, as llama.cpp's converter writes them (its KV cache stores one
  // latent + rope key row per token, an MQA over the latent); the value is unused by MLA.
  k.u32("attention.head_count_kv", c.is_mla() ? 1 : c.n_head_kv);
  k.f32("attention.layer_norm_rms_epsilon", c.rms_eps);
  if (!c.is_mla()) {
    k.u32("attention.key_length", c.head_dim_k);
    k.u32("attention.value_length", c.head_dim_v);
    return;
  }
  const MlaConfig& m = c.mla;
  if (m.q_lora_rank > 0) k.u32("attention.q_lora_rank", m.q_lora_rank);
  k.u32("attention.kv_lora_rank", m.kv_lora_rank);
  // MLA runs as MQA over the latent: key = latent + rope key, value = latent.
  k.u32("attention.key_length", m.kv_lora_rank + m.qk_rope);
  k.u32("attention.value_length", m.kv_lora_rank);
  k.u32("attention.key_length_mla", m.qk_nope + m.qk_rope);
  k.u32("attention.value_length_mla", m.v_head);
}

void write_rope(ArchKeys& k, const ModelConfig& c) {
  const RopeConfig& r = c.rope;
  k.f32("rope.freq_base", r.freq_base);
  k.u32("rope.dimension_count", r.n_rot);
  if (r.scaling == RopeScaling::none) return;
  k.text("rope.scaling.type", r.scaling == RopeScaling::yarn ? "yarn" : "linear");
  k.f32("rope.scaling.factor", r.factor);
  if (r.scaling != RopeScaling::yarn) return;
  k.u32("rope.scaling.original_context_length", r.n_ctx_orig);
  k.f32("rope.scaling.yarn_beta_fast", r.yarn_beta_fast);
  k.f32("rope.scaling.yarn_beta_slow", r.yarn_beta_slow);
  if (r.yarn_log_multiplier != 0.0f) k.f32("rope.scaling.yarn_log_multiplier", r.yarn_log_multiplier);
}

}  // namespace

void write_model_config(GgufWriter& w, const ModelConfig& c) {
  const char* arch = arch_name(c.arch);
  w.add_string("general.architecture", arch);
  ArchKeys k(w, arch);
  k.u32("context_length", c.n_ctx_train);
  k.u32("embedding_length", c.n_embd);
  k.u32("block_count", c.n_layer);
  if (c.n_ff > 0) k.u32("feed_forward_length", c.n_ff);
  k.u32("vocab_size", c.n_vocab);
  write_attention(k, c);
  write_rope(k, c);
  if (c.is_moe()) write_moe(k, c);
}

}  // namespace moxie
