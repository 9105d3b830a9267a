// The MoE router against hand-worked cases and against the numpy reference router
// (tools/ref/models/router.py, written from the HF/DeepSeek code) on random logits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "moxie/model/layers/router.h"

namespace moxie {
namespace {

struct Routed {
  std::vector<int32_t> ids;
  std::vector<float> weights;
};

Routed route(const RouterParams& p, const std::vector<float>& logits, const std::vector<float>* bias = nullptr) {
  const int64_t n_tok = int64_t(logits.size()) / p.n_expert;
  Routed r{std::vector<int32_t>(size_t(n_tok * p.k)), std::vector<float>(size_t(n_tok * p.k))};
  route_tokens(p, logits.data(), n_tok, bias ? bias->data() : nullptr, r.ids.data(), r.weights.data());
  return r;
}

float logit(double p) { return float(std::log(p / (1 - p))); }  // sigmoid^-1

TEST(Router, SoftmaxTopKRenormalises) {
  RouterParams p;
  p.n_expert = 4, p.k = 2, p.norm_topk = true;
  // softmax([0, ln2, ln4, 0]) = [1, 2, 4, 1] / 8 -> experts 2 (4/8) and 1 (2/8), renormalised 4/6, 2/6.
  const Routed r = route(p, {0.0f, float(std::log(2.0)), float(std::log(4.0)), 0.0f});
  EXPECT_EQ(r.ids, (std::vector<int32_t>{2, 1}));
  EXPECT_NEAR(r.weights[0], 4.0 / 6.0, 1e-6);
  EXPECT_NEAR(r.weights[1], 2.0 / 6.0, 1e-6);
  p.norm_topk = false;  // Qwen2-MoE keeps the raw softmax weights
  const Routed raw = route(p, {0.0f, float(std::log(2.0)), float(std::log(4.0)), 0.0f});
  EXPECT_NEAR(raw.weights[0], 0.5, 1e-6);
  EXPECT_NEAR(raw.weights[1], 0.25, 1e-6);
}

TEST(Router, TiesPickTheLowerIndex) {
  RouterParams p;
  p.n_expert = 5, p.k = 2;
  const Routed r = route(p, {1.0f, 3.0f, 3.0f, 3.0f, 0.0f});
  EXPECT_EQ(r.ids, (std::vector<int32_t>{1, 2}));
}

// DeepSeek-V3: 8 experts in 4 groups of 2, 2 groups used, top-3. Plain top-3 of the scores
// would take experts 0, 2 and 4 from three different groups; the group limit keeps only the
// two best groups (by the sum of their top-2: g1 = 0.8+0.7, g2 = 0.75+0.6; g0 = 0.9+0.1).
TEST(Router, GroupLimitedSelectionDiffersFromPlainTopK) {
  RouterParams p;
  p.n_expert = 8, p.k = 3, p.gating = Gating::sigmoid, p.norm_topk = true, p.weights_scale = 2.5f;
  p.n_group = 4, p.n_group_used = 2, p.group_score_top2 = true;
  const std::vector<double> probs = {0.9, 0.1, 0.8, 0.7, 0.75, 0.6, 0.2, 0.3};
  std::vector<float> logits;
  for (double x : probs) logits.push_back(logit(x));
  const Routed r = route(p, logits);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{2, 4, 3}));
  const double sum = 0.8 + 0.75 + 0.7;
  EXPECT_NEAR(r.weights[0], 2.5 * 0.8 / sum, 1e-5);
  EXPECT_NEAR(r.weights[1], 2.5 * 0.75 / sum, 1e-5);
  EXPECT_NEAR(r.weights[2], 2.5 * 0.7 / sum, 1e-5);

  RouterParams plain = p;
  plain.n_group = 1;
  EXPECT_EQ(route(plain, logits).ids, (std::vector<int32_t>{0, 2, 4}));
}

// The correction bias moves expert 3 ahead of expert 1 for selection, but the weights
// still come from the unbiased probabilities.
TEST(Router, SelectionBiasChangesChoiceNotWeights) {
  RouterParams p;
  p.n_expert = 4, p.k = 2, p.gating = Gating::sigmoid, p.norm_topk = false;
  const std::vector<double> probs = {0.9, 0.6, 0.2, 0.5};
  std::vector<float> logits;
  for (double x : probs) logits.push_back(logit(x));
  EXPECT_EQ(route(p, logits).ids, (std::vector<int32_t>{0, 1}));
  const std::vector<float> bias = {0.0f, 0.0f, 0.0f, 0.3f};  // 0.5 + 0.3 > 0.6
  const Routed r = route(p, logits, &bias);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{0, 3}));
  EXPECT_NEAR(r.weights[0], 0.9, 1e-6);
  EXPECT_NEAR(r.weights[1], 0.5, 1e-6);  // not 0.8
}

std::string run(const std::string& cmd) {
  std::string out;
  if (FILE* pipe = popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
    pclose(pipe);
  }
  return out;
}

// Random logits through both routers: same experts, weights within float rounding.
TEST(Router, MatchesNumpyReferenceOnRandomLogits) {
  if (run("/usr/bin/python3 -c 'import numpy; print(1)'") != "1\n") GTEST_SKIP() << "no /usr/bin/python3 with numpy";
  struct Case { Gating gating; bool norm; float scale; int64_t n_expert, k, groups, used; bool bias; };
  const Case cases[] = {{Gating::softmax, true, 1.0f, 128, 8, 1, 1, false},   // Qwen3-MoE
                        {Gating::softmax, false, 1.0f, 60, 4, 1, 1, false},   // Qwen2-MoE
                        {Gating::sigmoid, true, 2.5f, 256, 8, 8, 4, true},    // DeepSeek-V3
                        {Gating::softmax, false, 1.0f, 160, 6, 8, 3, false}}; // DeepSeek-V2
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (const Case& c : cases) {
    RouterParams p;
    p.n_expert = c.n_expert, p.k = c.k, p.gating = c.gating, p.norm_topk = c.norm, p.weights_scale = c.scale;
    p.n_group = c.groups, p.n_group_used = c.used, p.group_score_top2 = c.gating == Gating::sigmoid;
    const int64_t n_tok = 50;
    std::vector<float> logits(size_t(n_tok * c.n_expert)), bias(size_t(c.n_expert));
    for (float& x : logits) x = normal(rng);
    for (float& x : bias) x = 0.05f * normal(rng);
    const std::string dir = ::testing::TempDir();
    std::ofstream(dir + "/router_logits.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(logits.data()), std::streamsize(logits.size() * 4));
    std::ofstream(dir + "/router_bias.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(bias.data()), std::streamsize(bias.size() * 4));
    std::ostringstream py;
    py << "cd " << MOXIE_SOURCE_DIR << "/tools/ref && /usr/bin/python3 -c \"import numpy as np; "
       << "from models.router import RouterSpec, route; "
       << "l = np.fromfile('" << dir << "/router_logits.bin', np.float32).reshape(-1, " << c.n_expert << "); "
       << "b = np.fromfile('" << dir << "/router_bias.bin', np.float32).astype(np.float64) if " << (c.bias ? 1 : 0) << " else None; "
       << "s = RouterSpec(" << c.k << ", '" << (c.gating == Gating::sigmoid ? "sigmoid" : "softmax") << "', "
       << (c.norm ? "True" : "False") << ", " << c.scale << ", " << c.groups << ", " << c.used << ", '"
       << (p.group_score_top2 ? "top2sum" : "max") << "'); e, w = route(l, s, b); "
       << "print(' '.join(map(str, e.ravel()))); print(' '.join(repr(float(x)) for x in w.ravel()))\"";
    std::istringstream ref(run(py.str()));
    const Routed r = route(p, logits, c.bias ? &bias : nullptr);
    for (size_t i = 0; i < r.ids.size(); ++i) {
      int32_t id = -1;
      ASSERT_TRUE(ref >> id) << "reference output ended early";
      ASSERT_EQ(r.ids[i], id) << "token " << i / size_t(c.k) << " slot " << i % size_t(c.k) << ", n_expert " << c.n_expert;
    }
    for (size_t i = 0; i < r.weights.size(); ++i) {
      double w = 0;
      ASSERT_TRUE(ref >> w);
      ASSERT_NEAR(r.weights[i], w, 1e-6 * std::max(1.0, std::fabs(w)));
    }
  }
}

}  // namespace
}  // namespace moxie
