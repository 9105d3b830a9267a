// Shapes of the synthetic models `moxie synth` writes, per architecture and preset.
#include <string>

#include "moxie/core/error.h"
#include "moxie/model/synth.h"

namespace moxie {
namespace {

struct Dims {
  int64_t n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_vocab, n_ctx;
};

ModelConfig base(Arch arch, const Dims& d) {
  ModelConfig c;
  c.arch = arch;
  c.n_embd = d.n_embd;
  c.n_layer = d.n_layer;
  c.n_head = d.n_head;
  c.n_head_kv = d.n_head_kv;
  c.head_dim_k = c.head_dim_v = d.head_dim;
  c.n_ff = d.n_ff;
  c.n_vocab = d.n_vocab;
  c.n_ctx_train = d.n_ctx;
  c.rms_eps = 1e-6f;
  c.qk_norm = arch == Arch::qwen3 || arch == Arch::qwen3moe;
  c.rope.n_rot = d.head_dim;
  c.rope.freq_base = 10000.0f;
  const bool neox = arch != Arch::llama && arch != Arch::deepseek2;
  c.rope.mode = neox ? kernels::RopeMode::neox : kernels::RopeMode::normal;
  return c;
}

void experts(ModelConfig& c, int64_t n_expert, int64_t n_used, int64_t n_ff_exp) {
  c.moe.n_expert = n_expert;
  c.moe.n_expert_used = n_used;
  c.moe.n_ff_exp = n_ff_exp;
  c.moe.norm_topk = c.arch == Arch::qwen3moe || c.arch == Arch::llama;
}

ModelConfig qwen3moe(const std::string& p) {
  if (p == "tiny") {
    ModelConfig c = base(Arch::qwen3moe, {64, 2, 4, 2, 16, 128, 512, 256});
    experts(c, 8, 2, 32);
    return c;
  }
  if (p == "small") {
    ModelConfig c = base(Arch::qwen3moe, {256, 2, 4, 2, 64, 512, 1024, 1024});
    experts(c, 16, 4, 256);
    return c;
  }
  if (p == "30b-a3b") {  // Qwen3-30B-A3B's per-layer shapes (48 layers in the real model)
    ModelConfig c = base(Arch::qwen3moe, {2048, 4, 32, 4, 128, 6144, 151936, 40960});
    c.rope.freq_base = 1000000.0f;
    experts(c, 128, 8, 768);
    return c;
  }
  throw Error("unknown preset \"" + p + "\" for qwen3moe (tiny, small, 30b-a3b)");
}

ModelConfig qwen2moe(const std::string& p) {
  ModelConfig c;
  if (p == "tiny") {
    c = base(Arch::qwen2moe, {64, 2, 4, 4, 16, 128, 512, 256});
    experts(c, 8, 2, 32);
    c.moe.n_ff_shexp = 64;
  } else if (p == "small") {
    c = base(Arch::qwen2moe, {256, 2, 4, 4, 64, 512, 1024, 1024});
    experts(c, 16, 4, 256);
    c.moe.n_ff_shexp = 512;
  } else if (p == "a2.7b") {  // Qwen1.5-MoE-A2.7B's per-layer shapes (24 layers in the real model)
    c = base(Arch::qwen2moe, {2048, 2, 16, 16, 128, 5632, 151936, 8192});
    c.rope.freq_base = 1000000.0f;
    experts(c, 60, 4, 1408);
    c.moe.n_ff_shexp = 5632;
  } else {
    throw Error("unknown preset \"" + p + "\" for qwen2moe (tiny, small, a2.7b)");
  }
  c.moe.n_expert_shared = 1;
  return c;
}

void mla(ModelConfig& c, int64_t q_lora, int64_t kv_lora, int64_t nope, int64_t rope, int64_t v) {
  c.mla = {q_lora, kv_lora, nope, rope, v};
  c.head_dim_k = nope + rope;
  c.head_dim_v = v;
  c.n_head_kv = 1;  // MLA is an MQA over the latent, as llama.cpp's converter writes it
  c.rope.n_rot = rope;
}

void deepseek_moe(ModelConfig& c, int64_t n_expert, int64_t n_used, int64_t n_ff_exp, int64_t n_group, int64_t n_group_used) {
  experts(c, n_expert, n_used, n_ff_exp);
  c.moe.n_expert_shared = 1;
  c.moe.n_ff_shexp = n_ff_exp;
  c.moe.gating = Gating::sigmoid;
  c.moe.norm_topk = true;
  c.moe.weights_scale = 2.5f;
  c.moe.n_group = n_group;
  c.moe.n_group_used = n_group_used;
  c.moe.n_leading_dense = 1;
}

void yarn(ModelConfig& c, float factor, int64_t n_ctx_orig) {
  c.rope.scaling = RopeScaling::yarn;
  c.rope.factor = factor;
  c.rope.n_ctx_orig = n_ctx_orig;
  c.rope.yarn_log_multiplier = 0.1f;  // mscale_all_dim = 1
}

ModelConfig deepseek2(const std::string& p) {
  ModelConfig c;
  if (p == "tiny") {
    c = base(Arch::deepseek2, {64, 3, 4, 4, 24, 128, 512, 512});
    mla(c, 32, 32, 16, 8, 16);
    deepseek_moe(c, 8, 2, 32, 4, 2);
    yarn(c, 4.0f, 128);
  } else if (p == "small") {
    c = base(Arch::deepseek2, {256, 3, 4, 4, 192, 512, 1024, 2048});
    mla(c, 256, 256, 128, 64, 128);
    deepseek_moe(c, 16, 4, 256, 4, 2);
    yarn(c, 4.0f, 512);
  } else if (p == "v3") {  // DeepSeek-V3's per-layer shapes (61 layers in the real model)
    c = base(Arch::deepseek2, {7168, 2, 128, 128, 192, 18432, 129280, 163840});
    mla(c, 1536, 512, 128, 64, 128);
    deepseek_moe(c, 256, 8, 2048, 8, 4);
    yarn(c, 40.0f, 4096);
  } else {
    throw Error("unknown preset \"" + p + "\" for deepseek2 (tiny, small, v3)");
  }
  return c;
}

ModelConfig dense(Arch arch, const std::string& p) {
  if (p == "tiny") return base(arch, {64, 2, 4, 2, 16, 128, 512, 256});
  if (p == "small") return base(arch, {256, 2, 4, 2, 64, 512, 1024, 1024});
  if (arch == Arch::llama && p == "tiny-moe") {  // Mixtral-style: llama with routed experts
    ModelConfig c = base(arch, {64, 2, 4, 2, 16, 128, 512, 256});
    experts(c, 4, 2, 64);
    return c;
  }
  throw Error("unknown preset \"" + p + "\" for " + arch_name(arch) + " (tiny, small" +
              (arch == Arch::llama ? ", tiny-moe)" : ")"));
}

}  // namespace

std::vector<std::string> synth_presets(Arch arch) {
  switch (arch) {
    case Arch::qwen3moe: return {"tiny", "small", "30b-a3b"};
    case Arch::qwen2moe: return {"tiny", "small", "a2.7b"};
    case Arch::deepseek2: return {"tiny", "small", "v3"};
    case Arch::llama: return {"tiny", "small", "tiny-moe"};
    default: return {"tiny", "small"};
  }
}

ModelConfig synth_config(const SynthOptions& o) {
  ModelConfig c;
  switch (o.arch) {
    case Arch::qwen3moe: c = qwen3moe(o.preset); break;
    case Arch::qwen2moe: c = qwen2moe(o.preset); break;
    case Arch::deepseek2: c = deepseek2(o.preset); break;
    default: c = dense(o.arch, o.preset); break;
  }
  if (o.n_layer > 0) {
    c.n_layer = o.n_layer;
    if (c.moe.n_leading_dense >= c.n_layer) c.moe.n_leading_dense = c.n_layer - 1;
  }
  if (o.n_vocab > 0) c.n_vocab = o.n_vocab;
  return c;
}

}  // namespace moxie
