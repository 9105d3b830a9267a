// The generation loop on tiny synthetic models: greedy tokens and logprobs against a full
// recomputation with Model::forward (no cache reuse, one batch: an independent path through
// the model), prefill chunking, prefix reuse, stop tokens, stop strings across token
// boundaries, max_tokens, a full context, cancellation and bad input.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "moxie/core/error.h"
#include "moxie/core/thread_pool.h"
#include "moxie/model/model.h"
#include "moxie/model/synth.h"
#include "moxie/runtime/generate.h"
#include "moxie/tokenizer/gguf_tokenizer.h"
#include "moxie/tokenizer/stream_decoder.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie {
namespace {

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "moxie-generate-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A synthetic model with its tokenizer; nullptr model when the architecture has no forward
// pass yet (the test then skips, naming it).
struct TinyModel {
  explicit TinyModel(Arch arch) {
    SynthOptions o;
    o.arch = arch;
    o.preset = "tiny";
    path = dir.file(std::string(arch_name(arch)) + ".gguf");
    write_synth_model(o, path);
    try {
      model = Model::open(path);
    } catch (const Error& e) {
      if (std::string(e.what()).find("no forward pass") == std::string::npos) throw;
      skip_reason = e.what();
      return;
    }
    tok = std::make_unique<tokenizer::Tokenizer>(tokenizer::load_gguf_tokenizer(model->file()));
  }
  ScratchDir dir;
  std::string path, skip_reason;
  std::unique_ptr<Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
};

TinyModel& qwen3moe() {
  static TinyModel m(Arch::qwen3moe);
  return m;
}

// Logits [n_vocab] of the last token of ids, computed from scratch in one batch.
std::vector<float> full_forward_last(const Model& m, ThreadPool& pool, const std::vector<int32_t>& ids) {
  KvCache kv = m.make_kv_cache(1, int64_t(ids.size()));
  ForwardContext ctx(pool);
  Batch b;
  b.add_sequence(ids, 0, 0, false);
  std::vector<float> logits(size_t(m.config().n_vocab));
  m.forward(b, kv, ctx, logits.data());
  return logits;
}

double log_softmax_at(const std::vector<float>& logits, int32_t id) {
  double max = *std::max_element(logits.begin(), logits.end()), sum = 0;
  for (float l : logits) sum += std::exp(double(l) - max);
  return double(logits[size_t(id)]) - max - std::log(sum);
}

GenerateOptions greedy(int64_t max_tokens) {
  GenerateOptions o;
  o.sampling.temperature = 0;
  o.max_tokens = max_tokens;
  return o;
}

std::vector<int32_t> token_ids(const GenerateResult& r) {
  std::vector<int32_t> ids;
  for (const SampledToken& t : r.tokens) ids.push_back(t.token);
  return ids;
}

class GenerateArch : public ::testing::TestWithParam<Arch> {};

TEST_P(GenerateArch, GreedyTokensAndLogprobsMatchFullRecompute) {
  TinyModel tm(GetParam());
  if (!tm.model) GTEST_SKIP() << tm.skip_reason;
  ThreadPool pool(2);
  Generator gen(*tm.model, *tm.tok, pool, 64, /*prefill_chunk=*/3);
  const std::vector<int32_t> prompt = tm.tok->encode("The weights of the model are read");
  const GenerateResult r = gen.generate(prompt, greedy(10));
  ASSERT_EQ(r.tokens.size(), 10u);
  std::vector<int32_t> seq = prompt;
  for (const SampledToken& t : r.tokens) {
    const std::vector<float> logits = full_forward_last(*tm.model, pool, seq);
    const int32_t argmax = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
    EXPECT_EQ(t.token, argmax) << "after " << seq.size() << " tokens";
    EXPECT_NEAR(t.logprob, log_softmax_at(logits, t.token), 1e-4);
    seq.push_back(t.token);
  }
  EXPECT_EQ(r.stats.n_prefilled, int64_t(prompt.size()));
  EXPECT_EQ(r.stats.n_generated, 10);
  EXPECT_EQ(r.stats.n_decoded, 9);
}

INSTANTIATE_TEST_SUITE_P(AllArchitectures, GenerateArch,
                         ::testing::Values(Arch::llama, Arch::qwen2, Arch::qwen3, Arch::qwen2moe, Arch::qwen3moe,
                                           Arch::deepseek2),
                         [](const auto& info) { return std::string(arch_name(info.param)); });

TEST(Generate, PrefillChunkSizeDoesNotChangeSampledTokens) {
  TinyModel& tm = qwen3moe();
  ThreadPool pool(1);
  GenerateOptions o;
  o.sampling.temperature = 0.9f;
  o.sampling.seed = 42;
  o.max_tokens = 12;
  const std::vector<int32_t> prompt = tm.tok->encode("sign and turn the eight numbers into read memory");
  std::vector<std::vector<int32_t>> runs;
  for (int64_t chunk : {1, 4, 512}) {
    Generator gen(*tm.model, *tm.tok, pool, 128, chunk);
    runs.push_back(token_ids(gen.generate(prompt, o)));
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_EQ(runs[0], runs[2]);
}

TEST(Generate, ReusesTheCachedPrefixAndMatchesAFreshGenerator) {
  TinyModel& tm = qwen3moe();
  ThreadPool pool(1);
  Generator gen(*tm.model, *tm.tok, pool, 128);
  std::vector<int32_t> prompt = tm.tok->encode("the model reads the weights");
  const GenerateResult first = gen.generate(prompt, greedy(6));
  EXPECT_EQ(first.stats.n_cached, 0);
  // A second turn: the first prompt, the answer and more text, as a chat re-renders it.
  const std::vector<int32_t> answer = token_ids(first);
  std::vector<int32_t> second_prompt = prompt;
  second_prompt.insert(second_prompt.end(), answer.begin(), answer.end());
  const std::vector<int32_t> more = tm.tok->encode(" and then it turns");
  second_prompt.insert(second_prompt.end(), more.begin(), more.end());
  const GenerateResult second = gen.generate(second_prompt, greedy(6));
  // The last answer token was sampled but never fed back, so it is not cached.
  EXPECT_EQ(second.stats.n_cached, int64_t(prompt.size() + answer.size() - 1));
  EXPECT_EQ(second.stats.n_prefilled, int64_t(second_prompt.size()) - second.stats.n_cached);
  Generator fresh(*tm.model, *tm.tok, pool, 128);
  EXPECT_EQ(token_ids(second), token_ids(fresh.generate(second_prompt, greedy(6))));
  // The same prompt again: everything but its last token comes from the cache.
  const GenerateResult again = gen.generate(second_prompt, greedy(6));
  EXPECT_EQ(again.stats.n_cached, int64_t(second_prompt.size()) - 1);
  EXPECT_EQ(token_ids(again), token_ids(second));
  // A prompt that diverges early drops the rest of the cache.
  std::vector<int32_t> other = tm.tok->encode("eight");
  const GenerateResult diverged = gen.generate(other, greedy(3));
  EXPECT_EQ(diverged.stats.n_cached, 0);
  EXPECT_EQ(token_ids(diverged), token_ids(fresh.generate(other, greedy(3))));
}

// Greedy text of 40 tokens and each token's bytes, for choosing stop strings.
struct Reference {
  GenerateResult result;
  std::vector<std::string> pieces;
};

Reference reference_run(TinyModel& tm, const std::vector<int32_t>& prompt) {
  ThreadPool pool(1);
  Generator gen(*tm.model, *tm.tok, pool, 128);
  Reference ref;
  ref.result = gen.generate(prompt, greedy(40));
  for (const SampledToken& t : ref.result.tokens) ref.pieces.emplace_back(tm.tok->token_bytes(t.token));
  return ref;
}

bool printable_ascii(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

TEST(Generate, StopStringSpanningTokensEndsTheTextBeforeIt) {
  TinyModel& tm = qwen3moe();
  const std::vector<int32_t> prompt = tm.tok->encode("the numbers of the model");
  const Reference ref = reference_run(tm, prompt);
  // A stop string made of the end of one token and the start of the next.
  std::string stop;
  size_t before = 0;  // bytes of text before the boundary
  for (size_t i = 0; i + 1 < ref.pieces.size() && stop.empty(); ++i) {
    before += ref.pieces[i].size();
    if (printable_ascii(ref.pieces[i]) && printable_ascii(ref.pieces[i + 1]) && i > 2) {
      stop = ref.pieces[i].substr(ref.pieces[i].size() - 1) + ref.pieces[i + 1].substr(0, 1);
    }
  }
  ASSERT_FALSE(stop.empty()) << "no two adjacent ASCII tokens in: " << ref.result.text;
  const size_t at = ref.result.text.find(stop);
  ASSERT_NE(at, std::string::npos);
  ASSERT_LE(at, before);

  ThreadPool pool(1);
  Generator gen(*tm.model, *tm.tok, pool, 128);
  GenerateOptions o = greedy(40);
  o.stop_strings = {"never appears \x01", stop};
  std::string streamed;
  const GenerateResult r = gen.generate(prompt, o, [&](std::string_view piece) { streamed += piece; });
  EXPECT_EQ(r.finish, FinishReason::stop_string);
  EXPECT_EQ(r.text, ref.result.text.substr(0, at));
  EXPECT_EQ(streamed, r.text);
  EXPECT_EQ(r.text.find(stop), std::string::npos);
}

TEST(Generate, StopTokenEndsTheAnswerAndIsNotText) {
  TinyModel& tm = qwen3moe();
  const std::vector<int32_t> prompt = tm.tok->encode("read the memory");
  const Reference ref = reference_run(tm, prompt);
  const std::vector<int32_t> ids = token_ids(ref.result);
  const int32_t stop = ids[5];
  const size_t first = size_t(std::find(ids.begin(), ids.end(), stop) - ids.begin());
  ThreadPool pool(1);
  Generator gen(*tm.model, *tm.tok, pool, 128);
  GenerateOptions o = greedy(40);
  o.stop_tokens = {stop};
  const GenerateResult r = gen.generate(prompt, o);
  EXPECT_EQ(r.finish, FinishReason::stop_token);
  EXPECT_EQ(token_ids(r), std::vector<int32_t>(ids.begin(), ids.begin() + std::ptrdiff_t(first) + 1));
  // The text is the tokens before the stop token, invalid UTF-8 replaced by U+FFFD.
  const std::vector<int32_t> shown(ids.begin(), ids.begin() + std::ptrdiff_t(first));
  std::string expected;
  tokenizer::append_valid_utf8(tm.tok->decode(shown), false, &expected);
  EXPECT_EQ(r.text, expected);
}

TEST(Generate, MaxTokensAndFullContext) {
  TinyModel& tm = qwen3moe();
  ThreadPool pool(1);
  const std::vector<int32_t> prompt = tm.tok->encode("turn");
  Generator gen(*tm.model, *tm.tok, pool, int64_t(prompt.size()) + 5);
  const GenerateResult none = gen.generate(prompt, greedy(0));
  EXPECT_TRUE(none.tokens.empty());
  EXPECT_EQ(none.finish, FinishReason::length);
  const GenerateResult three = gen.generate(prompt, greedy(3));
  EXPECT_EQ(three.tokens.size(), 3u);
  EXPECT_EQ(three.finish, FinishReason::length);
  // The cache holds the prompt and 5 fed-back tokens; the 6th sampled token has no room.
  const GenerateResult full = gen.generate(prompt, greedy(-1));
  EXPECT_EQ(full.finish, FinishReason::context_full);
  EXPECT_EQ(full.tokens.size(), 6u);
  EXPECT_EQ(int64_t(gen.cached_tokens().size()), gen.n_ctx());
}

TEST(Generate, CancelStopsBeforeTheNextForward) {
  TinyModel& tm = qwen3moe();
  ThreadPool pool(1);
  Generator gen(*tm.model, *tm.tok, pool, 128);
  const std::vector<int32_t> prompt = tm.tok->encode("the eight");
  std::atomic<bool> cancel{true};
  GenerateOptions o = greedy(20);
  o.cancel = &cancel;
  const GenerateResult before = gen.generate(prompt, o);
  EXPECT_EQ(before.finish, FinishReason::cancelled);
  EXPECT_TRUE(before.tokens.empty());
  cancel = false;
  int64_t pieces = 0;
  o.stop_tokens.clear();
  const GenerateResult r = gen.generate(prompt, o, [&](std::string_view) {
    if (++pieces == 3) cancel = true;
  });
  EXPECT_EQ(r.finish, FinishReason::cancelled);
  EXPECT_LT(r.tokens.size(), 20u);
  EXPECT_EQ(r.stats.n_decoded + 1, int64_t(r.tokens.size()));
}

TEST(Generate, BadInputIsAnError) {
  TinyModel& tm = qwen3moe();
  ThreadPool pool(1);
  Generator gen(*tm.model, *tm.tok, pool, 8);
  EXPECT_THROW(gen.generate({}, greedy(3)), Error);
  EXPECT_THROW(gen.generate(std::vector<int32_t>(9, 1), greedy(3)), Error);  // longer than the context
  EXPECT_THROW(gen.generate({1, int32_t(tm.model->config().n_vocab)}, greedy(3)), Error);
  GenerateOptions bad = greedy(3);
  bad.sampling.top_p = 0;
  EXPECT_THROW(gen.generate({1, 2}, bad), Error);
  EXPECT_THROW(Generator(*tm.model, *tm.tok, pool, 8, 0), Error);
  // The generator still works after the errors.
  EXPECT_EQ(gen.generate({1, 2}, greedy(2)).tokens.size(), 2u);
}

}  // namespace
}  // namespace moxie
