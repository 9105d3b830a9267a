// Perplexity (llama-perplexity's windows) against a direct computation: every window run
// in one batch with all logits, log softmax in long double, the second half summed here.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "moxie/core/error.h"
#include "moxie/core/thread_pool.h"
#include "moxie/model/model.h"
#include "moxie/model/synth.h"
#include "moxie/runtime/perplexity.h"

namespace moxie {
namespace {

std::unique_ptr<Model> tiny_model() {
  std::string dir = (std::filesystem::temp_directory_path() / "moxie-ppl-XXXXXX").string();
  if (!mkdtemp(dir.data())) throw std::runtime_error("mkdtemp failed");
  SynthOptions o;
  o.arch = Arch::qwen3moe;
  write_synth_model(o, dir + "/m.gguf");
  std::unique_ptr<Model> m = Model::open(dir + "/m.gguf");
  std::filesystem::remove_all(dir);  // the mapping stays valid after the unlink
  return m;
}

std::vector<int32_t> tokens(int64_t n, int64_t n_vocab) {
  std::vector<int32_t> ids;
  uint64_t s = 12345;
  for (int64_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    ids.push_back(int32_t((s >> 33) % uint64_t(n_vocab)));
  }
  return ids;
}

long double nll_direct(const float* logits, int64_t n_vocab, int32_t target) {
  long double max = logits[0], sum = 0;
  for (int64_t i = 1; i < n_vocab; ++i) max = std::max<long double>(max, logits[i]);
  for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp((long double)logits[i] - max);
  return -((long double)logits[target] - max - std::log(sum));
}

TEST(Perplexity, MatchesDirectComputationOverWindows) {
  const std::unique_ptr<Model> m = tiny_model();
  const int64_t n_vocab = m->config().n_vocab, n_ctx = 16;
  const std::vector<int32_t> text = tokens(3 * n_ctx + 5, n_vocab);  // the 5-token tail is dropped
  ThreadPool pool(2);
  PerplexityOptions o;
  o.n_ctx = n_ctx;
  o.bos_id = 7;
  o.batch = 5;  // windows span several forward passes
  const PerplexityResult r = compute_perplexity(*m, pool, text, o);
  ASSERT_EQ(r.windows.size(), 3u);
  EXPECT_EQ(r.n_scored, 3 * (n_ctx - 1 - n_ctx / 2));

  long double total = 0, total_sq = 0;
  int64_t count = 0;
  for (int64_t w = 0; w < 3; ++w) {
    std::vector<int32_t> window(text.begin() + w * n_ctx, text.begin() + (w + 1) * n_ctx);
    window[0] = 7;  // BOS replaces the first token
    KvCache kv = m->make_kv_cache(1, n_ctx);
    ForwardContext ctx(pool);
    Batch b;
    b.add_sequence(window, 0, 0, true);
    std::vector<float> logits(size_t(n_ctx * n_vocab));
    m->forward(b, kv, ctx, logits.data());
    long double sum = 0;
    for (int64_t j = n_ctx / 2; j < n_ctx - 1; ++j) {
      const long double v = nll_direct(logits.data() + j * n_vocab, n_vocab, text[size_t(w * n_ctx + j + 1)]);
      sum += v;
      total_sq += v * v;
      ++count;
    }
    total += sum;
    EXPECT_NEAR(r.windows[size_t(w)].nll_sum, double(sum), 1e-4 * double(sum)) << "window " << w;
    EXPECT_NEAR(r.windows[size_t(w)].running_ppl, double(std::exp(total / count)), 1e-4 * double(std::exp(total / count)));
  }
  const long double mean = total / count;
  EXPECT_NEAR(r.ppl, double(std::exp(mean)), 1e-4 * double(std::exp(mean)));
  const long double se = std::exp(mean) * std::sqrt((total_sq / count - mean * mean) / (count - 1));
  EXPECT_NEAR(r.ppl_stderr, double(se), 1e-3 * double(se));
}

TEST(Perplexity, MaxWindowsLimitsTheWork) {
  const std::unique_ptr<Model> m = tiny_model();
  ThreadPool pool(1);
  PerplexityOptions o;
  o.n_ctx = 8;
  o.max_windows = 2;
  const PerplexityResult r = compute_perplexity(*m, pool, tokens(40, m->config().n_vocab), o);
  EXPECT_EQ(r.windows.size(), 2u);
  EXPECT_EQ(r.n_scored, 2 * 3);
}

TEST(Perplexity, NegativeLogLikelihoodByHand) {
  EXPECT_NEAR(negative_log_likelihood(std::vector<float>{0, 0}, 0), std::log(2.0), 1e-12);
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(negative_log_likelihood(std::vector<float>{1, 2, 3}, 2), -(3.0 - std::log(z)), 1e-12);
  // Large logits do not overflow: the maximum is subtracted first.
  EXPECT_NEAR(negative_log_likelihood(std::vector<float>{1000, 1000}, 1), std::log(2.0), 1e-12);
  EXPECT_THROW(negative_log_likelihood(std::vector<float>{1, 2}, 2), Error);
}

TEST(Perplexity, BadInputIsAnError) {
  const std::unique_ptr<Model> m = tiny_model();
  ThreadPool pool(1);
  const std::vector<int32_t> text = tokens(20, m->config().n_vocab);
  PerplexityOptions o;
  o.n_ctx = 16;  // 20 tokens < 2 windows
  EXPECT_THROW(compute_perplexity(*m, pool, text, o), Error);
  o.n_ctx = 1;
  EXPECT_THROW(compute_perplexity(*m, pool, text, o), Error);
  o.n_ctx = 8;
  o.batch = 0;
  EXPECT_THROW(compute_perplexity(*m, pool, text, o), Error);
  o.batch = 8;
  o.bos_id = int32_t(m->config().n_vocab);
  EXPECT_THROW(compute_perplexity(*m, pool, text, o), Error);
}

}  // namespace
}  // namespace moxie
