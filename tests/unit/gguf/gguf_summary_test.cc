// The inspect summary: architecture keys and total vs active parameter counts of a
// small MoE layout, worked out by hand; the text and JSON reports name what they show.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "gguf_test_util.h"
#include "moxie/gguf/summary.h"
#include "moxie/gguf/writer.h"

namespace moxie::test {
namespace {

using ::testing::HasSubstr;

// n_embd 16, vocab 10, 2 layers, 8 experts (2 used) of n_ff 32, one shared expert of 64.
std::string write_moe(const std::string& path) {
  static std::vector<uint8_t> zeros(16 * 32 * 8 * 4);
  const std::vector<std::string> vocab(10, "t");
  GgufWriter w(path);
  w.add_string("general.architecture", "qwen2moe");
  w.add_u32("qwen2moe.block_count", 2);
  w.add_u32("qwen2moe.embedding_length", 16);
  w.add_u32("qwen2moe.attention.head_count", 4);
  w.add_u32("qwen2moe.attention.head_count_kv", 2);
  w.add_u64("qwen2moe.context_length", 4096);
  w.add_i32("qwen2moe.expert_count", 8);
  w.add_u32("qwen2moe.expert_used_count", 2);
  w.add_u32("qwen2moe.expert_feed_forward_length", 32);
  w.add_u32("qwen2moe.expert_shared_feed_forward_length", 64);
  w.add_u32("general.file_type", 1);
  w.add_string_array("tokenizer.ggml.tokens", vocab);
  auto tensor = [&](const std::string& name, std::vector<int64_t> ne) { w.add_tensor(name, DType::F32, ne, zeros.data()); };
  tensor("token_embd.weight", {16, 10});  // 160
  tensor("output.weight", {16, 10});      // 160
  for (int l = 0; l < 2; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    tensor(b + "attn_q.weight", {16, 16});             // 256
    tensor(b + "ffn_gate_inp.weight", {16, 8});        // 128
    tensor(b + "ffn_gate_exps.weight", {16, 32, 8});   // 4096
    tensor(b + "ffn_up_exps.weight", {16, 32, 8});     // 4096
    tensor(b + "ffn_down_exps.weight", {32, 16, 8});   // 4096
    tensor(b + "ffn_up_shexp.weight", {16, 64});       // 1024
  }
  w.finish();
  return path;
}

TEST(GgufSummary, MoeParameterCounts) {
  const std::string path = write_moe(temp_path("summary"));
  GgufFile f = GgufFile::open(path);
  const ModelSummary s = summarize_model(f);
  EXPECT_EQ(s.architecture, "qwen2moe");
  EXPECT_EQ(s.block_count, 2);
  EXPECT_EQ(s.embedding_length, 16);
  EXPECT_EQ(s.head_count, 4);
  EXPECT_EQ(s.head_count_kv, 2);
  EXPECT_EQ(s.context_length, 4096);
  EXPECT_EQ(s.expert_count, 8);
  EXPECT_EQ(s.expert_used_count, 2);
  EXPECT_EQ(s.expert_feed_forward_length, 32);
  EXPECT_EQ(s.expert_shared_feed_forward_length, 64);
  EXPECT_FALSE(s.expert_shared_count.has_value());
  EXPECT_EQ(s.vocab_size, 10);
  EXPECT_EQ(s.file_type, 1);
  const int64_t non_expert = 160 + 160 + 2 * (256 + 128 + 1024);
  const int64_t experts = 2 * 3 * 4096;
  EXPECT_EQ(s.total_params, non_expert + experts);
  EXPECT_EQ(s.routed_expert_params, experts);
  EXPECT_EQ(s.embedding_params, 160);
  EXPECT_TRUE(s.is_moe());
  EXPECT_EQ(s.active_params, non_expert + experts * 2 / 8);

  const std::string text = format_inspect_text(f);
  EXPECT_THAT(text, HasSubstr("tokenizer.ggml.tokens (array) = [string x 10]"));
  EXPECT_THAT(text, HasSubstr("blk.1.ffn_down_exps.weight"));
  EXPECT_THAT(text, HasSubstr("[32, 16, 8]"));
  EXPECT_THAT(text, HasSubstr("parameters (active per token)"));

  const auto j = nlohmann::json::parse(format_inspect_json(f, 3));
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j["tensors"].size(), f.tensors().size());
  EXPECT_EQ(j["tensors"][0]["name"], "token_embd.weight");
  EXPECT_EQ(j["tensors"][0]["ne"], nlohmann::json({16, 10}));
  EXPECT_EQ(j["summary"]["active_params"], s.active_params);
  EXPECT_EQ(j["summary"]["total_params"], s.total_params);
  const auto& tokens = j["metadata"][11];
  EXPECT_EQ(tokens["key"], "tokenizer.ggml.tokens");
  EXPECT_EQ(tokens["value"]["count"], 10);
  EXPECT_EQ(tokens["value"]["items"].size(), 3u);
  EXPECT_EQ(tokens["value"]["truncated"], true);
  std::remove(path.c_str());
}

TEST(GgufSummary, DenseModelActiveEqualsTotal) {
  const std::string path = temp_path("dense");
  const float z[64] = {};
  {
    GgufWriter w(path);
    w.add_string("general.architecture", "llama");
    const int64_t ne[] = {8, 8};
    w.add_tensor("blk.0.ffn_up.weight", DType::F32, ne, z);
    w.finish();
  }
  GgufFile f = GgufFile::open(path);
  const ModelSummary s = summarize_model(f);
  EXPECT_FALSE(s.is_moe());
  EXPECT_EQ(s.total_params, 64);
  EXPECT_EQ(s.active_params, 64);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace moxie::test
