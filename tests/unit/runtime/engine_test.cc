// Engine on a synthetic tiny qwen3moe: batched greedy output equals a plain one-sequence
// forward loop (the oracle), the prefix cache gives the same tokens with cached_tokens
// reported (F32, F16 and q8 caches), and queue limits, cancellation and stop tokens behave.
#include "moxie/runtime/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include "unit/model/model_test_util.h"
#include "moxie/core/error.h"
#include "moxie/gguf/reader.h"
#include "moxie/tokenizer/gguf_tokenizer.h"
#include "moxie/tokenizer/stream_decoder.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie {
namespace {

struct Fixture {
  test::TempDir dir;
  std::unique_ptr<Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  Fixture() {
    model = Model::open(test::synth_model(dir, Arch::qwen3moe, "tiny", DType::F32, 3));
    tok = std::make_unique<tokenizer::Tokenizer>(tokenizer::load_gguf_tokenizer(model->file()));
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// The oracle: one sequence, whole prompt in one forward, then one token per forward, argmax,
// in a cache of kv_type elements.
std::vector<int32_t> greedy_reference(const Model& m, const std::vector<int32_t>& prompt, int64_t n,
                                      DType kv_type = DType::F32) {
  ThreadPool pool(1);
  ForwardContext ctx(pool);
  KvCache kv = m.make_kv_cache(1, 256, kv_type);
  const int64_t n_vocab = m.config().n_vocab;
  std::vector<float> logits(static_cast<size_t>(n_vocab), 0.0f);
  Batch b;
  b.add_sequence(prompt, 0, 0, false);
  std::vector<int32_t> out;
  for (int64_t i = 0; i < n; ++i) {
    m.forward(b, kv, ctx, logits.data());
    const int32_t next = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.push_back(next);
    b.clear();
    b.add(next, 0, kv.length(0), true);
  }
  return out;
}

struct Outcome {
  std::vector<int32_t> tokens;
  std::string text;
  StreamEvent final;
};

Outcome collect(RequestStream& s) {
  Outcome o;
  StreamEvent ev;
  while (s.pop(&ev, std::chrono::seconds(60))) {
    for (const auto& t : ev.tokens) o.tokens.push_back(t.token);
    o.text += ev.text;
    if (ev.final) {
      o.final = ev;
      return o;
    }
  }
  ADD_FAILURE() << "no final event within 60 s";
  return o;
}

GenerationJob greedy_job(std::vector<int32_t> prompt, int64_t max_tokens) {
  GenerationJob j;
  j.prompt = std::move(prompt);
  j.sampling.temperature = 0;
  j.max_tokens = max_tokens;
  return j;
}

EngineOptions small_options(int parallel) {
  EngineOptions o;
  o.n_parallel = parallel;
  o.n_ctx = 256;
  o.step_tokens = 16;
  o.prefill_chunk = 8;  // prompts below span several steps while others decode
  o.n_threads = 2;
  o.prefix_cache_bytes = 0;
  return o;
}

TEST(Engine, BatchedGreedyEqualsOneSequenceLoop) {
  Fixture& f = fixture();
  const int64_t n_vocab = f.model->config().n_vocab;
  const std::vector<int64_t> lengths = {3, 17, 40, 5, 1, 23};
  std::vector<std::vector<int32_t>> prompts;
  for (size_t i = 0; i < lengths.size(); ++i) prompts.push_back(test::prompt_tokens(lengths[i], n_vocab, 10 + i));
  Engine engine(*f.model, *f.tok, small_options(4));  // 6 requests on 4 slots: two wait
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (const auto& p : prompts) streams.push_back(engine.submit(greedy_job(p, 10)));
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_NE(streams[i], nullptr);
    Outcome o = collect(*streams[i]);
    EXPECT_EQ(o.final.cause, StopCause::length);
    EXPECT_EQ(o.final.record.prompt_tokens, lengths[i]);
    EXPECT_EQ(o.final.record.completion_tokens, 10);
    EXPECT_EQ(o.final.record.inter_token_ms.size(), 9u);
    EXPECT_EQ(o.tokens, greedy_reference(*f.model, prompts[i], 10)) << "prompt " << i;
  }
  EXPECT_EQ(engine.stats().active, 0);
}

TEST(Engine, PrefixCacheReusesKvAndKeepsTokens) {
  Fixture& f = fixture();
  EngineOptions o = small_options(2);
  o.prefix_cache_bytes = 64 << 20;
  Engine engine(*f.model, *f.tok, o);
  const auto system = test::prompt_tokens(30, f.model->config().n_vocab, 77);
  auto first = system;
  first.push_back(5);
  Outcome a = collect(*engine.submit(greedy_job(first, 4)));
  EXPECT_EQ(a.final.record.cached_tokens, 0);
  auto second = system;
  second.push_back(9);
  second.push_back(11);
  Outcome b = collect(*engine.submit(greedy_job(second, 6)));
  EXPECT_EQ(b.final.record.cached_tokens, 30);  // the shared system prompt
  EXPECT_EQ(b.tokens, greedy_reference(*f.model, second, 6));
  // The next turn: the whole first conversation is a prefix of it.
  auto turn = first;
  turn.insert(turn.end(), a.tokens.begin(), a.tokens.end());
  turn.push_back(3);
  Outcome c = collect(*engine.submit(greedy_job(turn, 3)));
  EXPECT_GE(c.final.record.cached_tokens, int64_t(first.size()) + 3);
  EXPECT_EQ(c.tokens, greedy_reference(*f.model, turn, 3));
  EXPECT_GT(engine.stats().prefix_cache_entries, 0);
}

// The F16 cache the command line uses: prefixes saved and restored as bytes give the tokens
// of a plain F16-cache loop (a misread row would change them).
TEST(Engine, F16CacheWithPrefixReuseEqualsTheF16Loop) {
  Fixture& f = fixture();
  EngineOptions o = small_options(2);
  o.prefix_cache_bytes = 64 << 20;
  o.kv_type = DType::F16;
  Engine engine(*f.model, *f.tok, o);
  const auto system = test::prompt_tokens(30, f.model->config().n_vocab, 78);
  auto first = system;
  first.push_back(5);
  Outcome a = collect(*engine.submit(greedy_job(first, 4)));
  EXPECT_EQ(a.tokens, greedy_reference(*f.model, first, 4, DType::F16));
  auto second = system;
  second.push_back(9);
  Outcome b = collect(*engine.submit(greedy_job(second, 8)));
  EXPECT_EQ(b.final.record.cached_tokens, 30);
  EXPECT_EQ(b.tokens, greedy_reference(*f.model, second, 8, DType::F16));
}

// The oracle's tokens and their logprobs (log-softmax in double of the logits it chose from).
struct Greedy {
  std::vector<int32_t> tokens;
  std::vector<double> logprobs;
};

Greedy greedy_reference_logprobs(const Model& m, const std::vector<int32_t>& prompt, int64_t n, DType kv_type) {
  ThreadPool pool(1);
  ForwardContext ctx(pool);
  KvCache kv = m.make_kv_cache(1, 256, kv_type);
  std::vector<float> logits(size_t(m.config().n_vocab), 0.0f);
  Batch b;
  b.add_sequence(prompt, 0, 0, false);
  Greedy g;
  for (int64_t i = 0; i < n; ++i) {
    m.forward(b, kv, ctx, logits.data());
    const auto top = std::max_element(logits.begin(), logits.end());
    double z = 0;
    for (float l : logits) z += std::exp(double(l) - double(*top));
    g.tokens.push_back(int32_t(top - logits.begin()));
    g.logprobs.push_back(-std::log(z));  // the chosen token is the top one
    b.clear();
    b.add(g.tokens.back(), 0, kv.length(0), true);
  }
  return g;
}

// Tokens and logprobs of one greedy job (engine side).
struct Answer {
  std::vector<int32_t> tokens;
  std::vector<double> logprobs;
  int64_t cached_tokens = 0;
};

Answer run_greedy(Engine& engine, std::vector<int32_t> prompt, int64_t n) {
  auto stream = engine.submit(greedy_job(std::move(prompt), n));
  Answer a;
  if (!stream) {
    ADD_FAILURE() << "the engine refused the job";
    return a;
  }
  StreamEvent ev;
  while (stream->pop(&ev, std::chrono::seconds(60))) {
    for (const auto& t : ev.tokens) {
      a.tokens.push_back(t.token);
      a.logprobs.push_back(t.logprob);
    }
    if (ev.final) {
      a.cached_tokens = ev.record.cached_tokens;
      return a;
    }
  }
  ADD_FAILURE() << "no final event within 60 s";
  return a;
}

void expect_answer(const Answer& got, const Greedy& want, const std::string& what) {
  EXPECT_EQ(got.tokens, want.tokens) << what;
  ASSERT_EQ(got.logprobs.size(), want.logprobs.size()) << what;
  double worst = 0;
  for (size_t i = 0; i < got.logprobs.size(); ++i) {
    worst = std::max(worst, std::fabs(got.logprobs[i] - want.logprobs[i]));
  }
  std::printf("  %s: logprobs max |diff| %.3g vs the one-sequence loop\n", what.c_str(), worst);
  // The same cached rows give the same logits; only the engine's float log-softmax differs.
  EXPECT_LE(worst, 1e-5) << what;
}

// A prefix saved as bytes and restored into a slot that another prompt has overwritten since
// gives the tokens and logprobs of a plain loop over a cache of the same type. With one slot
// the unrelated prompt in between fills slot 0, so a restore that dropped or misplaced rows
// (or a q8 row's per-head scales) would leave that prompt's rows or scales to be read; with
// the slot untouched since the first request (as in the tests above) a restore that copied
// nothing at all would still pass. Checked by breaking Loop::unpack: copying nothing, and
// copying a q8 row's int8 elements but not its scales, move the second answer's logprobs by
// 0.9 and 0.7.
TEST(Engine, PrefixRestoredIntoAReusedSlotEqualsTheLoopForEveryCacheType) {
  Fixture& f = fixture();
  const int64_t n_vocab = f.model->config().n_vocab;
  for (const DType type : {DType::F32, DType::F16, DType::I8}) {
    const std::string name = kv_type_name(type);
    EngineOptions o = small_options(1);
    o.prefix_cache_bytes = 64 << 20;
    o.kv_type = type;
    Engine engine(*f.model, *f.tok, o);
    const auto system = test::prompt_tokens(30, n_vocab, 78);
    auto first = system;
    first.push_back(5);
    const Answer a = run_greedy(engine, first, 4);
    EXPECT_EQ(a.cached_tokens, 0) << name;
    expect_answer(a, greedy_reference_logprobs(*f.model, first, 4, type), name + " first");
    const auto other = test::prompt_tokens(40, n_vocab, 1234);  // slot 0 now holds these rows
    expect_answer(run_greedy(engine, other, 2), greedy_reference_logprobs(*f.model, other, 2, type),
                  name + " other");
    auto second = system;
    second.push_back(9);
    const Answer b = run_greedy(engine, second, 8);
    EXPECT_EQ(b.cached_tokens, 30) << name;  // restored from the first prompt's entry
    const Greedy want = greedy_reference_logprobs(*f.model, second, 8, type);
    expect_answer(b, want, name + " second");
    if (type != DType::F32) {  // the comparison above sees the cache's rounding
      EXPECT_NE(want.logprobs, greedy_reference_logprobs(*f.model, second, 8, DType::F32).logprobs) << name;
    }
  }
}

TEST(Engine, RejectsWhatCannotRun) {
  Fixture& f = fixture();
  EngineOptions o = small_options(1);
  o.max_queue = 1;
  Engine engine(*f.model, *f.tok, o);
  EXPECT_THROW(engine.submit(greedy_job({}, 4)), Error);
  EXPECT_THROW(engine.submit(greedy_job({1, 2}, 255)), Error);  // 2 + 255 > 256
  EXPECT_THROW(engine.submit(greedy_job({int32_t(f.model->config().n_vocab)}, 1)), Error);
  GenerationJob bad = greedy_job({1}, 1);
  bad.sampling.top_p = 7;
  EXPECT_THROW(engine.submit(bad), Error);
  // One runs, one waits, the third finds the queue full.
  auto s1 = engine.submit(greedy_job({1, 2, 3}, 200));
  std::shared_ptr<RequestStream> s2;
  for (int i = 0; i < 1000 && !s2; ++i) {  // s1 leaves the queue once admitted
    s2 = engine.submit(greedy_job({4, 5}, 2));
    if (!s2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_NE(s2, nullptr);
  auto s3 = engine.submit(greedy_job({6}, 2));
  if (engine.stats().queue_depth == 1) {
    EXPECT_EQ(s3, nullptr);
  }
  s1->cancel();  // frees the slot at the next step
  Outcome o1 = collect(*s1);
  EXPECT_EQ(o1.final.cause, StopCause::cancelled);
  EXPECT_LT(o1.final.record.completion_tokens, 200);
  Outcome o2 = collect(*s2);
  EXPECT_EQ(o2.final.cause, StopCause::length);
}

TEST(Engine, StopTokenEndsWithoutText) {
  Fixture& f = fixture();
  Engine engine(*f.model, *f.tok, small_options(1));
  const auto prompt = test::prompt_tokens(6, f.model->config().n_vocab, 5);
  const auto ref = greedy_reference(*f.model, prompt, 3);
  GenerationJob j = greedy_job(prompt, 8);
  j.stop_tokens = {ref[2]};
  Outcome o = collect(*engine.submit(j));
  EXPECT_EQ(o.final.cause, StopCause::stop_token);
  EXPECT_EQ(o.final.record.completion_tokens, int64_t(std::find(ref.begin(), ref.end(), ref[2]) - ref.begin()) + 1);
  // The text shown is the answer's bytes with invalid UTF-8 replaced, the stop token left out.
  std::string expected;
  tokenizer::append_valid_utf8(f.tok->decode({ref.begin(), ref.begin() + (o.final.record.completion_tokens - 1)}),
                               false, &expected);
  EXPECT_EQ(o.text, expected);
}

TEST(Engine, DrainCancelsWhatOutlivesTheTimeout) {
  Fixture& f = fixture();
  Engine engine(*f.model, *f.tok, small_options(1));
  auto s = engine.submit(greedy_job({1, 2, 3}, 250));
  engine.drain(0);
  EXPECT_EQ(engine.submit(greedy_job({1}, 1)), nullptr);  // draining: refused
  Outcome o = collect(*s);
  EXPECT_TRUE(o.final.cause == StopCause::cancelled || o.final.cause == StopCause::length);
}

}  // namespace
}  // namespace moxie
