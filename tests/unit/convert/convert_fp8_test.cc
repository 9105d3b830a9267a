// DeepSeek-V3-style FP8 checkpoints: F8_E4M3 weights with 32x32 block scales
// (weight_scale_inv) converted to F32 must equal an independent numpy dequantization
// (fp8_reference.py) element for element, for plain, stacked-expert and kv_b tensors.
#include <gtest/gtest.h>

#include <cmath>

#include "convert_test_util.h"
#include "moxie/convert/fp8.h"

namespace moxie {
namespace {

// The format definition by hand: a few codes with known values.
TEST(Fp8E4M3, HandWorkedCodes) {
  EXPECT_EQ(convert::fp8_e4m3fn_to_fp32(0x00), 0.0f);
  EXPECT_EQ(convert::fp8_e4m3fn_to_fp32(0x38), 1.0f);            // e = 7, m = 0
  EXPECT_EQ(convert::fp8_e4m3fn_to_fp32(0x7e), 448.0f);          // e = 15, m = 6: the largest
  EXPECT_EQ(convert::fp8_e4m3fn_to_fp32(0xfe), -448.0f);
  EXPECT_EQ(convert::fp8_e4m3fn_to_fp32(0x01), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_EQ(convert::fp8_e4m3fn_to_fp32(0x08), std::ldexp(1.0f, -6));  // smallest normal
  EXPECT_EQ(convert::fp8_e4m3fn_to_fp32(0x3c), 1.5f);            // e = 7, m = 4
  EXPECT_TRUE(std::isnan(convert::fp8_e4m3fn_to_fp32(0x7f)));
  EXPECT_TRUE(std::isnan(convert::fp8_e4m3fn_to_fp32(0xff)));
}

std::vector<float> gguf_floats(const GgufFile& f, const std::string& name, int64_t first, int64_t n) {
  const GgufTensorInfo* t = f.find_tensor(name);
  EXPECT_NE(t, nullptr) << name;
  EXPECT_EQ(t->type, DType::F32);
  const auto* p = static_cast<const float*>(t->view.data) + first;
  return std::vector<float>(p, p + n);
}

TEST(ConvertFp8, BlockScaledWeightsMatchNumpy) {
  test::TempDir dir;
  const std::string original = test::synth_model(dir, Arch::deepseek2, "tiny", DType::F32, 9);
  const std::string hf = dir.file("hf"), out = dir.file("converted.gguf");
  test::hf_export(original, hf, "--dtype fp8 --fp8-block 32");
  const std::string cmd = "/usr/bin/python3 " + std::string(MOXIE_SOURCE_DIR) + "/tests/unit/convert/fp8_reference.py " +
                          hf + "/model.safetensors 32 " + dir.file("");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  test::convert_dir(hf, out, DType::F32);
  const GgufFile f = GgufFile::open(out);
  const ModelConfig c = read_model_config(f);

  // attn_output {n_head*v, n_embd} is o_proj as is.
  const auto o_proj = test::read_f32(dir.file("model.layers.0.self_attn.o_proj.weight.f32"));
  EXPECT_EQ(gguf_floats(f, "blk.0.attn_output.weight", 0, int64_t(o_proj.size())), o_proj);
  // Expert 1 of layer 1's stacked up projection.
  const auto up1 = test::read_f32(dir.file("model.layers.1.mlp.experts.1.up_proj.weight.f32"));
  const int64_t per_expert = c.n_embd * c.moe.n_ff_exp;
  ASSERT_EQ(int64_t(up1.size()), per_expert);
  EXPECT_EQ(gguf_floats(f, "blk.1.ffn_up_exps.weight", per_expert, per_expert), up1);
  // kv_b_proj [H*(nope+v), kv_lora]: attn_v_b {kv_lora, v, H} row (h, j) is kv_b row h*(nope+v)+nope+j,
  // attn_k_b {nope, kv_lora, H} element (n, c, h) is kv_b[h*(nope+v)+n][c].
  const auto kv_b = test::read_f32(dir.file("model.layers.0.self_attn.kv_b_proj.weight.f32"));
  const MlaConfig& m = c.mla;
  const int64_t H = c.n_head, lora = m.kv_lora_rank, nope = m.qk_nope, v = m.v_head;
  const auto v_b = gguf_floats(f, "blk.0.attn_v_b.weight", 0, H * v * lora);
  const auto k_b = gguf_floats(f, "blk.0.attn_k_b.weight", 0, H * lora * nope);
  for (int64_t h = 0; h < H; ++h) {
    for (int64_t j = 0; j < v; ++j) {
      for (int64_t col = 0; col < lora; ++col) {
        ASSERT_EQ(v_b[size_t((h * v + j) * lora + col)], kv_b[size_t((h * (nope + v) + nope + j) * lora + col)]);
      }
    }
    for (int64_t col = 0; col < lora; ++col) {
      for (int64_t n = 0; n < nope; ++n) {
        ASSERT_EQ(k_b[size_t((h * lora + col) * nope + n)], kv_b[size_t((h * (nope + v) + n) * lora + col)]);
      }
    }
  }
  // The converted model runs.
  const auto model = Model::open(out);
  ThreadPool pool(1);
  ForwardContext ctx(pool);
  const auto logits = test::moxie_logits(*model, test::prompt_tokens(3, c.n_vocab, 1), ctx);
  for (float x : logits) ASSERT_TRUE(std::isfinite(x));
}

}  // namespace
}  // namespace moxie
