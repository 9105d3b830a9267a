// deepseek2 beyond single prompts: the latent KV cache (incremental decoding and chunked
// prefill equal one recomputation; a batch of different sequences equals each run alone),
// the MLA softmax scale and RoPE magnitude against hand-worked numbers, the cache's size per
// token, and the features refused by name.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "deepseek2_variants.h"
#include "model_test_util.h"
#include "moxie/core/error.h"
#include "moxie/model/layers/attention_mla.h"
#include "same_logits.h"

namespace moxie {
namespace {

using test::expect_same_logits;
using test::logit_rows;

class Deepseek2Cache : public testing::Test {
 protected:
  void SetUp() override {
    path_ = test::synth_model(dir_, Arch::deepseek2, "tiny", DType::F32, 61);
    model_ = Model::open(path_);
    n_vocab_ = model_->config().n_vocab;
  }
  test::TempDir dir_;
  std::string path_;
  std::unique_ptr<Model> model_;
  int64_t n_vocab_ = 0;
};

TEST_F(Deepseek2Cache, IncrementalDecodingEqualsRecomputing) {
  ThreadPool pool(2);
  ForwardContext ctx(pool);
  const std::vector<int32_t> ids = test::prompt_tokens(24, n_vocab_, 7);
  const std::vector<float> full = test::moxie_logits(*model_, ids, ctx);
  KvCache kv = model_->make_kv_cache(1, int64_t(ids.size()));
  int64_t pos = 0;
  for (const int64_t chunk : {5, 1, 1, 7, 1, 9}) {  // chunked prefill, then single-token decodes
    Batch b;
    b.add_sequence({ids.begin() + pos, ids.begin() + pos + chunk}, 0, pos, true);
    std::vector<float> logits(size_t(chunk * n_vocab_));
    model_->forward(b, kv, ctx, logits.data());
    expect_same_logits(logits, logit_rows(full, n_vocab_, pos, chunk),
                       "positions " + std::to_string(pos) + ".." + std::to_string(pos + chunk - 1));
    pos += chunk;
  }
  ASSERT_EQ(pos, int64_t(ids.size()));
  EXPECT_EQ(kv.length(0), pos);
}

TEST_F(Deepseek2Cache, RewoundSequenceRecomputesTheSameLogits) {
  ThreadPool pool(1);
  ForwardContext ctx(pool);
  const std::vector<int32_t> ids = test::prompt_tokens(12, n_vocab_, 8);
  const std::vector<float> full = test::moxie_logits(*model_, ids, ctx);
  KvCache kv = model_->make_kv_cache(1, 16);
  Batch b;
  b.add_sequence(ids, 0, 0, false);
  std::vector<float> last(static_cast<size_t>(n_vocab_));
  model_->forward(b, kv, ctx, last.data());
  kv.truncate(0, 8);  // drop 4 tokens (rejected drafts), then feed them again
  b.clear();
  b.add_sequence({ids.begin() + 8, ids.end()}, 0, 8, true);
  std::vector<float> again(size_t(4 * n_vocab_));
  model_->forward(b, kv, ctx, again.data());
  expect_same_logits(again, logit_rows(full, n_vocab_, 8, 4), "after truncate");
}

TEST_F(Deepseek2Cache, BatchOfSequencesEqualsEachAlone) {
  ThreadPool pool(2);
  ForwardContext ctx(pool);
  const std::vector<std::vector<int32_t>> seqs = {test::prompt_tokens(9, n_vocab_, 21), test::prompt_tokens(4, n_vocab_, 22),
                                                  test::prompt_tokens(13, n_vocab_, 23)};
  // One batch, the sequences' tokens interleaved round-robin, all logits wanted.
  KvCache kv = model_->make_kv_cache(int64_t(seqs.size()), 16);
  Batch b;
  std::vector<std::vector<int64_t>> row_of(seqs.size());  // batch index of each sequence's tokens
  for (size_t i = 0; i < 13; ++i) {
    for (size_t s = 0; s < seqs.size(); ++s) {
      if (i >= seqs[s].size()) continue;
      row_of[s].push_back(b.size());
      b.add(seqs[s][i], int32_t(s), int64_t(i), true);
    }
  }
  std::vector<float> logits(size_t(b.size() * n_vocab_));
  model_->forward(b, kv, ctx, logits.data());
  for (size_t s = 0; s < seqs.size(); ++s) {
    const std::vector<float> alone = test::moxie_logits(*model_, seqs[s], ctx);
    std::vector<float> mine;
    for (int64_t r : row_of[s]) {
      const std::vector<float> row = logit_rows(logits, n_vocab_, r, 1);
      mine.insert(mine.end(), row.begin(), row.end());
    }
    expect_same_logits(mine, alone, "sequence " + std::to_string(s) + " in the batch");
  }
  // A decode step for all three at once, each at its own position.
  Batch step;
  for (size_t s = 0; s < seqs.size(); ++s) step.add(int32_t(s + 3), int32_t(s), int64_t(seqs[s].size()), true);
  std::vector<float> next(size_t(step.size() * n_vocab_));
  model_->forward(step, kv, ctx, next.data());
  for (size_t s = 0; s < seqs.size(); ++s) {
    std::vector<int32_t> longer = seqs[s];
    longer.push_back(int32_t(s + 3));
    const std::vector<float> alone = test::moxie_logits(*model_, longer, ctx);
    expect_same_logits(logit_rows(next, n_vocab_, int64_t(s), 1),
                       logit_rows(alone, n_vocab_, int64_t(longer.size()) - 1, 1),
                "decode step of sequence " + std::to_string(s));
  }
}

// DeepSeek-V3's attention numbers, worked by hand in the reference notes (moe-math-and-gguf.md
// 2.3): qk_head_dim 192, YaRN factor 40, mscale_all_dim 1 -> 0.13523378; V2-Lite's 0.707 ->
// 0.1147214; without YaRN 1/sqrt(192).
ModelConfig mla_config(RopeScaling scaling, float yarn_log_multiplier) {
  ModelConfig c;
  c.arch = Arch::deepseek2;
  c.n_layer = 61;
  c.mla = {1536, 512, 128, 64, 128};
  c.rope.n_rot = 64;
  c.rope.scaling = scaling;
  c.rope.factor = scaling == RopeScaling::none ? 1.0f : 40.0f;
  c.rope.n_ctx_orig = 4096;
  c.rope.yarn_log_multiplier = yarn_log_multiplier;
  return c;
}

TEST(Deepseek2Mla, SoftmaxScaleCarriesMscaleSquared) {
  EXPECT_NEAR(mla_softmax_scale(mla_config(RopeScaling::yarn, 0.1f)), 0.13523378, 1e-7);
  EXPECT_NEAR(mla_softmax_scale(mla_config(RopeScaling::yarn, 0.0707f)), 0.1147214, 1e-6);
  EXPECT_NEAR(mla_softmax_scale(mla_config(RopeScaling::yarn, 0.0f)), 0.07216878, 1e-7);
  EXPECT_NEAR(mla_softmax_scale(mla_config(RopeScaling::none, 0.1f)), 0.07216878, 1e-7);
}

TEST(Deepseek2Mla, RopeHasUnitMagnitudeAndYarnFrequencies) {
  const kernels::RopeCache yarn(mla_rope_params(mla_config(RopeScaling::yarn, 0.1f)));
  EXPECT_NEAR(yarn.magnitude(), 1.0, 1e-7);  // the cancelling attn_factor is stored as a float
  // Pairs up to the low correction dim (10) keep base^(-2i/64); pairs from 23 on are / 40.
  EXPECT_NEAR(yarn.inv_freq(5), std::pow(10000.0, -10.0 / 64), 1e-12);
  EXPECT_NEAR(yarn.inv_freq(30), std::pow(10000.0, -60.0 / 64) / 40, 1e-12);
  const kernels::RopeCache plain(mla_rope_params(mla_config(RopeScaling::none, 0.0f)));
  EXPECT_NEAR(plain.magnitude(), 1.0, 1e-12);
}

TEST(Deepseek2Mla, CacheHoldsLatentAndRopeKeyOnly) {
  const KvShape s = mla_kv_shape(mla_config(RopeScaling::yarn, 0.1f));
  EXPECT_EQ(s.n_layer, 61);
  EXPECT_EQ(s.k_width, 512);
  EXPECT_EQ(s.v_width, 64);
  EXPECT_EQ(KvCache::bytes_per_token(s), 61 * 576 * 4);  // 140,544 bytes per token for V3
}

TEST_F(Deepseek2Cache, RefusesMultiTokenPredictionLayers) {
  const std::string bad = dir_.file("mtp.gguf");
  test::GgufRewrite r;
  const int64_t n_embd = model_->config().n_embd;
  const std::string blk = "blk." + std::to_string(model_->config().n_layer);
  r.set_keys.emplace_back("deepseek2.block_count", GgufValue::make_u32(uint32_t(model_->config().n_layer + 1)));
  r.set_keys.emplace_back("deepseek2.nextn_predict_layers", GgufValue::make_u32(1));
  r.add_tensors.push_back({blk + ".nextn.eh_proj.weight", {2 * n_embd, n_embd}, std::vector<float>(size_t(2 * n_embd * n_embd))});
  test::rewrite_gguf(path_, bad, r);
  try {
    Model::open(bad);
    FAIL() << "a file with an MTP layer was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("multi-token-prediction"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(blk + ".nextn.eh_proj.weight"), std::string::npos) << e.what();
  }
}

TEST_F(Deepseek2Cache, RefusesTheLegacyJointKvB) {
  const std::string bad = dir_.file("kv_b.gguf");
  const ModelConfig& c = model_->config();
  const int64_t kv_b_rows = c.n_head * (c.mla.qk_nope + c.mla.v_head);
  test::GgufRewrite r;
  r.add_tensors.push_back({"blk.0.attn_kv_b.weight", {c.mla.kv_lora_rank, kv_b_rows},
                           std::vector<float>(size_t(c.mla.kv_lora_rank * kv_b_rows))});
  test::rewrite_gguf(path_, bad, r);
  try {
    Model::open(bad);
    FAIL() << "a file with attn_kv_b was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("attn_kv_b"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("attn_k_b/attn_v_b"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace moxie
