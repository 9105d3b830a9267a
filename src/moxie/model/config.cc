#include "moxie/model/config.h"

#include <cmath>
#include <string>

#include "moxie/core/error.h"
#include "moxie/gguf/reader.h"

namespace moxie {
namespace {

struct ArchName {
  Arch arch;
  const char* name;
};
constexpr ArchName kArchNames[] = {
    {Arch::llama, "llama"},       {Arch::qwen2, "qwen2"},       {Arch::qwen3, "qwen3"},
    {Arch::qwen2moe, "qwen2moe"}, {Arch::qwen3moe, "qwen3moe"}, {Arch::deepseek2, "deepseek2"},
};

// Reads "{arch}.suffix" keys and checks ranges, naming the key on failure.
class KeyReader {
 public:
  KeyReader(const GgufFile& f, std::string arch) : f_(f), prefix_(std::move(arch) + ".") {}

  std::string key(const char* suffix) const { return prefix_ + suffix; }

  int64_t count(const char* suffix, int64_t lo, int64_t hi) const {
    return check(suffix, f_.get_i64(key(suffix)), lo, hi);
  }
  int64_t count_or(const char* suffix, int64_t fallback, int64_t lo, int64_t hi) const {
    const auto v = f_.opt_i64(key(suffix));
    return v ? check(suffix, *v, lo, hi) : fallback;
  }
  float real_or(const char* suffix, float fallback) const {
    const auto v = f_.opt_f32(key(suffix));
    if (v && !std::isfinite(*v)) fail(suffix, "is not a finite number");
    return v ? *v : fallback;
  }
  bool flag_or(const char* suffix, bool fallback) const { return f_.opt_bool(key(suffix)).value_or(fallback); }
  std::string text_or(const char* suffix, const char* fallback) const {
    const auto v = f_.opt_string(key(suffix));
    return v ? std::string(*v) : fallback;
  }
  [[noreturn]] void fail(const char* suffix, const std::string& why) const {
    throw Error(f_.path() + ": metadata key \"" + key(suffix) + "\" " + why);
  }

 private:
  int64_t check(const char* suffix, int64_t v, int64_t lo, int64_t hi) const {
    if (v < lo || v > hi) {
      fail(suffix, "= " + std::to_string(v) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    return v;
  }
  const GgufFile& f_;
  std::string prefix_;
};

constexpr int64_t kMaxDim = int64_t(1) << 20;
constexpr int64_t kMaxCtx = int64_t(1) << 24;

int64_t read_vocab_size(const GgufFile& f, const KeyReader& k) {
  if (auto v = f.opt_i64(k.key("vocab_size"))) return *v;
  if (const GgufValue* tokens = f.find("tokenizer.ggml.tokens")) return int64_t(tokens->size());
  if (const GgufTensorInfo* emb = f.find_tensor("token_embd.weight")) return emb->ne[1];
  throw Error(f.path() + ": cannot tell the vocabulary size (no \"" + k.key("vocab_size") +
              "\", no tokenizer.ggml.tokens, no token_embd.weight)");
}

void read_rope(const KeyReader& k, ModelConfig& c) {
  RopeConfig& r = c.rope;
  r.freq_base = k.real_or("rope.freq_base", 10000.0f);
  if (!(r.freq_base > 1.0f)) k.fail("rope.freq_base", "must be > 1");
  const bool neox = c.arch == Arch::qwen2 || c.arch == Arch::qwen3 || c.arch == Arch::qwen2moe ||
                    c.arch == Arch::qwen3moe;
  r.mode = neox ? kernels::RopeMode::neox : kernels::RopeMode::normal;
  const int64_t rot_limit = c.is_mla() ? c.mla.qk_rope : c.head_dim_k;
  r.n_rot = k.count_or("rope.dimension_count", rot_limit, 2, rot_limit);
  if (r.n_rot % 2) k.fail("rope.dimension_count", "must be even");
  const std::string type = k.text_or("rope.scaling.type", "none");
  if (type == "none") {
    r.scaling = RopeScaling::none;
  } else if (type == "linear") {
    r.scaling = RopeScaling::linear;
  } else if (type == "yarn") {
    r.scaling = RopeScaling::yarn;
  } else {
    k.fail("rope.scaling.type", "= \"" + type + "\" is not supported (none, linear, yarn)");
  }
  r.factor = k.real_or("rope.scaling.factor", 1.0f);
  if (!(r.factor >= 1.0f)) k.fail("rope.scaling.factor", "must be >= 1");
  r.n_ctx_orig = k.count_or("rope.scaling.original_context_length", c.n_ctx_train, 1, kMaxCtx);
  r.yarn_beta_fast = k.real_or("rope.scaling.yarn_beta_fast", 32.0f);
  r.yarn_beta_slow = k.real_or("rope.scaling.yarn_beta_slow", 1.0f);
  r.yarn_log_multiplier = k.real_or("rope.scaling.yarn_log_multiplier", 0.0f);
}

void read_moe(const KeyReader& k, ModelConfig& c) {
  MoeConfig& m = c.moe;
  m.n_expert = k.count_or("expert_count", 0, 0, 4096);
  if (m.n_expert == 0) return;
  m.n_expert_used = k.count("expert_used_count", 1, m.n_expert);
  m.n_ff_exp = k.count_or("expert_feed_forward_length", c.n_ff, 1, kMaxDim);
  m.n_expert_shared = k.count_or("expert_shared_count", 0, 0, 64);
  m.n_ff_shexp = k.count_or("expert_shared_feed_forward_length", m.n_ff_exp * m.n_expert_shared, 0, kMaxDim);
  if (c.arch == Arch::qwen2moe && m.n_ff_shexp > 0) m.n_expert_shared = 1;
  const int64_t gating = k.count_or("expert_gating_func", 0, 0, 2);  // 0 absent, 1 softmax, 2 sigmoid
  m.gating = gating == 2 ? Gating::sigmoid : Gating::softmax;
  // llama.cpp always renormalises Qwen3-MoE's and Mixtral's top-k; DeepSeek says so in a key.
  const bool norm_default = c.arch == Arch::qwen3moe || c.arch == Arch::llama;
  m.norm_topk = k.flag_or("expert_weights_norm", norm_default);
  m.weights_scale = k.real_or("expert_weights_scale", 1.0f);
  if (m.weights_scale == 0.0f) m.weights_scale = 1.0f;
  m.n_group = k.count_or("expert_group_count", 1, 1, m.n_expert);
  if (m.n_expert % m.n_group) k.fail("expert_group_count", "must divide expert_count");
  m.n_group_used = k.count_or("expert_group_used_count", m.n_group, 1, m.n_group);
  m.n_leading_dense = k.count_or("leading_dense_block_count", 0, 0, c.n_layer);
}

void read_mla(const KeyReader& k, ModelConfig& c) {
  MlaConfig& m = c.mla;
  m.q_lora_rank = k.count_or("attention.q_lora_rank", 0, 0, kMaxDim);
  m.kv_lora_rank = k.count("attention.kv_lora_rank", 1, kMaxDim);
  m.qk_rope = k.count("rope.dimension_count", 2, kMaxDim);
  // MLA GGUFs carry the per-head sizes in *_mla keys (key_length is then latent + rope).
  const int64_t k_head = k.count_or("attention.key_length_mla", -1, -1, kMaxDim);
  if (k_head < 0) {
    k.fail("attention.key_length_mla",
           "is missing: this is a legacy DeepSeek GGUF without the split attn_k_b/attn_v_b tensors; "
           "re-convert it with a current converter");
  }
  if (k_head <= m.qk_rope) k.fail("attention.key_length_mla", "must exceed rope.dimension_count");
  m.qk_nope = k_head - m.qk_rope;
  m.v_head = k.count("attention.value_length_mla", 1, kMaxDim);
  c.head_dim_k = k_head;
  c.head_dim_v = m.v_head;
}

}  // namespace

const char* arch_name(Arch a) {
  for (const ArchName& n : kArchNames) {
    if (n.arch == a) return n.name;
  }
  return "?";
}

bool arch_from_name(std::string_view name, Arch* out) {
  for (const ArchName& n : kArchNames) {
    if (name == n.name) {
      *out = n.arch;
      return true;
    }
  }
  return false;
}

int64_t ModelConfig::kv_floats_per_token_layer() const {
  if (is_mla()) return mla.kv_lora_rank + mla.qk_rope;
  return n_head_kv * (head_dim_k + head_dim_v);
}

ModelConfig read_model_config(const GgufFile& f) {
  ModelConfig c;
  const std::string arch(f.get_string("general.architecture"));
  if (!arch_from_name(arch, &c.arch)) {
    throw Error(f.path() + ": architecture \"" + arch +
                "\" is not supported (supported: llama, qwen2, qwen3, qwen2moe, qwen3moe, deepseek2)");
  }
  const KeyReader k(f, arch);
  c.n_embd = k.count("embedding_length", 1, kMaxDim);
  const int64_t n_nextn = k.count_or("nextn_predict_layers", 0, 0, 16);
  c.n_layer = k.count("block_count", 1 + n_nextn, 4096) - n_nextn;  // multi-token-prediction layers unused
  c.n_ctx_train = k.count("context_length", 1, kMaxCtx);
  c.n_head = k.count("attention.head_count", 1, 4096);
  c.n_head_kv = k.count_or("attention.head_count_kv", c.n_head, 1, c.n_head);
  if (c.n_head % c.n_head_kv) k.fail("attention.head_count_kv", "must divide attention.head_count");
  c.head_dim_k = k.count_or("attention.key_length", c.n_embd / c.n_head, 1, kMaxDim);
  c.head_dim_v = k.count_or("attention.value_length", c.head_dim_k, 1, kMaxDim);
  c.rms_eps = k.real_or("attention.layer_norm_rms_epsilon", 1e-6f);
  if (!(c.rms_eps > 0.0f)) k.fail("attention.layer_norm_rms_epsilon", "must be > 0");
  c.n_ff = k.count_or("feed_forward_length", 0, 0, kMaxDim);
  c.n_vocab = read_vocab_size(f, k);
  if (c.n_vocab < 1 || c.n_vocab > (int64_t(1) << 22)) k.fail("vocab_size", "is out of range");
  c.qk_norm = c.arch == Arch::qwen3 || c.arch == Arch::qwen3moe;
  if (c.arch == Arch::deepseek2) read_mla(k, c);
  read_moe(k, c);
  read_rope(k, c);
  const bool needs_moe = c.arch == Arch::qwen2moe || c.arch == Arch::qwen3moe;
  if (needs_moe && !c.is_moe()) k.fail("expert_count", "is missing: " + arch + " is a mixture-of-experts architecture");
  if (c.n_ff == 0 && (!c.is_moe() || c.moe.n_leading_dense > 0)) k.fail("feed_forward_length", "is missing");
  return c;
}

}  // namespace moxie
