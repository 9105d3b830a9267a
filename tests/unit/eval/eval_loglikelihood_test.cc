// Multiple-choice log-likelihoods of LocalBackend against the numpy reference: the same
// token ids (context + each choice's continuation) run through tools/ref's forward, log
// softmax summed here in long double from its logits. Also perplexity of a text.
#include <gtest/gtest.h>

#include <cmath>

#include "moxie/eval/local_backend.h"
#include "moxie/eval/prompt.h"
#include "unit/model/model_test_util.h"

namespace moxie::eval {
namespace {

long double log_softmax_at(const float* logits, int64_t n_vocab, int32_t target) {
  long double max = logits[0], sum = 0;
  for (int64_t i = 1; i < n_vocab; ++i) max = std::max<long double>(max, logits[i]);
  for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp((long double)logits[i] - max);
  return (long double)logits[target] - max - std::log(sum);
}

struct Case {
  Arch arch;
  const char* preset;
};

class LoglikelihoodVsReference : public ::testing::TestWithParam<Case> {};

TEST_P(LoglikelihoodVsReference, ChoiceScoresEqualReference) {
  test::TempDir dir;
  const std::string path = test::synth_model(dir, GetParam().arch, GetParam().preset, DType::F32, 11);
  LocalBackend backend(path, 2, 256);
  Prompt ctx;
  ctx.text = "Question: What colour is a clear daytime sky?\nAnswer: ";  // trailing space moves into the choices
  const std::vector<std::string> choices = {"blue", "orange and red", "b"};
  const LocalBackend::EncodedChoices e = backend.encode_choices(ctx, choices);
  ASSERT_EQ(e.continuations.size(), 3u);

  std::vector<std::vector<int32_t>> prompts;
  for (const auto& c : e.continuations) {
    std::vector<int32_t> all = e.context;
    all.insert(all.end(), c.begin(), c.end());
    prompts.push_back(all);
  }
  const auto ref = test::reference_logits(path, prompts, dir.file("ref"));
  const ChoiceScores got = backend.score_choices(ctx, choices);
  const int64_t n_vocab = int64_t(ref[0].size() / prompts[0].size());
  int64_t expect_prompt_tokens = int64_t(e.context.size());
  for (size_t i = 0; i < choices.size(); ++i) {
    long double want = 0;
    const size_t n_ctx = e.context.size();
    for (size_t j = 0; j < e.continuations[i].size(); ++j)
      want += log_softmax_at(ref[i].data() + (n_ctx + j - 1) * n_vocab, n_vocab, e.continuations[i][j]);
    EXPECT_NEAR(got.logprob[i], double(want), 1e-4) << "choice " << i;
    EXPECT_EQ(got.n_tokens[i], int64_t(e.continuations[i].size()));
    expect_prompt_tokens += int64_t(e.continuations[i].size());
    std::printf("choice %zu: %zu tokens, moxie %.6f reference %.6f\n", i, e.continuations[i].size(), got.logprob[i],
                double(want));
  }
  EXPECT_EQ(got.prompt_tokens, expect_prompt_tokens);
}

INSTANTIATE_TEST_SUITE_P(Archs, LoglikelihoodVsReference,
                         ::testing::Values(Case{Arch::qwen3moe, "tiny"}, Case{Arch::qwen2moe, "tiny"},
                                           Case{Arch::deepseek2, "tiny"}),
                         [](const auto& info) { return std::string(arch_name(info.param.arch)); });

TEST(TextScore, PerplexityNllEqualsReference) {
  test::TempDir dir;
  const std::string path = test::synth_model(dir, Arch::qwen3moe, "tiny", DType::F32, 3);
  LocalBackend backend(path, 2, 256);
  Prompt p;
  p.text = "Rain fell on the old market square.";
  const std::vector<int32_t> ids = backend.encode_choices(p, {"x"}).context;
  const auto ref = test::reference_logits(path, {ids}, dir.file("ref"));
  const int64_t n_vocab = int64_t(ref[0].size() / ids.size());
  long double want = 0;
  for (size_t j = 1; j < ids.size(); ++j) want -= log_softmax_at(ref[0].data() + (j - 1) * n_vocab, n_vocab, ids[j]);
  const TextScore got = backend.score_text(p.text);
  EXPECT_EQ(got.n_scored, int64_t(ids.size()) - 1);
  EXPECT_NEAR(got.nll_sum, double(want), 1e-4);
}

TEST(EncodeChoices, ChoiceTokensAreTheSuffixOfTheWholeEncoding) {
  test::TempDir dir;
  const std::string path = test::synth_model(dir, Arch::qwen3moe, "tiny", DType::F32, 3);
  LocalBackend backend(path, 1, 256);
  Prompt p;
  p.text = "The answer is ";
  const auto e = backend.encode_choices(p, {"blue", " sky"});
  Prompt whole;
  whole.text = "The answer is blue";
  const std::vector<int32_t> all = backend.encode_choices(whole, {" !"}).context;
  std::vector<int32_t> joined = e.context;
  joined.insert(joined.end(), e.continuations[0].begin(), e.continuations[0].end());
  EXPECT_EQ(joined, all);  // "is" + " blue": the space went with the choice
}

}  // namespace
}  // namespace moxie::eval
