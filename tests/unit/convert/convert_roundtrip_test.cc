// moxie convert, end to end: a synthetic GGUF model of each supported architecture is
// exported as a Hugging Face checkpoint by tools/ref/hf_export.py (the inverse of
// llama.cpp's converter, in numpy) and converted back. The result must have the same
// tensors, byte for byte, the same tokenizer keys, and identical logits.
#include <gtest/gtest.h>

#include <filesystem>

#include "convert_test_util.h"
#include "moxie/core/half.h"
#include "moxie/quant/quant.h"

namespace moxie {
namespace {

struct Case {
  Arch arch;
  DType type;  // of the synthetic model's matrices; the export keeps them exactly
};

class ConvertRoundTrip : public testing::TestWithParam<Case> {};

void expect_same_tokenizer(const GgufFile& a, const GgufFile& b) {
  const auto ta = a.get_string_array("tokenizer.ggml.tokens"), tb = b.get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); ++i) EXPECT_EQ(ta[i], tb[i]) << "token " << i;
  const auto ma = a.get_string_array("tokenizer.ggml.merges"), mb = b.get_string_array("tokenizer.ggml.merges");
  ASSERT_EQ(ma.size(), mb.size());
  for (size_t i = 0; i < ma.size(); ++i) EXPECT_EQ(ma[i], mb[i]) << "merge " << i;
  EXPECT_EQ(a.get_string("tokenizer.ggml.pre"), b.get_string("tokenizer.ggml.pre"));
  EXPECT_EQ(a.get_u32("tokenizer.ggml.bos_token_id"), b.get_u32("tokenizer.ggml.bos_token_id"));
  EXPECT_EQ(a.get_u32("tokenizer.ggml.eos_token_id"), b.get_u32("tokenizer.ggml.eos_token_id"));
  EXPECT_EQ(a.get_bool("tokenizer.ggml.add_bos_token"), b.get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_EQ(a.get_string("tokenizer.chat_template"), b.get_string("tokenizer.chat_template"));
  const auto types_a = a.get_i64_array("tokenizer.ggml.token_type"), types_b = b.get_i64_array("tokenizer.ggml.token_type");
  EXPECT_EQ(types_a, types_b);
}

TEST_P(ConvertRoundTrip, SameTensorsTokenizerAndLogits) {
  const Case& c = GetParam();
  test::TempDir dir;
  const std::string original = test::synth_model(dir, c.arch, "tiny", c.type, 7);
  const std::string hf = dir.file("hf"), out = dir.file("converted.gguf");
  test::hf_export(original, hf, c.type == DType::BF16 ? "--dtype bf16" : "--dtype f32");
  const convert::ConvertResult r = test::convert_dir(hf, out, c.type);
  EXPECT_TRUE(r.notes.empty()) << r.notes[0];
  const GgufFile a = GgufFile::open(original), b = GgufFile::open(out);
  // BF16: the converter keeps routers in F32 (as llama.cpp's does), holding the same values,
  // so the logits agree within the rounding of the activations the BF16 kernels do.
  const bool bf16 = c.type == DType::BF16;
  test::expect_same_tensors(a, b, bf16);
  expect_same_tokenizer(a, b);
  EXPECT_EQ(b.get_string("general.architecture"), arch_name(c.arch));
  test::expect_same_logits(original, out, bf16 ? 1e-2 : 0.0);
}

std::string case_name(const testing::TestParamInfo<Case>& info) {
  return std::string(arch_name(info.param.arch)) + "_" + std::string(dtype_name(info.param.type));
}

INSTANTIATE_TEST_SUITE_P(Archs, ConvertRoundTrip,
                         testing::Values(Case{Arch::qwen3moe, DType::F32}, Case{Arch::qwen2moe, DType::F32},
                                         Case{Arch::deepseek2, DType::F32}, Case{Arch::llama, DType::F32},
                                         Case{Arch::qwen2, DType::F32}, Case{Arch::qwen3, DType::F32},
                                         Case{Arch::qwen3moe, DType::BF16}, Case{Arch::deepseek2, DType::BF16}),
                         case_name);

// Shards named by model.safetensors.index.json read like one file.
TEST(ConvertSharded, IndexAndShardsGiveTheSameModel) {
  test::TempDir dir;
  const std::string original = test::synth_model(dir, Arch::qwen3moe, "tiny", DType::F32, 11);
  const std::string hf = dir.file("hf"), out = dir.file("converted.gguf");
  test::hf_export(original, hf, "--shard-bytes 200000");
  ASSERT_TRUE(std::filesystem::exists(hf + "/model.safetensors.index.json"));
  ASSERT_TRUE(std::filesystem::exists(hf + "/model-00002-of-00005.safetensors") ||
              std::filesystem::exists(hf + "/model-00002-of-00004.safetensors") ||
              std::filesystem::exists(hf + "/model-00002-of-00003.safetensors"));
  test::convert_dir(hf, out, DType::F32);
  test::expect_same_tensors(GgufFile::open(original), GgufFile::open(out));
  test::expect_same_logits(original, out);
}

// An F32 model exported as BF16 and converted to F32: every matrix element is the bf16
// rounding of the original (round to nearest even), every vector is exact.
TEST(ConvertBf16, MatricesAreTheBf16RoundingOfTheOriginal) {
  test::TempDir dir;
  const std::string original = test::synth_model(dir, Arch::qwen2moe, "tiny", DType::F32, 5);
  const std::string hf = dir.file("hf"), out = dir.file("converted.gguf");
  test::hf_export(original, hf, "--dtype bf16");
  test::convert_dir(hf, out, DType::F32);
  const GgufFile a = GgufFile::open(original), b = GgufFile::open(out);
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (size_t i = 0; i < a.tensors().size(); ++i) {
    const GgufTensorInfo &x = a.tensors()[i], &y = b.tensors()[i];
    ASSERT_EQ(y.type, DType::F32);
    const auto* px = static_cast<const float*>(x.view.data);
    const auto* py = static_cast<const float*>(y.view.data);
    // HF stores Qwen2-MoE's shared-expert gate as a [1, n_embd] matrix, so it is rounded too.
    const bool matrix = x.n_dims >= 2 || std::string(x.name).find("ffn_gate_inp_shexp") != std::string::npos;
    for (int64_t k = 0; k < x.n_elements(); ++k) {
      const float want = matrix ? bf16_to_fp32(fp32_to_bf16(px[k])) : px[k];
      ASSERT_EQ(py[k], want) << x.name << " element " << k;
    }
  }
}

}  // namespace
}  // namespace moxie
