// moxie quantize: the types each recipe gives (checked against the rules of docs/convert.md
// written out by hand for the model at hand), and the logits of the quantized model
// against the numpy reference run on the same quantized file.
#include <gtest/gtest.h>

#include <map>

#include "convert_test_util.h"
#include "moxie/core/error.h"
#include "moxie/quantize/quantizer.h"
#include "moxie/quantize/recipe.h"

namespace moxie {
namespace {

std::string quantize(const test::TempDir& dir, const std::string& in, const std::string& recipe) {
  quantize::QuantizeOptions o;
  o.in_path = in;
  o.out_path = dir.file(recipe + ".gguf");
  o.recipe = recipe;
  o.n_threads = 2;
  quantize::quantize_gguf(o);
  return o.out_path;
}

std::map<std::string, DType> types_of(const GgufFile& f) {
  std::map<std::string, DType> m;
  for (const GgufTensorInfo& t : f.tensors()) m[std::string(t.name)] = t.type;
  return m;
}

TEST(UseMoreBits, LlamaCppLayerChoice) {
  // n_layer = 16: the first two and last two layers, then every third from layer 4.
  std::vector<int64_t> chosen;
  for (int64_t il = 0; il < 16; ++il) {
    if (quantize::use_more_bits(il, 16)) chosen.push_back(il);
  }
  EXPECT_EQ(chosen, (std::vector<int64_t>{0, 1, 4, 7, 10, 13, 14, 15}));
}

// qwen3moe "small": n_embd 256, 2 layers, 16 experts of 256, head_dim 64, 4 heads.
TEST(QuantizeRecipe, LayerOfReadsBlkNamesAndRefusesMalformedOnes) {
  EXPECT_EQ(quantize::layer_of("blk.0.attn_q.weight"), 0);
  EXPECT_EQ(quantize::layer_of("blk.47.ffn_down_exps.weight"), 47);
  EXPECT_EQ(quantize::layer_of("token_embd.weight"), -1);
  for (const char* bad : {"blk.x.attn_q.weight", "blk..weight", "blk.99999999999999999999.weight", "blk.-1.w"}) {
    try {
      quantize::layer_of(bad);
      ADD_FAILURE() << bad << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(QuantizeRecipe, Q4KMTypesPerTensor) {
  test::TempDir dir;
  const std::string f32 = test::synth_model(dir, Arch::qwen3moe, "small", DType::F32, 4);
  const GgufFile q = GgufFile::open(quantize(dir, f32, "q4_k_m"));
  const auto t = types_of(q);
  EXPECT_EQ(q.get_u32("general.file_type"), 15u);
  EXPECT_EQ(t.at("output.weight"), DType::Q6_K);
  EXPECT_EQ(t.at("token_embd.weight"), DType::Q4_K);
  EXPECT_EQ(t.at("output_norm.weight"), DType::F32);
  for (int il = 0; il < 2; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    const DType more = il == 1 ? DType::Q6_K : DType::Q4_K;  // use_more_bits(1, 2): the last eighth
    EXPECT_EQ(t.at(p + "attn_v.weight"), more) << il;
    EXPECT_EQ(t.at(p + "ffn_down_exps.weight"), more) << il;
    EXPECT_EQ(t.at(p + "attn_q.weight"), DType::Q4_K);
    EXPECT_EQ(t.at(p + "ffn_gate_exps.weight"), DType::Q4_K);
    EXPECT_EQ(t.at(p + "ffn_gate_inp.weight"), DType::F32);  // the router
    EXPECT_EQ(t.at(p + "attn_norm.weight"), DType::F32);
    EXPECT_EQ(t.at(p + "attn_q_norm.weight"), DType::F32);
  }
}

// Rows that are not whole 256-blocks (tiny: n_embd 64) fall back to Q8_0.
TEST(QuantizeRecipe, RowsNotWholeBlocksFallBack) {
  test::TempDir dir;
  const std::string f32 = test::synth_model(dir, Arch::qwen3moe, "tiny", DType::F32, 4);
  const auto t = types_of(GgufFile::open(quantize(dir, f32, "q4_k_m")));
  EXPECT_EQ(t.at("blk.0.attn_q.weight"), DType::Q8_0);
  EXPECT_EQ(t.at("output.weight"), DType::Q8_0);
  const auto t8 = types_of(GgufFile::open(quantize(dir, f32, "q8_0")));
  EXPECT_EQ(t8.at("blk.0.ffn_up_exps.weight"), DType::Q8_0);
  EXPECT_EQ(t8.at("blk.0.ffn_norm.weight"), DType::F32);
}

TEST(QuantizeRecipe, UnknownRecipeAndRequantizeAreRefused) {
  test::TempDir dir;
  const std::string f32 = test::synth_model(dir, Arch::qwen3, "tiny", DType::F32, 4);
  quantize::QuantizeOptions o;
  o.in_path = f32;
  o.out_path = dir.file("x.gguf");
  o.recipe = "q3_xx";
  try {
    quantize::quantize_gguf(o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("q3_xx"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("q4_k_m"), std::string::npos);
  }
  o.in_path = quantize(dir, f32, "q8_0");
  o.recipe = "q4_0";
  try {
    quantize::quantize_gguf(o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("allow-requantize"), std::string::npos) << e.what();
  }
}

// The metadata survives: the quantized model has the same config and tokenizer.
TEST(QuantizeRecipe, MetadataIsCopied) {
  test::TempDir dir;
  const std::string f32 = test::synth_model(dir, Arch::deepseek2, "tiny", DType::F32, 4);
  const GgufFile a = GgufFile::open(f32), b = GgufFile::open(quantize(dir, f32, "q8_0"));
  for (const GgufKeyValue& kv : a.metadata()) {
    if (kv.key == "general.file_type" || kv.key == "general.quantization_version") continue;
    EXPECT_NE(b.find(kv.key), nullptr) << kv.key;
  }
  EXPECT_EQ(b.get_string_array("tokenizer.ggml.tokens").size(), a.get_string_array("tokenizer.ggml.tokens").size());
  EXPECT_EQ(read_model_config(b).mla.kv_lora_rank, read_model_config(a).mla.kv_lora_rank);
}

// moxie on the quantized file against the numpy reference on the same file, with the
// model golden tests' yardstick: the reference's own error from quantization (reference
// on the quantized file vs on the F32 original), over positions routed alike.
class QuantizedLogits : public testing::TestWithParam<const char*> {};

TEST_P(QuantizedLogits, WithinTheReferenceQuantizationError) {
  test::TempDir dir;
  const std::string f32 = test::synth_model(dir, Arch::qwen3moe, "small", DType::F32, 6);
  const std::string q = quantize(dir, f32, GetParam());
  const auto model = Model::open(q);
  const int64_t n_vocab = model->config().n_vocab, n_tok = 7;
  const std::vector<int32_t> ids = test::prompt_tokens(n_tok, n_vocab, 8);
  const auto ref_q = test::reference_logits(q, {ids}, dir.file("ref_q"), true)[0];
  const auto ref_f32 = test::reference_logits(f32, {ids}, dir.file("ref_f32"))[0];
  ThreadPool pool(2);
  ForwardContext ctx(pool);
  test::Trace trace;
  const auto got = test::moxie_logits(*model, ids, ctx, &trace);
  const auto differs = test::routing_differs(trace, dir.file("ref_q"), 0, model->config().n_layer, n_tok);
  std::vector<float> g, w, wf;
  int n_differ = 0;
  for (int64_t t = 0; t < n_tok; ++t) {
    if (differs[size_t(t)]) {
      ++n_differ;
      continue;
    }
    g.insert(g.end(), got.begin() + t * n_vocab, got.begin() + (t + 1) * n_vocab);
    w.insert(w.end(), ref_q.begin() + t * n_vocab, ref_q.begin() + (t + 1) * n_vocab);
    wf.insert(wf.end(), ref_f32.begin() + t * n_vocab, ref_f32.begin() + (t + 1) * n_vocab);
  }
  const test::Diff mine = test::diff(g, w), ref_err = test::diff(w, wf);
  std::printf("%s: moxie vs ref(q): mean %.3g max %.3g; ref(q) vs ref(f32): mean %.3g max %.3g; %d of %lld positions routed differently\n",
              GetParam(), mine.mean_abs, mine.max_abs, ref_err.mean_abs, ref_err.max_abs, n_differ,
              static_cast<long long>(n_tok));
  EXPECT_LE(n_differ, 1);
  EXPECT_LE(mine.mean_abs, 1.5 * ref_err.mean_abs);
  EXPECT_LE(mine.max_abs, 2.0 * ref_err.max_abs);
}

INSTANTIATE_TEST_SUITE_P(Recipes, QuantizedLogits, testing::Values("q4_k_m", "q8_0", "q5_k_m", "q6_k"));

}  // namespace
}  // namespace moxie
