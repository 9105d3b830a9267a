#pragma once
// deepseek2 files `moxie synth` has no preset for, made by rewriting a synth file: a
// V2-Lite-style model (plain q projection, softmax router) and files carrying features moxie
// refuses (MTP layers, the legacy attn_kv_b). Header-only, for the deepseek2 tests.
#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "moxie/gguf/reader.h"
#include "moxie/gguf/writer.h"
#include "moxie/model/config.h"
#include "moxie/model/tensor_specs.h"

namespace moxie::test {

struct ExtraTensor {
  std::string name;
  std::vector<int64_t> ne;  // GGUF order
  std::vector<float> data;  // F32
};

struct GgufRewrite {
  std::vector<std::string> drop_keys;
  std::vector<std::pair<std::string, GgufValue>> set_keys;  // replace or add
  std::function<bool(std::string_view)> drop_tensor;         // empty: keep all
  std::vector<ExtraTensor> add_tensors;
};

// Copies src to dst with the rewrite applied (metadata and tensor order kept otherwise).
inline void rewrite_gguf(const std::string& src, const std::string& dst, const GgufRewrite& r) {
  const GgufFile in = GgufFile::open(src);
  GgufWriter out(dst);
  for (const GgufKeyValue& kv : in.metadata()) {
    bool skip = false;
    for (const auto& [key, value] : r.set_keys) skip = skip || key == kv.key;
    for (const std::string& key : r.drop_keys) skip = skip || key == kv.key;
    if (!skip) out.add(kv.key, kv.value);
  }
  for (const auto& [key, value] : r.set_keys) out.add(key, value);
  for (const GgufTensorInfo& t : in.tensors()) {
    if (r.drop_tensor && r.drop_tensor(t.name)) continue;
    out.add_tensor(t.name, t.type, std::span<const int64_t>(t.ne, size_t(t.n_dims)), t.view.data);
  }
  for (const ExtraTensor& e : r.add_tensors) out.add_tensor(e.name, DType::F32, e.ne, e.data.data());
  out.finish();
}

// n deterministic values, uniform in [-scale, scale].
inline std::vector<float> uniform_values(int64_t n, float scale, uint64_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (float& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = scale * (float(double(s >> 11) / double(1ull << 53)) * 2.0f - 1.0f);
  }
  return v;
}

// A DeepSeek-V2-Lite-style copy of an F32 deepseek2 synth file: attn_q [n_embd -> H * dk]
// (uniform, variance 1/n_embd) replaces q_a/q_a_norm/q_b; softmax gating without selection
// bias, groups or renormalisation; routed scale 1.5; YaRN mscale_all_dim 0.707.
inline void write_v2_lite_variant(const std::string& src, const std::string& dst, uint64_t seed) {
  ModelConfig c;
  {
    const GgufFile f = GgufFile::open(src);
    c = read_model_config(f);
  }
  GgufRewrite r;
  const std::string a = "deepseek2.";
  r.drop_keys = {a + "attention.q_lora_rank", a + "expert_group_count", a + "expert_group_used_count",
                 a + "expert_weights_norm"};
  r.set_keys.emplace_back(a + "expert_gating_func", GgufValue::make_u32(1));
  r.set_keys.emplace_back(a + "expert_weights_scale", GgufValue::make_f32(1.5f));
  r.set_keys.emplace_back(a + "rope.scaling.yarn_log_multiplier", GgufValue::make_f32(0.0707f));
  r.drop_tensor = [](std::string_view name) {
    return name.find(".attn_q_a") != std::string_view::npos || name.find(".attn_q_b.") != std::string_view::npos ||
           name.find(".exp_probs_b.") != std::string_view::npos;
  };
  const int64_t q_rows = c.n_head * c.head_dim_k;
  for (int64_t il = 0; il < c.n_layer; ++il) {
    r.add_tensors.push_back({layer_tensor_name(il, "attn_q"), {c.n_embd, q_rows},
                             uniform_values(c.n_embd * q_rows, std::sqrt(3.0f / float(c.n_embd)), seed + uint64_t(il))});
  }
  rewrite_gguf(src, dst, r);
}

}  // namespace moxie::test
