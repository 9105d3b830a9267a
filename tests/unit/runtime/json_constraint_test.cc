// JSON mode: JsonConstraint's mask against a brute-force oracle (walk every token's bytes
// on a copy of the recogniser, no shortcuts), special and end tokens, and generation on a
// synthetic model with random weights: whatever the seed, temperature and logit bias, an
// answer that ends with "stop" parses (nlohmann) as an object, and one cut by max_tokens
// is still a prefix the recogniser accepts.
#include "moxie/runtime/sampler/json_constraint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "unit/model/model_test_util.h"
#include "moxie/core/error.h"
#include "moxie/core/thread_pool.h"
#include "moxie/runtime/generate.h"
#include "moxie/tokenizer/gguf_tokenizer.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie {
namespace {

struct Fixture {
  test::TempDir dir;
  std::unique_ptr<Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  std::shared_ptr<const JsonVocab> vocab;
  Fixture() {
    model = Model::open(test::synth_model(dir, Arch::qwen3moe, "tiny", DType::F32, 11));
    tok = std::make_unique<tokenizer::Tokenizer>(tokenizer::load_gguf_tokenizer(model->file()));
    vocab = std::make_shared<const JsonVocab>(*tok);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

constexpr float kMasked = -std::numeric_limits<float>::infinity();

// The states the mask is checked in: after each of these prefixes.
const char* const kPrefixes[] = {
    "", " ", "{", "{ ", "{\"", "{\"na", "{\"name\"", "{\"name\":", "{\"name\": ", "{\"a\":\"x", "{\"a\":\"\\",
    "{\"a\":\"\\u0", "{\"a\":\"\\uD83D", "{\"a\":\"\\uD83D\\", "{\"a\":\"\xE2\x82", "{\"a\":1", "{\"a\":-", "{\"a\":0.",
    "{\"a\":1e", "{\"a\":t", "{\"a\":[", "{\"a\":[1,", "{\"a\":[1]", "{\"a\":{}", "{\"a\":[{\"b\":[", "{}"};

TEST(JsonConstraint, MaskEqualsBruteForceWalk) {
  Fixture& f = fixture();
  const int32_t n_model = int32_t(f.model->config().n_vocab);
  const std::vector<int32_t> end = {f.tok->eos_id()};
  for (const char* prefix : kPrefixes) {
    JsonConstraint json(f.vocab, end);
    JsonRecognizer state;
    ASSERT_TRUE(state.push(std::string_view(prefix))) << prefix;
    for (char c : std::string_view(prefix)) {  // feed the prefix as single-byte tokens
      const std::string_view one(&c, 1);
      int32_t id = -1;
      for (int32_t t = 0; t < f.vocab->size() && id < 0; ++t)
        if (f.vocab->usable(t) && f.vocab->bytes(t) == one) id = t;
      ASSERT_GE(id, 0) << "no single-byte token for " << int(uint8_t(c));
      json.accept(id);
    }
    std::vector<float> logits(size_t(n_model), 0.5f);
    json.apply(logits);
    int n_allowed = 0;
    for (int32_t t = 0; t < n_model; ++t) {
      bool expect = false;
      if (t < f.tok->n_vocab() && !f.tok->is_special(t) && !f.tok->token_bytes(t).empty() &&
          f.tok->token_type(t) != tokenizer::TokenType::kUnused) {
        JsonRecognizer walk = state;
        expect = walk.push(f.tok->token_bytes(t));
      }
      if (state.complete()) expect = t == f.tok->eos_id();
      ASSERT_EQ(logits[size_t(t)] != kMasked, expect) << "prefix '" << prefix << "' token " << t << " '"
                                                       << (t < f.tok->n_vocab() ? f.tok->token_bytes(t) : "") << "'";
      n_allowed += expect;
    }
    EXPECT_GT(n_allowed, 0) << prefix;
  }
}

TEST(JsonConstraint, SpecialTokensNeverAndEndOnlyWhenComplete) {
  Fixture& f = fixture();
  const int32_t eos = f.tok->eos_id();
  ASSERT_GE(eos, 0);
  JsonConstraint json(f.vocab, {eos});
  std::vector<float> logits(size_t(f.model->config().n_vocab), 0.0f);
  json.apply(logits);
  for (int32_t t = 0; t < f.tok->n_vocab(); ++t)
    if (f.tok->is_special(t)) {
      EXPECT_EQ(logits[size_t(t)], kMasked) << t;
    }
  EXPECT_THROW(json.accept(eos), Error);  // masked, so accepting it is a bug the constraint reports
}

TEST(JsonConstraint, ThrowsWhenNothingIsLeft) {
  Fixture& f = fixture();
  JsonConstraint json(f.vocab, {});
  std::vector<float> logits(size_t(f.model->config().n_vocab), kMasked);  // the caller masked everything
  EXPECT_THROW(json.apply(logits), Error);
}

// Biases that steer a random model towards closing strings and containers (or towards
// nesting, escapes and whitespace) so that answers end within max_tokens.
std::vector<std::pair<int32_t, float>> bias_towards(const tokenizer::Tokenizer& tok, std::string_view bytes, float bias) {
  std::vector<std::pair<int32_t, float>> out;
  for (int32_t t = 0; t < tok.n_vocab(); ++t) {
    const std::string_view b = tok.token_bytes(t);
    if (!tok.is_special(t) && !b.empty() && b.find_first_of(bytes) != std::string_view::npos) out.emplace_back(t, bias);
  }
  return out;
}

TEST(JsonConstraint, RandomModelAlwaysWritesAnObjectOrAValidPrefix) {
  Fixture& f = fixture();
  ThreadPool pool(1);
  Generator gen(*f.model, *f.tok, pool, 256);
  const std::vector<int32_t> prompt = f.tok->encode("Reply in JSON:", {.add_special = false});
  struct Steer {
    const char* bytes;
    float bias;
  };
  const Steer steers[] = {{"\"}]", 6.0f}, {"\"}],0", 4.0f}, {"\"{[}]", 5.0f}, {"\\\"} ", 5.0f}, {"", 0.0f}};
  int n_stop = 0, n_length = 0;
  for (const Steer& steer : steers) {
    for (float temperature : {0.0f, 0.7f, 1.5f}) {
      for (uint64_t seed : {1u, 2u, 3u}) {
        GenerateOptions o;
        o.sampling.temperature = temperature;
        o.sampling.seed = seed;
        o.sampling.json_object = true;
        o.sampling.logit_bias = bias_towards(*f.tok, steer.bytes, steer.bias);
        o.max_tokens = 160;
        o.stop_tokens = {f.tok->eos_id()};
        const GenerateResult r = gen.generate(prompt, o);
        const std::string where = std::string("steer '") + steer.bytes + "' t=" + std::to_string(temperature) +
                                  " seed=" + std::to_string(seed) + ": " + r.text;
        JsonRecognizer check;
        ASSERT_TRUE(check.push(r.text)) << where;
        if (r.finish == FinishReason::stop_token) {
          ++n_stop;
          ASSERT_TRUE(check.complete()) << where;
          ASSERT_TRUE(nlohmann::json::accept(r.text)) << where;
          EXPECT_TRUE(nlohmann::json::parse(r.text).is_object()) << where;
          EXPECT_NE(r.tokens.back().token, f.tok->eos_id());  // it stops at the close, before any EOS
        } else {
          ++n_length;
          ASSERT_EQ(r.finish, FinishReason::length) << where;
          EXPECT_EQ(int64_t(r.tokens.size()), o.max_tokens);
          EXPECT_FALSE(check.complete()) << where;
        }
      }
    }
  }
  std::printf("%d answers closed their object, %d were cut by max_tokens\n", n_stop, n_length);
  EXPECT_GE(n_stop, 20);  // the steered runs close; the unsteered one may not
}

}  // namespace
}  // namespace moxie
