#include "moxie/eval/local_backend.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "moxie/core/error.h"
#include "moxie/core/thread_pool.h"
#include "moxie/model/model.h"
#include "moxie/runtime/generate.h"
#include "moxie/runtime/loaded_model.h"
#include "moxie/runtime/perplexity.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie::eval {
namespace {

// log softmax(logits)[target] and whether target is the argmax.
std::pair<double, bool> token_logprob(const float* logits, int64_t n_vocab, int32_t target) {
  const double lp = -negative_log_likelihood(std::span<const float>(logits, size_t(n_vocab)), target);
  const bool greedy = std::max_element(logits, logits + n_vocab) - logits == target;
  return {lp, greedy};
}

}  // namespace

LocalBackend::LocalBackend(const std::string& gguf_path, int n_threads, int64_t n_ctx)
    : path_(gguf_path),
      model_(std::make_unique<LoadedModel>(LoadedModel::load(gguf_path))),
      pool_(std::make_unique<ThreadPool>(std::max(1, n_threads))),
      n_ctx_(n_ctx > 0 ? n_ctx : model_->model().config().n_ctx_train) {
  generator_ = std::make_unique<Generator>(model_->model(), model_->tokenizer(), *pool_, n_ctx_);
}

LocalBackend::~LocalBackend() = default;

std::string LocalBackend::prompt_text(const Prompt& p) const {
  if (!p.chat) return p.text;
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  for (const ChatTurn& t : p.turns) messages.push_back({{"role", t.role}, {"content", t.content}});
  return model_->render_chat(messages, true);
}

// Raw text gets BOS where the vocabulary asks for it; rendered chat text carries its own.
std::vector<int32_t> LocalBackend::encode(const Prompt& p, const std::string& text) const {
  if (!p.chat) return model_->encode_text(text);
  return model_->tokenizer().encode(text, tokenizer::EncodeOptions{.add_special = false, .parse_special = true});
}

LocalBackend::EncodedChoices LocalBackend::encode_choices(const Prompt& context,
                                                          const std::vector<std::string>& choices) const {
  std::string ctx = prompt_text(context);
  size_t n_space = 0;  // lm-eval moves the context's trailing spaces into the continuation
  while (n_space < ctx.size() && ctx[ctx.size() - 1 - n_space] == ' ') ++n_space;
  const std::string moved = ctx.substr(ctx.size() - n_space);
  ctx.resize(ctx.size() - n_space);
  EncodedChoices e;
  e.context = encode(context, ctx);
  if (e.context.empty()) throw Error(path_ + ": the context encodes to no tokens (empty context, no BOS)");
  for (const std::string& choice : choices) {
    const std::vector<int32_t> whole = encode(context, ctx + moved + choice);
    std::vector<int32_t> cont(whole.begin() + std::min(whole.size(), e.context.size()), whole.end());
    if (cont.empty()) throw Error(path_ + ": choice '" + choice + "' adds no tokens to its context");
    e.continuations.push_back(std::move(cont));
  }
  return e;
}

ChoiceScores LocalBackend::score_choices(const Prompt& context, const std::vector<std::string>& choices) {
  const EncodedChoices e = encode_choices(context, choices);
  const Model& m = model_->model();
  const int64_t n_vocab = m.config().n_vocab, n_ctx_tokens = int64_t(e.context.size());
  size_t longest = 0;
  for (const auto& c : e.continuations) longest = std::max(longest, c.size());
  if (n_ctx_tokens + int64_t(longest) > n_ctx_)
    throw Error(path_ + ": context and choice need " + std::to_string(n_ctx_tokens + int64_t(longest)) +
                " tokens, more than n_ctx " + std::to_string(n_ctx_));
  const int64_t n_seq = std::max<int64_t>(1, int64_t(choices.size()));
  KvCache kv = m.make_kv_cache(n_seq, n_ctx_tokens + int64_t(longest));
  ForwardContext fctx(*pool_);
  std::vector<float> last(static_cast<size_t>(n_vocab));
  Batch b;
  b.add_sequence(e.context, 0, 0, false);  // logits of the last context token only
  m.forward(b, kv, fctx, last.data());
  for (int64_t s = 1; s < n_seq; ++s) kv.copy_prefix(0, s, n_ctx_tokens);

  b.clear();  // every choice's tokens but its last, each in its own sequence, all logits
  for (size_t i = 0; i < e.continuations.size(); ++i) {
    const auto& c = e.continuations[i];
    for (size_t j = 0; j + 1 < c.size(); ++j) b.add(c[j], int32_t(i), n_ctx_tokens + int64_t(j), true);
  }
  std::vector<float> logits(size_t(b.n_logits() * n_vocab));
  if (b.size() > 0) m.forward(b, kv, fctx, logits.data());

  ChoiceScores r;
  r.prompt_tokens = n_ctx_tokens;
  int64_t row = 0;  // logits rows come in batch order: choice by choice
  for (const auto& c : e.continuations) {
    auto [lp, greedy] = token_logprob(last.data(), n_vocab, c[0]);
    for (size_t j = 1; j < c.size(); ++j, ++row) {
      const auto [l, g] = token_logprob(logits.data() + row * n_vocab, n_vocab, c[j]);
      lp += l;
      greedy = greedy && g;
    }
    r.logprob.push_back(lp);
    r.n_tokens.push_back(int64_t(c.size()));
    r.greedy.push_back(greedy);
    r.prompt_tokens += int64_t(c.size());
  }
  return r;
}

TextScore LocalBackend::score_text(const std::string& text) {
  const std::vector<int32_t> ids = model_->encode_text(text);
  if (ids.size() < 2) throw Error(path_ + ": a perplexity text needs at least 2 tokens");
  if (int64_t(ids.size()) > n_ctx_)
    throw Error(path_ + ": a perplexity text of " + std::to_string(ids.size()) + " tokens exceeds n_ctx " +
                std::to_string(n_ctx_));
  const Model& m = model_->model();
  const int64_t n_vocab = m.config().n_vocab;
  KvCache kv = m.make_kv_cache(1, int64_t(ids.size()));
  ForwardContext fctx(*pool_);
  Batch b;
  b.add_sequence(ids, 0, 0, true);
  std::vector<float> logits(size_t(b.n_logits() * n_vocab));
  m.forward(b, kv, fctx, logits.data());
  TextScore r;
  r.prompt_tokens = int64_t(ids.size());
  for (size_t j = 1; j < ids.size(); ++j)
    r.nll_sum += negative_log_likelihood(std::span<const float>(logits.data() + (j - 1) * n_vocab, size_t(n_vocab)), ids[j]);
  r.n_scored = int64_t(ids.size()) - 1;
  return r;
}

Generation LocalBackend::generate(const Prompt& prompt, int64_t max_tokens, const std::vector<std::string>& stop) {
  const std::vector<int32_t> ids = encode(prompt, prompt_text(prompt));
  GenerateOptions o;
  o.sampling.temperature = 0;  // greedy: the same answer on every run
  o.max_tokens = max_tokens;
  o.stop_strings = stop;
  o.stop_tokens = model_->end_tokens();
  generator_->reset();
  const GenerateResult g = generator_->generate(ids, o);
  Generation r;
  r.text = g.text;
  r.prompt_tokens = int64_t(ids.size());
  r.completion_tokens = g.stats.n_generated;
  return r;
}

}  // namespace moxie::eval
