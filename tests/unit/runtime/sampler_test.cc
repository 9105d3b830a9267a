// Every stage of the sampler chain against hand-computed expectations, seeded determinism,
// sampling frequencies against the softmax, and stop strings across token boundaries.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "moxie/core/error.h"
#include "moxie/core/random.h"
#include "moxie/runtime/sampler/sampler.h"
#include "moxie/runtime/sampler/stop.h"

namespace moxie {
namespace {

std::set<int32_t> support(SamplingParams p, const std::vector<float>& logits, int draws = 400) {
  std::set<int32_t> seen;
  for (int i = 0; i < draws; ++i) {
    p.seed = uint64_t(i);
    Sampler s(p, int32_t(logits.size()));
    seen.insert(s.sample(logits, {}).token);
  }
  return seen;
}

TEST(Sampler, GreedyPicksArgmaxLowerIdOnTies) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p, 4);
  EXPECT_EQ(s.sample(std::vector<float>{1, 3, 3, 2}, {}).token, 1);
}

TEST(Sampler, LogitBiasCanForceAndForbid) {
  SamplingParams p;
  p.temperature = 0;
  p.logit_bias = {{0, 100.0f}};
  EXPECT_EQ(Sampler(p, 3).sample(std::vector<float>{0, 5, 1}, {}).token, 0);
  p.logit_bias = {{1, -INFINITY}};
  EXPECT_EQ(Sampler(p, 3).sample(std::vector<float>{0, 5, 1}, {}).token, 2);
}

TEST(Sampler, RepetitionPenaltyDividesPositiveMultipliesNegative) {
  SamplingParams p;
  p.temperature = 0;
  p.repeat_penalty = 2.0f;
  // token 0: 3 -> 1.5 (seen), token 1: 2 (unseen) wins.
  EXPECT_EQ(Sampler(p, 3).sample(std::vector<float>{3, 2, -1}, std::vector<int32_t>{0}).token, 1);
  // negative logits get more negative: -1 -> -2 for token 2, so token 1 (-1.5) wins.
  EXPECT_EQ(Sampler(p, 3).sample(std::vector<float>{-5, -1.5f, -1}, std::vector<int32_t>{2}).token, 1);
  // the window: token 0 was seen 3 tokens ago, outside repeat_last_n = 2.
  p.repeat_last_n = 2;
  EXPECT_EQ(Sampler(p, 3).sample(std::vector<float>{3, 2, -1}, std::vector<int32_t>{0, 2, 2}).token, 0);
}

TEST(Sampler, PresenceAndFrequencyPenalties) {
  SamplingParams p;
  p.temperature = 0;
  p.frequency_penalty = 1.0f;
  // token 0 seen 3 times: 5 - 3 = 2 < token 1's 2.5.
  EXPECT_EQ(Sampler(p, 2).sample(std::vector<float>{5, 2.5f}, std::vector<int32_t>{0, 0, 0}).token, 1);
  p.frequency_penalty = 0;
  p.presence_penalty = 1.0f;  // once, however often: 5 - 1 = 4 > 2.5
  EXPECT_EQ(Sampler(p, 2).sample(std::vector<float>{5, 2.5f}, std::vector<int32_t>{0, 0, 0}).token, 0);
}

TEST(Sampler, TopKTopPMinPLimitTheSupport) {
  // probabilities at temperature 1: ln weights 4, 2, 1, 1 (/8) -> 0.5, 0.25, 0.125, 0.125
  const std::vector<float> logits = {float(std::log(4.0)), float(std::log(2.0)), 0.0f, 0.0f};
  SamplingParams p;
  EXPECT_EQ(support(p, logits), (std::set<int32_t>{0, 1, 2, 3}));
  p.top_k = 2;
  EXPECT_EQ(support(p, logits), (std::set<int32_t>{0, 1}));
  p = {};
  p.top_p = 0.7f;  // 0.5 < 0.7 <= 0.75
  EXPECT_EQ(support(p, logits), (std::set<int32_t>{0, 1}));
  p.top_p = 0.5f;  // the first token alone reaches it
  EXPECT_EQ(support(p, logits), (std::set<int32_t>{0}));
  p = {};
  p.min_p = 0.3f;  // floor 0.3 * 0.5 = 0.15: drops the 0.125s
  EXPECT_EQ(support(p, logits), (std::set<int32_t>{0, 1}));
}

TEST(Sampler, FrequenciesFollowTheTemperedSoftmax) {
  const std::vector<float> logits = {1.0f, 0.0f, -1.0f};
  for (float temperature : {0.5f, 1.0f, 2.0f}) {
    SamplingParams p;
    p.temperature = temperature;
    p.seed = 1234;
    Sampler s(p, 3);
    std::map<int32_t, int> counts;
    const int n = 40000;
    for (int i = 0; i < n; ++i) counts[s.sample(logits, {}).token]++;
    double z = 0;
    for (float l : logits) z += std::exp(l / temperature);
    for (int t = 0; t < 3; ++t) {
      const double expected = std::exp(logits[t] / temperature) / z;
      const double sigma = std::sqrt(expected * (1 - expected) / n);
      EXPECT_NEAR(counts[t] / double(n), expected, 5 * sigma) << "temperature " << temperature << " token " << t;
    }
  }
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDiffers) {
  std::vector<float> logits(50);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = float(std::sin(double(i)));
  auto run = [&](uint64_t seed) {
    SamplingParams p;
    p.seed = seed;
    p.top_k = 40;
    p.top_p = 0.95f;
    Sampler s(p, 50);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(s.sample(logits, out).token);
    return out;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

// The kept set as the chain defines it, computed the slow, obvious way: sort the whole
// vocabulary (higher logit first, lower id first on ties), cut top-k, then walk the
// probabilities within that prefix (temperature 1), stopping at min-p and at top-p.
std::set<int32_t> reference_kept(const std::vector<float>& logits, const SamplingParams& p) {
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = int32_t(i);
  std::sort(order.begin(), order.end(),
            [&](int32_t a, int32_t b) { return logits[a] != logits[b] ? logits[a] > logits[b] : a < b; });
  if (p.top_k > 0 && size_t(p.top_k) < order.size()) order.resize(size_t(p.top_k));
  double z = 0;
  for (int32_t t : order) z += std::exp(double(logits[t]) - logits[order[0]]);
  std::set<int32_t> kept;
  double cumulative = 0;
  for (int32_t t : order) {
    const double prob = std::exp(double(logits[t]) - logits[order[0]]) / z;
    if (!kept.empty() && prob < p.min_p / z) break;
    kept.insert(t);
    cumulative += prob;
    if (cumulative >= p.top_p) break;
  }
  return kept;
}

TEST(Sampler, TruncationOnALargeVocabularyMatchesTheSortedReference) {
  // 5000 tokens (several draw blocks): a peaked head of 40 logits with ties among them and a
  // flat tail, so top-p, min-p and top-k all cut inside the head.
  std::vector<float> logits(5000, 0.0f);
  uint64_t state = 99;
  for (float& l : logits) l = float(-2.0 * uniform01(state));
  for (int i = 0; i < 40; ++i) logits[size_t(i * 113 + 7)] = 12.0f - float(i / 2) * 0.25f;  // pairs tie
  struct Case {
    int32_t top_k;
    float top_p, min_p;
  };
  for (const Case& c : {Case{0, 0.5f, 0}, Case{0, 0.9f, 0}, Case{0, 1, 0.3f}, Case{7, 1, 0}, Case{15, 0.8f, 0},
                        Case{0, 0.95f, 0.05f}, Case{30, 0.99f, 0.2f}}) {
    SamplingParams p;
    p.top_k = c.top_k;
    p.top_p = c.top_p;
    p.min_p = c.min_p;
    const std::set<int32_t> expected = reference_kept(logits, p);
    ASSERT_LE(expected.size(), 40u);
    p.temperature = 50.0f;  // nearly uniform over the kept set, so 3000 draws see every kept token
    p.seed = 5;
    Sampler s(p, int32_t(logits.size()));
    std::set<int32_t> seen;
    for (int i = 0; i < 3000; ++i) seen.insert(s.sample(logits, {}).token);
    EXPECT_EQ(seen, expected) << "top_k " << c.top_k << " top_p " << c.top_p << " min_p " << c.min_p;
  }
}

TEST(Sampler, FrequenciesAcrossDrawBlocksFollowTheSoftmax) {
  // Mass in a few tokens spread over several 1024-token blocks plus a flat background.
  std::vector<float> logits(3000, 0.0f);
  const std::vector<int32_t> heavy = {5, 1023, 1024, 2047, 2999};
  for (size_t i = 0; i < heavy.size(); ++i) logits[size_t(heavy[i])] = 8.0f - float(i) * 0.5f;
  SamplingParams p;
  p.seed = 77;
  Sampler s(p, int32_t(logits.size()));
  std::map<int32_t, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; ++i) counts[s.sample(logits, {}).token]++;
  double z = 0;
  for (float l : logits) z += std::exp(double(l));
  double background = 1.0;
  for (int32_t t : heavy) {
    const double expected = std::exp(double(logits[size_t(t)])) / z;
    background -= expected;
    const double sigma = std::sqrt(expected * (1 - expected) / n);
    EXPECT_NEAR(counts[t] / double(n), expected, 5 * sigma) << "token " << t;
  }
  int rest = n;
  for (int32_t t : heavy) rest -= counts[t];
  EXPECT_NEAR(rest / double(n), background, 5 * std::sqrt(background * (1 - background) / n));
}

TEST(Sampler, NanLogitsAreNeverDrawnAndInfiniteBiasForces) {
  std::vector<float> logits(2000, NAN);
  logits[10] = 1.0f;
  logits[1500] = 1.0f;
  logits[700] = -30.0f;  // finite, but never drawn by chance
  SamplingParams p;
  p.seed = 3;
  Sampler s(p, 2000);
  std::set<int32_t> seen;
  for (int i = 0; i < 200; ++i) seen.insert(s.sample(logits, {}).token);
  EXPECT_EQ(seen, (std::set<int32_t>{10, 1500}));
  for (auto edit : {+[](SamplingParams& q) { q.top_p = 0.99f; }, +[](SamplingParams& q) { q.top_k = 5; },
                    +[](SamplingParams& q) { q.min_p = 0.01f; }}) {
    SamplingParams truncated = p;
    edit(truncated);
    Sampler t(truncated, 2000);
    std::set<int32_t> kept;
    for (int i = 0; i < 200; ++i) kept.insert(t.sample(logits, {}).token);
    EXPECT_EQ(kept, (std::set<int32_t>{10, 1500}));
  }
  p.logit_bias = {{700, INFINITY}};
  EXPECT_EQ(Sampler(p, 2000).sample(logits, {}).token, 700);
  EXPECT_THROW(Sampler(SamplingParams{}, 3).sample(std::vector<float>(3, -INFINITY), {}), Error);
}

TEST(Sampler, LogprobsAreTheRawLogSoftmax) {
  SamplingParams p;
  p.temperature = 0;
  p.n_top_logprobs = 2;
  const std::vector<float> logits = {0.0f, float(std::log(3.0)), 0.0f};  // probs 0.2, 0.6, 0.2
  const SampledToken t = Sampler(p, 3).sample(logits, {});
  EXPECT_EQ(t.token, 1);
  EXPECT_NEAR(t.logprob, std::log(0.6), 1e-6);
  ASSERT_EQ(t.top.size(), 2u);
  EXPECT_EQ(t.top[0].token, 1);
  EXPECT_EQ(t.top[1].token, 0);  // tie with token 2: the lower id first
  EXPECT_NEAR(t.top[1].logprob, std::log(0.2), 1e-6);
}

// The logprob is the raw log-softmax whichever path the draw took: the defaults (where the
// draw's own softmax is reused), a bias, a penalty, temperature 0.7 and a top-k cut.
TEST(Sampler, LogprobsAreRawOnEveryPath) {
  std::vector<float> logits(3000);
  uint64_t state = 11;
  for (float& l : logits) l = float(6.0 * uniform01(state));
  double max = -INFINITY, z = 0;
  for (float l : logits) max = std::max(max, double(l));
  for (float l : logits) z += std::exp(double(l) - max);
  const double log_z = max + std::log(z);
  std::vector<SamplingParams> variants(5);
  variants[1].logit_bias = {{5, 2.0f}};
  variants[2].repeat_penalty = 1.3f;
  variants[3].temperature = 0.7f;
  variants[4].top_k = 50;
  for (size_t v = 0; v < variants.size(); ++v) {
    variants[v].seed = 100 + v;
    Sampler s(variants[v], int32_t(logits.size()));
    const std::vector<int32_t> history = {5, 6, 7};
    for (int i = 0; i < 20; ++i) {
      const SampledToken t = s.sample(logits, history);
      EXPECT_NEAR(t.logprob, double(logits[size_t(t.token)]) - log_z, 1e-4) << "variant " << v;
    }
  }
}

TEST(Sampler, RejectsBadParameters) {
  auto bad = [](auto edit) {
    SamplingParams p;
    edit(p);
    EXPECT_THROW(Sampler(p, 10), Error);
  };
  bad([](SamplingParams& p) { p.temperature = -1; });
  bad([](SamplingParams& p) { p.top_p = 0; });
  bad([](SamplingParams& p) { p.top_p = 1.5f; });
  bad([](SamplingParams& p) { p.min_p = 2; });
  bad([](SamplingParams& p) { p.top_k = -3; });
  bad([](SamplingParams& p) { p.repeat_penalty = 0; });
  bad([](SamplingParams& p) { p.logit_bias = {{10, 1.0f}}; });
  bad([](SamplingParams& p) { p.n_top_logprobs = 11; });
  SamplingParams p;
  Sampler s(p, 10);
  EXPECT_THROW(s.sample(std::vector<float>(9, 0.0f), {}), Error);
}

TEST(StopMatcher, MatchesAcrossPiecesAndHoldsBackPrefixes) {
  StopMatcher m({"</answer>", "STOP"});
  std::string shown;
  auto r = m.push("The result is 42</an");
  shown += r.emit;
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(shown, "The result is 42");  // "</an" might start the stop string: held back
  r = m.push("swer> and more");
  shown += r.emit;
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(shown, "The result is 42");
  EXPECT_EQ(m.push("ignored").emit, "");
}

TEST(StopMatcher, ReleasesAFalseStartAndFlushes) {
  StopMatcher m({"STOP"});
  std::string shown = m.push("ST").emit;
  EXPECT_EQ(shown, "");
  shown += m.push("ART ").emit;  // "STA" breaks the match
  EXPECT_EQ(shown, "START ");
  shown += m.push("S").emit;
  shown += m.flush();
  EXPECT_EQ(shown, "START S");
}

TEST(StopMatcher, EarliestOfSeveralStopsWins) {
  StopMatcher m({"cd", "b"});
  const auto r = m.push("abcd");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.emit, "a");
}

}  // namespace
}  // namespace moxie
