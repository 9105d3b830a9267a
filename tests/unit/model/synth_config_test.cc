// moxie synth writes files whose metadata read_model_config reads back to the same
// config, with every tensor of the architecture's table present at its shape; malformed
// metadata fails with the key's name.
#include <gtest/gtest.h>

#include <string>

#include "moxie/core/error.h"
#include "moxie/gguf/reader.h"
#include "moxie/gguf/writer.h"
#include "moxie/model/config.h"
#include "moxie/model/synth.h"
#include "moxie/model/tensor_specs.h"
#include "model_test_util.h"

namespace moxie {
namespace {

void expect_same(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.n_vocab, b.n_vocab);
  EXPECT_EQ(a.n_embd, b.n_embd);
  EXPECT_EQ(a.n_layer, b.n_layer);
  EXPECT_EQ(a.n_head, b.n_head);
  EXPECT_EQ(a.n_head_kv, b.n_head_kv);
  EXPECT_EQ(a.head_dim_k, b.head_dim_k);
  EXPECT_EQ(a.head_dim_v, b.head_dim_v);
  EXPECT_EQ(a.n_ff, b.n_ff);
  EXPECT_EQ(a.qk_norm, b.qk_norm);
  EXPECT_EQ(a.rope.n_rot, b.rope.n_rot);
  EXPECT_EQ(a.rope.mode, b.rope.mode);
  EXPECT_EQ(a.rope.scaling, b.rope.scaling);
  EXPECT_FLOAT_EQ(a.rope.factor, b.rope.factor);
  EXPECT_EQ(a.moe.n_expert, b.moe.n_expert);
  EXPECT_EQ(a.moe.n_expert_used, b.moe.n_expert_used);
  EXPECT_EQ(a.moe.n_ff_exp, b.moe.n_ff_exp);
  EXPECT_EQ(a.moe.n_ff_shexp, b.moe.n_ff_shexp);
  EXPECT_EQ(a.moe.gating, b.moe.gating);
  EXPECT_EQ(a.moe.norm_topk, b.moe.norm_topk);
  EXPECT_FLOAT_EQ(a.moe.weights_scale, b.moe.weights_scale);
  EXPECT_EQ(a.moe.n_group, b.moe.n_group);
  EXPECT_EQ(a.moe.n_group_used, b.moe.n_group_used);
  EXPECT_EQ(a.moe.n_leading_dense, b.moe.n_leading_dense);
  EXPECT_EQ(a.mla.q_lora_rank, b.mla.q_lora_rank);
  EXPECT_EQ(a.mla.kv_lora_rank, b.mla.kv_lora_rank);
  EXPECT_EQ(a.mla.qk_nope, b.mla.qk_nope);
  EXPECT_EQ(a.mla.v_head, b.mla.v_head);
}

TEST(Synth, EveryTinyPresetRoundTripsThroughGguf) {
  for (Arch arch : {Arch::qwen3moe, Arch::qwen2moe, Arch::deepseek2, Arch::llama, Arch::qwen2, Arch::qwen3}) {
    SynthOptions o;
    o.arch = arch;
    o.type = DType::Q8_0;
    const test::TempDir dir;  // its own folder: another test process may write the same names
    const std::string path = dir.file(std::string("synth_") + std::string(arch_name(arch)) + ".gguf");
    write_synth_model(o, path);
    const GgufFile f = GgufFile::open(path);
    const ModelConfig read = read_model_config(f);
    SCOPED_TRACE(arch_name(arch));
    expect_same(read, synth_config(o));
    for (const TensorSpec& spec : tensor_specs(read)) {
      const GgufTensorInfo* t = f.find_tensor(spec.name);
      if (!spec.required && !t) continue;
      ASSERT_NE(t, nullptr) << spec.name;
      for (size_t d = 0; d < spec.ne.size(); ++d) EXPECT_EQ(t->ne[d], spec.ne[d]) << spec.name << " dim " << d;
      const bool vector = spec.ne.size() == 1;
      EXPECT_EQ(t->type, vector ? DType::F32 : synth_matrix_type(DType::Q8_0, spec.ne[0])) << spec.name;
    }
  }
}

TEST(Synth, SameSeedSameBytesDifferentSeedDifferentWeights) {
  SynthOptions o;
  const test::TempDir dir;
  const std::string a = dir.file("seed_a.gguf"), b = dir.file("seed_b.gguf");
  write_synth_model(o, a);
  o.n_threads = 2;  // the thread count must not change the file
  write_synth_model(o, b);
  const GgufFile fa = GgufFile::open(a), fb = GgufFile::open(b);
  const auto* ta = fa.find_tensor("blk.1.ffn_down_exps.weight");
  const auto* tb = fb.find_tensor("blk.1.ffn_down_exps.weight");
  ASSERT_TRUE(ta && tb);
  EXPECT_EQ(0, memcmp(ta->view.data, tb->view.data, ta->n_bytes));
  o.seed = 2;
  write_synth_model(o, b);
  const GgufFile fc = GgufFile::open(b);
  EXPECT_NE(0, memcmp(ta->view.data, fc.find_tensor("blk.1.ffn_down_exps.weight")->view.data, ta->n_bytes));
}

TEST(Synth, UnknownPresetNamesTheChoices) {
  SynthOptions o;
  o.preset = "huge";
  try {
    synth_config(o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("30b-a3b"), std::string::npos) << e.what();
  }
}

// A file whose metadata lacks or breaks a key fails with that key's name.
std::string config_error(void (*edit)(GgufWriter&)) {
  const test::TempDir dir;
  const std::string path = dir.file("bad_config.gguf");
  {
    GgufWriter w(path);
    edit(w);
    w.finish();
  }
  try {
    read_model_config(GgufFile::open(path));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void base_keys(GgufWriter& w, const char* arch) {
  w.add_string("general.architecture", arch);
  const std::string a = arch;
  w.add_u32(a + ".embedding_length", 64);
  w.add_u32(a + ".block_count", 2);
  w.add_u32(a + ".context_length", 128);
  w.add_u32(a + ".vocab_size", 300);
}

TEST(ModelConfig, ErrorsNameTheKey) {
  EXPECT_NE(config_error([](GgufWriter& w) { w.add_string("general.architecture", "mamba"); }).find("\"mamba\" is not supported"),
            std::string::npos);
  EXPECT_NE(config_error([](GgufWriter& w) { base_keys(w, "llama"); }).find("llama.attention.head_count"),
            std::string::npos);
  EXPECT_NE(config_error([](GgufWriter& w) {
              base_keys(w, "qwen3moe");
              w.add_u32("qwen3moe.attention.head_count", 4);
              w.add_u32("qwen3moe.attention.head_count_kv", 3);
            }).find("qwen3moe.attention.head_count_kv\" must divide"),
            std::string::npos);
  EXPECT_NE(config_error([](GgufWriter& w) {
              base_keys(w, "qwen3moe");
              w.add_u32("qwen3moe.attention.head_count", 4);
            }).find("qwen3moe.expert_count\" is missing"),
            std::string::npos);
  EXPECT_NE(config_error([](GgufWriter& w) {
              base_keys(w, "llama");
              w.add_u32("llama.attention.head_count", 4);
              w.add_u32("llama.feed_forward_length", 128);
              w.add_string("llama.rope.scaling.type", "longrope");
            }).find("\"longrope\" is not supported"),
            std::string::npos);
}

}  // namespace
}  // namespace moxie
