// MLA's two forms (attention_mla_parts.h): the absorbed one (decode) and the decompressed one
// (prefill) are the same attention, so forcing either on the same tokens must give the same
// logits, and a batch where the cost rule picks each form for different sequences must give
// every sequence the logits it gets alone. The golden tests tie the default (decompressed for
// their prompts) to the numpy reference; here the absorbed form is tied to it through that.
//
// Tolerance, F32 weights (same_logits.h): 1e-5 of max |logit|. Both forms compute in fp32 and
// differ only in association ((W_UK^T q) . c against q . (W_UK c), and the output's order of
// sums), ~1e-6 relative per dot product; measured below 1e-6 of max |logit|. A wrong head
// slice, scale or causal limit moves logits by their own size (softmax over the whole tile
// instead of each token's positions: diff 3.8 of max |logit| 4.5).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "model_test_util.h"
#include "moxie/model/layers/attention_mla.h"
#include "moxie/model/layers/attention_mla_parts.h"
#include "same_logits.h"

namespace moxie {
namespace {

// Forces a form for one scope, then restores the previous setting.
class FormScope {
 public:
  explicit FormScope(MlaForm f) : saved_(mla_form()) { set_mla_form(f); }
  ~FormScope() { set_mla_form(saved_); }
  FormScope(const FormScope&) = delete;
  FormScope& operator=(const FormScope&) = delete;

 private:
  MlaForm saved_;
};

using test::expect_same_logits;
using test::logit_rows;

// A sequence of n new tokens ending at cached length n_pos (token indices do not matter).
mla::SeqTokens new_tokens(int64_t n, int64_t n_pos) { return {0, n_pos, std::vector<int64_t>(size_t(n))}; }

TEST(Deepseek2Forms, CostRuleKeepsDecodeAbsorbedAndDecompressesPrefills) {
  const FormScope automatic(MlaForm::automatic);
  const mla::Dims v3{128, 1536, 512, 128, 64, 128};
  EXPECT_FALSE(mla::choose_decompressed(v3, new_tokens(1, 4096)));   // decode
  EXPECT_FALSE(mla::choose_decompressed(v3, new_tokens(8, 4096)));   // a few tokens on a long prefix
  EXPECT_TRUE(mla::choose_decompressed(v3, new_tokens(512, 512)));   // a prompt
  EXPECT_TRUE(mla::choose_decompressed(v3, new_tokens(512, 4096)));  // a chunk on a long prefix
  EXPECT_TRUE(mla::choose_decompressed(v3, new_tokens(2, 2)));       // nothing cached: no extra rows
  {
    const FormScope forced(MlaForm::absorbed);
    EXPECT_FALSE(mla::choose_decompressed(v3, new_tokens(512, 512)));
  }
  const FormScope forced(MlaForm::decompressed);
  EXPECT_TRUE(mla::choose_decompressed(v3, new_tokens(1, 4096)));
}

class Deepseek2Forms : public testing::TestWithParam<const char*> {};

TEST_P(Deepseek2Forms, PromptLogitsAreTheSameInBothForms) {
  test::TempDir dir;
  const std::unique_ptr<Model> model = Model::open(test::synth_model(dir, Arch::deepseek2, GetParam(), DType::F32, 71));
  const std::vector<int32_t> ids = test::prompt_tokens(48, model->config().n_vocab, 72);
  ThreadPool pool(2);
  ForwardContext ctx(pool);
  std::vector<float> absorbed, decompressed;
  {
    const FormScope f(MlaForm::absorbed);
    absorbed = test::moxie_logits(*model, ids, ctx);
  }
  {
    const FormScope f(MlaForm::decompressed);
    decompressed = test::moxie_logits(*model, ids, ctx);
  }
  expect_same_logits(decompressed, absorbed, std::string(GetParam()) + ", 48 tokens");
}

INSTANTIATE_TEST_SUITE_P(F32, Deepseek2Forms, testing::Values("tiny", "small"));

// One batch: sequence 0 continues a 20-token cached prefix with 30 tokens, sequence 1 decodes
// one token after 11, sequence 2 is a fresh 16-token prompt, tokens interleaved. The cost rule
// decompresses 0 and 2 and keeps 1 absorbed (checked first, so the batch really mixes); every
// sequence's logits must equal its whole history run alone in the absorbed form.
TEST(Deepseek2FormsBatch, MixedFormsMatchEachSequenceAlone) {
  test::TempDir dir;
  const std::unique_ptr<Model> model = Model::open(test::synth_model(dir, Arch::deepseek2, "tiny", DType::F32, 73));
  const int64_t n_vocab = model->config().n_vocab;
  const mla::Dims d = mla::dims_of(model->config());
  const int64_t cached[3] = {20, 11, 0}, fresh[3] = {30, 1, 16};
  {
    const FormScope automatic(MlaForm::automatic);
    for (int s = 0; s < 3; ++s) {
      EXPECT_EQ(mla::choose_decompressed(d, new_tokens(fresh[s], cached[s] + fresh[s])), s != 1) << "sequence " << s;
    }
  }
  std::vector<std::vector<int32_t>> ids;
  for (int s = 0; s < 3; ++s) ids.push_back(test::prompt_tokens(cached[s] + fresh[s], n_vocab, 80 + uint64_t(s)));

  ThreadPool pool(2);
  ForwardContext ctx(pool);
  KvCache kv = model->make_kv_cache(3, 64);
  for (int s = 0; s < 2; ++s) {  // the cached prefixes
    Batch b;
    b.add_sequence({ids[size_t(s)].begin(), ids[size_t(s)].begin() + cached[s]}, s, 0, false);
    std::vector<float> last(static_cast<size_t>(n_vocab));
    model->forward(b, kv, ctx, last.data());
  }
  Batch b;
  std::vector<std::vector<int64_t>> row_of(3);
  for (int64_t i = 0; i < 30; ++i) {
    for (int s = 0; s < 3; ++s) {
      if (i >= fresh[s]) continue;
      row_of[size_t(s)].push_back(b.size());
      b.add(ids[size_t(s)][size_t(cached[s] + i)], s, cached[s] + i, true);
    }
  }
  std::vector<float> logits(size_t(b.size() * n_vocab));
  {
    const FormScope automatic(MlaForm::automatic);
    model->forward(b, kv, ctx, logits.data());
  }
  const FormScope absorbed(MlaForm::absorbed);
  for (int s = 0; s < 3; ++s) {
    const std::vector<float> alone = test::moxie_logits(*model, ids[size_t(s)], ctx);
    std::vector<float> mine;
    for (const int64_t r : row_of[size_t(s)]) {
      const std::vector<float> row = logit_rows(logits, n_vocab, r, 1);
      mine.insert(mine.end(), row.begin(), row.end());
    }
    expect_same_logits(mine, logit_rows(alone, n_vocab, cached[s], fresh[s]), "sequence " + std::to_string(s));
  }
}

}  // namespace
}  // namespace moxie
