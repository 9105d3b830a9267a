#include "moxie/convert/tensor_plan.h"

#include <memory>

#include "moxie/convert/hf_config.h"
#include "moxie/convert/hf_matrix.h"
#include "moxie/convert/safetensors.h"
#include "moxie/core/error.h"

namespace moxie::convert {
namespace {

using Matrix = std::shared_ptr<const HfMatrix>;

// HF names of per-layer tensors, after "model.layers.N.", without ".weight"/".bias".
struct LayerName {
  const char* gguf;
  const char* hf;
};
constexpr LayerName kLayerNames[] = {
    {"attn_norm", "input_layernorm"},          {"ffn_norm", "post_attention_layernorm"},
    {"attn_q", "self_attn.q_proj"},            {"attn_k", "self_attn.k_proj"},
    {"attn_v", "self_attn.v_proj"},            {"attn_output", "self_attn.o_proj"},
    {"attn_q_norm", "self_attn.q_norm"},       {"attn_k_norm", "self_attn.k_norm"},
    {"attn_q_a", "self_attn.q_a_proj"},        {"attn_q_a_norm", "self_attn.q_a_layernorm"},
    {"attn_q_b", "self_attn.q_b_proj"},        {"attn_kv_a_mqa", "self_attn.kv_a_proj_with_mqa"},
    {"attn_kv_a_norm", "self_attn.kv_a_layernorm"},
    {"ffn_gate", "mlp.gate_proj"},             {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},             {"ffn_gate_inp", "mlp.gate"},
    {"ffn_gate_inp_shexp", "mlp.shared_expert_gate"},
};

struct Ctx {
  const HfModelInfo& info;
  const Checkpoint& ckpt;

  Matrix matrix(const std::string& name) const {
    const StTensor& t = ckpt.get(name);
    return std::make_shared<HfMatrix>(t, ckpt.find(name + "_scale_inv"), info.fp8_block_rows, info.fp8_block_cols);
  }
  [[noreturn]] void shape_error(const HfMatrix& m, const std::string& want) const {
    throw Error(ckpt.dir() + ": tensor \"" + m.name() + "\" has shape [" + std::to_string(m.rows()) + ", " +
                std::to_string(m.cols()) + "] (as rows x cols), expected " + want);
  }
};

int64_t rows_of(const TensorSpec& s) {
  int64_t n = 1;
  for (size_t i = 1; i < s.ne.size(); ++i) n *= s.ne[i];
  return n;
}

// "blk.N.base.suffix" -> (N, base, suffix); false for global names.
bool split_layer_name(const std::string& name, int64_t* layer, std::string* base, std::string* suffix) {
  if (name.rfind("blk.", 0) != 0) return false;
  const size_t a = name.find('.', 4), b = name.rfind('.');
  *layer = std::stoll(name.substr(4, a - 4));
  *base = name.substr(a + 1, b - a - 1);
  *suffix = name.substr(b + 1);
  return true;
}

void plan_plain(const Ctx& cx, PlannedTensor& p, const std::string& hf) {
  Matrix m = cx.matrix(hf);
  if (m->cols() != p.spec.ne[0] || m->rows() != p.n_rows) {
    cx.shape_error(*m, "[" + std::to_string(p.n_rows) + ", " + std::to_string(p.spec.ne[0]) + "]");
  }
  const int64_t n = p.spec.ne[0];
  p.sources = {hf};
  p.read_row = [m, n](int64_t row, float* out) { m->read(row, 0, n, out); };
}

// Llama: GGUF row h*hd + 2i + half comes from HF row h*hd + half*hd/2 + i.
void plan_permuted(const Ctx& cx, PlannedTensor& p, const std::string& hf, int64_t head_dim) {
  plan_plain(cx, p, hf);
  auto plain = std::move(p.read_row);
  p.read_row = [plain, head_dim](int64_t row, float* out) {
    const int64_t h = row / head_dim, j = row % head_dim;
    plain(h * head_dim + (j % 2) * (head_dim / 2) + j / 2, out);
  };
}

void plan_experts(const Ctx& cx, PlannedTensor& p, const std::string& prefix, const char* proj) {
  const int64_t n_expert = p.spec.ne[2], per = p.spec.ne[1], n = p.spec.ne[0];
  auto mats = std::make_shared<std::vector<Matrix>>();
  for (int64_t e = 0; e < n_expert; ++e) {
    const std::string hf = prefix + "mlp.experts." + std::to_string(e) + "." + proj + ".weight";
    mats->push_back(cx.matrix(hf));
    if (mats->back()->cols() != n || mats->back()->rows() != per) {
      cx.shape_error(*mats->back(), "[" + std::to_string(per) + ", " + std::to_string(n) + "]");
    }
    p.sources.push_back(hf);
  }
  p.read_row = [mats, per, n](int64_t row, float* out) { (*mats)[size_t(row / per)]->read(row % per, 0, n, out); };
}

// DeepSeek kv_b_proj [H*(nope+v), kv_lora] -> attn_k_b {nope, kv_lora, H} or attn_v_b {kv_lora, v, H}.
void plan_kv_b(const Ctx& cx, PlannedTensor& p, const std::string& prefix, bool k_part) {
  const MlaConfig& mla = cx.info.config.mla;
  const int64_t H = cx.info.config.n_head, nope = mla.qk_nope, v = mla.v_head, lora = mla.kv_lora_rank;
  const std::string hf = prefix + "self_attn.kv_b_proj.weight";
  Matrix m = cx.matrix(hf);
  if (m->rows() != H * (nope + v) || m->cols() != lora) {
    cx.shape_error(*m, "[" + std::to_string(H * (nope + v)) + ", " + std::to_string(lora) + "]");
  }
  p.sources = {hf};
  if (k_part) {  // row (h, c): element n is kv_b[h*(nope+v) + n][c]
    p.read_row = [m, H, nope, v, lora](int64_t row, float* out) {
      const int64_t h = row / lora, c = row % lora;
      for (int64_t n = 0; n < nope; ++n) m->read(h * (nope + v) + n, c, 1, out + n);
    };
  } else {  // row (h, j) is kv_b row h*(nope+v) + nope + j
    p.read_row = [m, nope, v, lora](int64_t row, float* out) {
      m->read((row / v) * (nope + v) + nope + row % v, 0, lora, out);
    };
  }
}

void plan_layer_tensor(const Ctx& cx, PlannedTensor& p, int64_t il, const std::string& base, const std::string& suffix) {
  const ModelConfig& c = cx.info.config;
  const std::string prefix = "model.layers." + std::to_string(il) + ".";
  if (base == "attn_k_b" || base == "attn_v_b") return plan_kv_b(cx, p, prefix, base == "attn_k_b");
  if (base == "exp_probs_b") return plan_plain(cx, p, prefix + "mlp.gate.e_score_correction_bias");
  for (const char* proj : {"gate", "up", "down"}) {
    const std::string x = proj;
    if (base == "ffn_" + x + "_exps") return plan_experts(cx, p, prefix, (x + "_proj").c_str());
    if (base == "ffn_" + x + "_shexp") {
      const char* block = c.arch == Arch::qwen2moe ? "mlp.shared_expert." : "mlp.shared_experts.";
      return plan_plain(cx, p, prefix + block + x + "_proj." + suffix);
    }
  }
  for (const LayerName& n : kLayerNames) {
    if (base != n.gguf) continue;
    const std::string hf = prefix + n.hf + "." + suffix;
    if (c.arch == Arch::llama && suffix == "weight" && (base == "attn_q" || base == "attn_k")) {
      return plan_permuted(cx, p, hf, c.head_dim_k);
    }
    return plan_plain(cx, p, hf);
  }
  throw Error("convert: no Hugging Face name is known for GGUF tensor \"" + p.spec.name + "\"");
}

}  // namespace

std::vector<PlannedTensor> plan_tensors(const HfModelInfo& info, const Checkpoint& ckpt) {
  const Ctx cx{info, ckpt};
  std::vector<PlannedTensor> plan;
  for (const TensorSpec& spec : tensor_specs(info.config)) {
    if (spec.name == "output.weight" && info.tied_embeddings) continue;
    PlannedTensor p;
    p.spec = spec;
    p.n_rows = rows_of(spec);
    int64_t il = 0;
    std::string base, suffix;
    if (split_layer_name(spec.name, &il, &base, &suffix)) {
      plan_layer_tensor(cx, p, il, base, suffix);
    } else if (spec.name == "token_embd.weight") {
      plan_plain(cx, p, "model.embed_tokens.weight");
    } else if (spec.name == "output_norm.weight") {
      plan_plain(cx, p, "model.norm.weight");
    } else {
      plan_plain(cx, p, "lm_head.weight");
    }
    plan.push_back(std::move(p));
  }
  return plan;
}

}  // namespace moxie::convert
