#include "moxie/convert/hf_config.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "moxie/core/error.h"

namespace moxie::convert {
namespace {

using nlohmann::json;

struct HfArch {
  const char* hf_name;
  Arch arch;
};
constexpr HfArch kHfArchs[] = {
    {"LlamaForCausalLM", Arch::llama},         {"Qwen2ForCausalLM", Arch::qwen2},
    {"Qwen3ForCausalLM", Arch::qwen3},         {"Qwen2MoeForCausalLM", Arch::qwen2moe},
    {"Qwen3MoeForCausalLM", Arch::qwen3moe},   {"DeepseekV3ForCausalLM", Arch::deepseek2},
    {"DeepseekV2ForCausalLM", Arch::deepseek2},
};

// Typed access to config.json keys, naming the key on failure.
class Keys {
 public:
  Keys(const json& j, const std::string& source) : j_(j), source_(source) {}
  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }
  int64_t count(const char* key) const {
    if (!has(key)) fail(key, "is missing");
    return count_or(key, 0);
  }
  int64_t count_or(const char* key, int64_t fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_number_integer() || j_[key].get<int64_t>() < 0) fail(key, "must be a non-negative integer");
    return j_[key].get<int64_t>();
  }
  double real_or(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_number()) fail(key, "must be a number");
    return j_[key].get<double>();
  }
  bool flag_or(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_boolean()) fail(key, "must be true or false");
    return j_[key].get<bool>();
  }
  std::string text_or(const char* key, const char* fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_string()) fail(key, "must be a string");
    return j_[key].get<std::string>();
  }
  const json& at(const char* key) const { return j_[key]; }
  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw Error(source_ + ": \"" + key + "\" " + why);
  }

 private:
  const json& j_;
  const std::string& source_;
};

void read_rope_scaling(const Keys& k, const std::string& source, ModelConfig& c) {
  if (!k.has("rope_scaling")) return;
  const json& rs = k.at("rope_scaling");
  if (!rs.is_object()) k.fail("rope_scaling", "must be an object");
  const Keys r(rs, source);
  const std::string type = r.text_or("type", r.text_or("rope_type", "default").c_str());
  RopeConfig& rope = c.rope;
  if (type == "default") return;
  rope.factor = float(r.real_or("factor", 1.0));
  if (type == "linear") {
    rope.scaling = RopeScaling::linear;
  } else if (type == "yarn") {
    rope.scaling = RopeScaling::yarn;
    rope.n_ctx_orig = r.count_or("original_max_position_embeddings", c.n_ctx_train);
    rope.yarn_beta_fast = float(r.real_or("beta_fast", 32.0));
    rope.yarn_beta_slow = float(r.real_or("beta_slow", 1.0));
    if (c.arch == Arch::deepseek2) rope.yarn_log_multiplier = float(0.1 * r.real_or("mscale_all_dim", 0.0));
  } else {
    k.fail("rope_scaling.type", "= \"" + type + "\" is not supported (linear, yarn)");
  }
}

void read_common(const Keys& k, ModelConfig& c) {
  c.n_embd = k.count("hidden_size");
  c.n_layer = k.count("num_hidden_layers");
  c.n_ctx_train = k.count_or("max_position_embeddings", 4096);
  c.n_head = k.count("num_attention_heads");
  c.n_head_kv = k.count_or("num_key_value_heads", c.n_head);
  if (c.n_head == 0 || c.n_head_kv == 0 || c.n_head % c.n_head_kv) k.fail("num_key_value_heads", "must divide num_attention_heads");
  c.head_dim_k = c.head_dim_v = k.count_or("head_dim", c.n_embd / c.n_head);
  c.n_ff = k.count_or("intermediate_size", 0);
  c.n_vocab = k.count("vocab_size");
  c.rms_eps = float(k.real_or("rms_norm_eps", 1e-6));
  c.qk_norm = c.arch == Arch::qwen3 || c.arch == Arch::qwen3moe;
  c.rope.freq_base = float(k.real_or("rope_theta", 10000.0));
  c.rope.n_rot = c.head_dim_k;
  const bool neox = c.arch != Arch::llama && c.arch != Arch::deepseek2;
  c.rope.mode = neox ? kernels::RopeMode::neox : kernels::RopeMode::normal;
}

void read_qwen_moe(const Keys& k, ModelConfig& c) {
  MoeConfig& m = c.moe;
  m.n_expert = k.count("num_experts");
  m.n_expert_used = k.count("num_experts_per_tok");
  m.n_ff_exp = k.count("moe_intermediate_size");
  m.norm_topk = k.flag_or("norm_topk_prob", c.arch == Arch::qwen3moe);
  if (c.arch == Arch::qwen3moe && !m.norm_topk) k.fail("norm_topk_prob", "= false is not supported for Qwen3-MoE");
  if (k.count_or("decoder_sparse_step", 1) != 1) k.fail("decoder_sparse_step", "must be 1 (every layer MoE)");
  if (k.has("mlp_only_layers") && !k.at("mlp_only_layers").empty()) k.fail("mlp_only_layers", "must be empty");
  if (c.arch == Arch::qwen2moe) {
    m.n_ff_shexp = k.count_or("shared_expert_intermediate_size", 0);
    m.n_expert_shared = m.n_ff_shexp > 0 ? 1 : 0;
  }
}

void read_deepseek(const Keys& k, HfModelInfo& info) {
  ModelConfig& c = info.config;
  MlaConfig& mla = c.mla;
  mla.q_lora_rank = k.count_or("q_lora_rank", 0);
  mla.kv_lora_rank = k.count("kv_lora_rank");
  mla.qk_nope = k.count("qk_nope_head_dim");
  mla.qk_rope = k.count("qk_rope_head_dim");
  mla.v_head = k.count("v_head_dim");
  c.n_head_kv = 1;  // MLA runs as MQA over the latent
  c.head_dim_k = mla.qk_nope + mla.qk_rope;
  c.head_dim_v = mla.v_head;
  c.rope.n_rot = mla.qk_rope;
  MoeConfig& m = c.moe;
  m.n_expert = k.count("n_routed_experts");
  m.n_expert_used = k.count("num_experts_per_tok");
  m.n_ff_exp = k.count("moe_intermediate_size");
  m.n_expert_shared = k.count_or("n_shared_experts", 0);
  m.n_ff_shexp = m.n_ff_exp * m.n_expert_shared;
  m.n_leading_dense = k.count_or("first_k_dense_replace", 0);
  m.weights_scale = float(k.real_or("routed_scaling_factor", 1.0));
  m.norm_topk = k.flag_or("norm_topk_prob", false);
  const std::string scoring = k.text_or("scoring_func", "softmax");
  if (scoring != "softmax" && scoring != "sigmoid") k.fail("scoring_func", "= \"" + scoring + "\" is not supported");
  m.gating = scoring == "sigmoid" ? Gating::sigmoid : Gating::softmax;
  const std::string method = k.text_or("topk_method", "greedy");
  if (method != "greedy") {  // noaux_tc, group_limited_greedy: selection within groups
    m.n_group = k.count_or("n_group", 1);
    m.n_group_used = k.count_or("topk_group", m.n_group);
  }
  if (m.n_leading_dense > c.n_layer) k.fail("first_k_dense_replace", "exceeds num_hidden_layers");
  info.n_nextn_layers = k.count_or("num_nextn_predict_layers", 0);
}

void read_quantization(const Keys& k, const std::string& source, HfModelInfo& info) {
  if (!k.has("quantization_config")) return;
  const Keys q(k.at("quantization_config"), source);
  const std::string method = q.text_or("quant_method", "");
  if (method != "fp8") k.fail("quantization_config.quant_method", "= \"" + method + "\" is not supported (fp8)");
  info.fp8 = true;
  if (q.has("weight_block_size")) {
    const json& b = q.at("weight_block_size");
    if (!b.is_array() || b.size() != 2 || !b[0].is_number_integer() || !b[1].is_number_integer() || b[0] <= 0 ||
        b[1] <= 0) {
      k.fail("quantization_config.weight_block_size", "must be [rows, cols] of positive integers");
    }
    info.fp8_block_rows = b[0].get<int64_t>();
    info.fp8_block_cols = b[1].get<int64_t>();
  }
}

}  // namespace

HfModelInfo parse_hf_config(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(source + ": not valid JSON at byte " + std::to_string(e.byte));
  }
  if (!j.is_object()) throw Error(source + ": expected a JSON object");
  const Keys k(j, source);
  if (!k.has("architectures") || !k.at("architectures").is_array() || k.at("architectures").empty() ||
      !k.at("architectures")[0].is_string()) {
    k.fail("architectures", "is missing (expected e.g. [\"Qwen3MoeForCausalLM\"])");
  }
  HfModelInfo info;
  info.hf_architecture = k.at("architectures")[0].get<std::string>();
  bool known = false;
  for (const HfArch& a : kHfArchs) {
    if (info.hf_architecture == a.hf_name) info.config.arch = a.arch, known = true;
  }
  if (!known) {
    std::string list;
    for (const HfArch& a : kHfArchs) list += std::string(list.empty() ? "" : ", ") + a.hf_name;
    k.fail("architectures", "names \"" + info.hf_architecture + "\", which is not supported (supported: " + list + ")");
  }
  ModelConfig& c = info.config;
  try {
    read_common(k, c);
    if (c.arch == Arch::qwen2moe || c.arch == Arch::qwen3moe) read_qwen_moe(k, c);
    if (c.arch == Arch::deepseek2) read_deepseek(k, info);
    read_rope_scaling(k, source, c);
    read_quantization(k, source, info);
    info.tied_embeddings = k.flag_or("tie_word_embeddings", false);
  } catch (const json::exception& e) {
    throw Error(source + ": unexpected JSON structure: " + e.what());
  }
  if (c.n_ff == 0 && (!c.is_moe() || c.moe.n_leading_dense > 0)) k.fail("intermediate_size", "is missing");
  return info;
}

HfModelInfo read_hf_config(const std::string& dir) {
  const std::string path = dir + "/config.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the file (is " + dir + " a Hugging Face model folder?)");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_hf_config(ss.str(), path);
}

}  // namespace moxie::convert
