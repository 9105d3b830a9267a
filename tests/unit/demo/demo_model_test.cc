// The shipped demo model (models/moxie-demo.gguf) against the PyTorch model it was trained as.
// Goldens: tests/golden/demo/expected.json, written by tools/train/make_goldens.py from the HF
// checkpoint (held-out perplexity with moxie perplexity's windows, expert hits, greedy text).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "moxie/core/thread_pool.h"
#include "moxie/model/expert_stats.h"
#include "moxie/model/model.h"
#include "moxie/runtime/loaded_model.h"
#include "moxie/runtime/perplexity.h"
#include "moxie/server/default_model.h"
#include "moxie/tokenizer/hf_tokenizer_json.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie {
namespace {

const std::string kSource = MOXIE_SOURCE_DIR;
const std::string kGolden = kSource + "/tests/golden/demo/";

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class DemoModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    loaded_ = std::make_unique<LoadedModel>(LoadedModel::load(kSource + "/" + server::kDefaultModelPath));
    expected_ = nlohmann::json::parse(read_file(kGolden + "expected.json"));
    heldout_ids_ = loaded_->encode_text(read_file(kGolden + "heldout.txt"));
  }
  static void TearDownTestSuite() { loaded_.reset(); }

  static std::unique_ptr<LoadedModel> loaded_;
  static nlohmann::json expected_;
  static std::vector<int32_t> heldout_ids_;
};
std::unique_ptr<LoadedModel> DemoModel::loaded_;
nlohmann::json DemoModel::expected_;
std::vector<int32_t> DemoModel::heldout_ids_;

// Greedy decoding with the KV cache: prefill the prompt, then one token per forward.
std::vector<int32_t> greedy(const Model& m, const std::vector<int32_t>& prompt, int64_t n) {
  const int64_t n_vocab = m.config().n_vocab;
  KvCache kv = m.make_kv_cache(1, int64_t(prompt.size()) + n);
  ThreadPool pool(1);
  ForwardContext ctx(pool);
  std::vector<float> logits(static_cast<size_t>(n_vocab));
  Batch b;
  b.add_sequence(prompt, 0, 0, false);
  std::vector<int32_t> out;
  for (int64_t i = 0; i < n; ++i) {
    m.forward(b, kv, ctx, logits.data());
    const int32_t next = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.push_back(next);
    b.clear();
    b.add(next, 0, int64_t(prompt.size()) + i, true);
  }
  return out;
}

TEST_F(DemoModel, IsTheSmallQwen3MoeTheDocsDescribe) {
  const ModelConfig& c = loaded_->model().config();
  EXPECT_EQ(c.arch, Arch::qwen3moe);
  EXPECT_GE(c.moe.n_expert, 8);
  EXPECT_EQ(c.moe.n_expert_used, 2);
  EXPECT_EQ(c.n_ctx_train, expected_["n_ctx"].get<int64_t>());
  EXPECT_EQ(loaded_->template_origin(), "the file's");
}

TEST_F(DemoModel, TokenizesTheHeldOutTextAsTheTrainerDid) {
  ASSERT_EQ(int64_t(heldout_ids_.size()), expected_["heldout_tokens"].get<int64_t>());
  const auto first = expected_["heldout_first_ids"].get<std::vector<int32_t>>();
  EXPECT_TRUE(std::equal(first.begin(), first.end(), heldout_ids_.begin()));
}

TEST_F(DemoModel, HfTokenizerJsonEncodesLikeTheGguf) {
  const tokenizer::Tokenizer hf(tokenizer::load_hf_tokenizer_json(kSource + "/models/hf/tokenizer.json"));
  EXPECT_EQ(hf.encode(read_file(kGolden + "heldout.txt")), heldout_ids_);
}

TEST_F(DemoModel, HeldOutPerplexityMatchesTheTrainingScript) {
  ThreadPool pool(2);
  PerplexityOptions o;
  o.n_ctx = expected_["n_ctx"].get<int64_t>();
  const PerplexityResult r = compute_perplexity(loaded_->model(), pool, heldout_ids_, o);
  const double want = expected_["heldout_ppl"].get<double>();
  std::printf("held-out perplexity: moxie %.4f, PyTorch %.4f over %lld tokens\n", r.ppl, want, (long long)r.n_scored);
  EXPECT_EQ(r.n_scored, expected_["heldout_scored"].get<int64_t>());
  EXPECT_NEAR(r.ppl, want, 0.01 * want);
}

// Every position of every held-out window, as the trainer counted them: per layer, each
// expert's share within 1% of the slots of PyTorch's count (near-ties may route apart),
// and no expert is dead.
TEST_F(DemoModel, ExpertLoadMatchesAndNoExpertIsDead) {
  const Model& m = loaded_->model();
  const int64_t n_ctx = expected_["n_ctx"].get<int64_t>(), n_window = int64_t(heldout_ids_.size()) / n_ctx;
  const ModelConfig& c = m.config();
  ExpertStats stats(c.n_layer, c.moe.n_expert);
  ThreadPool pool(2);
  std::vector<float> logits(static_cast<size_t>(c.n_vocab));
  for (int64_t w = 0; w < n_window; ++w) {
    KvCache kv = m.make_kv_cache(1, n_ctx);
    ForwardContext ctx(pool);
    ctx.expert_stats = &stats;
    Batch b;
    b.add_sequence({heldout_ids_.begin() + w * n_ctx, heldout_ids_.begin() + (w + 1) * n_ctx}, 0, 0, false);
    m.forward(b, kv, ctx, logits.data());
  }
  std::printf("expert hits per layer (held-out, %lld windows):\n%s", (long long)n_window, stats.to_text().c_str());
  const auto want = expected_["expert_hits"].get<std::vector<std::vector<int64_t>>>();
  for (int64_t il = 0; il < c.n_layer; ++il) {
    const double slots = double(stats.layer_total(il));
    EXPECT_EQ(int64_t(slots), n_window * n_ctx * c.moe.n_expert_used);
    for (int64_t e = 0; e < c.moe.n_expert; ++e) {
      EXPECT_GT(stats.hits(il, e), 0u) << "layer " << il << " expert " << e << " is dead";
      EXPECT_NEAR(double(stats.hits(il, e)), double(want[size_t(il)][size_t(e)]), 0.01 * slots)
          << "layer " << il << " expert " << e;
    }
  }
}

TEST_F(DemoModel, GreedyContinuationEqualsPyTorchAndIsEnglish) {
  const auto prompt = loaded_->encode_text(expected_["greedy_prompt"].get<std::string>());
  ASSERT_EQ(prompt, expected_["greedy_prompt_ids"].get<std::vector<int32_t>>());
  const auto want = expected_["greedy_ids"].get<std::vector<int32_t>>();
  const std::vector<int32_t> got = greedy(loaded_->model(), prompt, int64_t(want.size()));
  const std::string text = loaded_->tokenizer().decode(got);
  std::printf("In the beginning%s\n", text.c_str());
  EXPECT_EQ(got, want);

  std::set<std::string> known;
  std::istringstream list(read_file(kGolden + "words.txt"));
  for (std::string w; std::getline(list, w);) known.insert(w);
  int n_words = 0, n_known = 0;
  std::string word;
  for (char ch : text + " ") {
    if (std::isalpha(static_cast<unsigned char>(ch))) {
      word += char(std::tolower(static_cast<unsigned char>(ch)));
    } else if (!word.empty()) {
      ++n_words;
      n_known += known.count(word) ? 1 : 0;
      word.clear();
    }
  }
  ASSERT_GE(n_words, 10);
  EXPECT_GE(n_known, (8 * n_words + 9) / 10) << text;  // >= 80% of the words are the corpus's
}

}  // namespace
}  // namespace moxie
