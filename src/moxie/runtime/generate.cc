#include "moxie/runtime/generate.h"

#include <algorithm>
#include <chrono>

#include "moxie/core/error.h"
#include "moxie/model/model.h"
#include "moxie/runtime/sampler/json_constraint.h"
#include "moxie/runtime/sampler/stop.h"
#include "moxie/tokenizer/stream_decoder.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Turns sampled tokens into text to show: whole UTF-8 characters only, stop strings cut off.
class TextStream {
 public:
  TextStream(const tokenizer::Tokenizer& tok, const std::vector<std::string>& stops, const TextSink& sink,
             std::string* text)
      : decoder_(tok), stops_(stops), sink_(sink), text_(text) {}

  // Returns true when a stop string matched (the text before it has been emitted).
  bool push(int32_t token) { return emit(stops_.push(decoder_.push(token))); }
  // Releases what the decoder and the matcher hold back; true when that completes a stop string.
  bool finish() {
    if (emit(stops_.push(decoder_.flush()))) return true;
    emit_text(stops_.flush());
    return false;
  }

 private:
  bool emit(const StopMatcher::Result& r) {
    emit_text(r.emit);
    return r.stopped;
  }
  void emit_text(const std::string& piece) {
    if (piece.empty()) return;
    *text_ += piece;
    if (sink_) sink_(piece);
  }

  tokenizer::StreamDecoder decoder_;
  StopMatcher stops_;
  const TextSink& sink_;
  std::string* text_;
};

}  // namespace

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::length: return "length";
    case FinishReason::stop_token: return "stop_token";
    case FinishReason::stop_string: return "stop_string";
    case FinishReason::context_full: return "context_full";
    case FinishReason::cancelled: return "cancelled";
  }
  return "unknown";
}

struct Generator::State {
  State(const Model& m, ThreadPool& pool, int64_t n_ctx, DType kv_type)
      : kv(m.make_kv_cache(1, n_ctx, kv_type)), ctx(pool) {}
  KvCache kv;
  ForwardContext ctx;
  Batch batch;
  std::vector<float> logits;  // [n_vocab] of the last token run
};

Generator::Generator(const Model& model, const tokenizer::Tokenizer& tok, ThreadPool& pool, int64_t n_ctx,
                     int64_t prefill_chunk, DType kv_type)
    : model_(model),
      tok_(tok),
      prefill_chunk_(prefill_chunk),
      state_(std::make_unique<State>(model, pool, n_ctx, kv_type)) {
  if (prefill_chunk < 1) throw Error("generate: the prefill chunk must be at least 1 token");
  if (tok.n_vocab() > model.config().n_vocab) {
    throw Error("generate: the tokenizer has " + std::to_string(tok.n_vocab()) + " tokens but the model only " +
                std::to_string(model.config().n_vocab) + " logits");
  }
  state_->logits.resize(size_t(model.config().n_vocab));
}

Generator::~Generator() = default;

int64_t Generator::n_ctx() const { return state_->kv.n_ctx(); }

void Generator::reset() {
  state_->kv.reset(0);
  cached_.clear();
}

void Generator::truncate(int64_t n_tokens) {
  state_->kv.truncate(0, n_tokens);  // throws on a bad count
  cached_.resize(size_t(n_tokens));
}

const float* Generator::prefill(std::span<const int32_t> ids) {
  if (ids.empty()) throw Error("generate: nothing to prefill");
  if (int64_t(cached_.size() + ids.size()) > n_ctx()) {
    throw Error("generate: " + std::to_string(cached_.size() + ids.size()) + " tokens do not fit the context of " +
                std::to_string(n_ctx()) + " tokens");
  }
  Batch& batch = state_->batch;
  for (size_t begin = 0; begin < ids.size(); begin += size_t(prefill_chunk_)) {
    const size_t end = std::min(ids.size(), begin + size_t(prefill_chunk_));
    batch.clear();
    const int64_t first_pos = int64_t(cached_.size());
    for (size_t i = begin; i < end; ++i) batch.add(ids[i], 0, first_pos + int64_t(i - begin), i + 1 == ids.size());
    model_.forward(batch, state_->kv, state_->ctx, state_->logits.data());
    cached_.insert(cached_.end(), ids.begin() + std::ptrdiff_t(begin), ids.begin() + std::ptrdiff_t(end));
  }
  return state_->logits.data();
}

const float* Generator::decode(int32_t id) { return prefill(std::span<const int32_t>(&id, 1)); }

// Keeps the cached tokens the prompt starts with, but never the whole prompt: the last
// prompt token must run again to give the logits of the first new token.
void Generator::reuse_prefix(const std::vector<int32_t>& prompt) {
  const size_t limit = std::min(cached_.size(), prompt.size() - 1);
  size_t common = 0;
  while (common < limit && cached_[common] == prompt[common]) ++common;
  state_->kv.truncate(0, int64_t(common));
  cached_.resize(common);
}

GenerateResult Generator::generate(const std::vector<int32_t>& prompt, const GenerateOptions& o, const TextSink& sink) {
  if (prompt.empty()) throw Error("generate: the prompt is empty");
  if (int64_t(prompt.size()) > n_ctx()) {
    throw Error("generate: the prompt of " + std::to_string(prompt.size()) + " tokens does not fit the context of " +
                std::to_string(n_ctx()) + " tokens");
  }
  GenerateResult r;
  Sampler sampler(o.sampling, int32_t(model_.config().n_vocab));  // validates the parameters first
  std::unique_ptr<JsonConstraint> json;
  if (o.sampling.json_object) {
    if (!json_vocab_) json_vocab_ = std::make_shared<const JsonVocab>(tok_);
    json = std::make_unique<JsonConstraint>(json_vocab_, o.stop_tokens);
  }
  reuse_prefix(prompt);
  r.stats.n_cached = int64_t(cached_.size());
  if (cancelled(o)) {
    r.finish = FinishReason::cancelled;
    return r;
  }
  const Clock::time_point t_prefill = Clock::now();
  const float* logits = prefill(std::span<const int32_t>(prompt).subspan(cached_.size()));
  r.stats.n_prefilled = int64_t(prompt.size()) - r.stats.n_cached;
  r.stats.prefill_ms = ms_since(t_prefill);
  decode_loop(prompt, o, sampler, logits, sink, r, json.get());
  return r;
}

// Samples, streams and feeds back tokens until one of the finish conditions holds.
void Generator::decode_loop(const std::vector<int32_t>& prompt, const GenerateOptions& o, Sampler& sampler,
                            const float* logits, const TextSink& sink, GenerateResult& r,
                            JsonConstraint* json) {
  const size_t n_vocab = size_t(model_.config().n_vocab);
  TextStream text(tok_, o.stop_strings, sink, &r.text);
  std::vector<int32_t> history = prompt;  // what the penalties look back on
  auto limit_reached = [&] { return o.max_tokens >= 0 && int64_t(r.tokens.size()) >= o.max_tokens; };
  Clock::time_point t_decode = Clock::now();
  r.finish = FinishReason::length;
  while (!limit_reached()) {
    const SampledToken t = sampler.sample(std::span<const float>(logits, n_vocab), history, json);
    if (json) json->accept(t.token);
    r.tokens.push_back(t);
    history.push_back(t.token);
    if (r.tokens.size() == 1) t_decode = Clock::now();  // decode timing starts after the first token
    if (std::find(o.stop_tokens.begin(), o.stop_tokens.end(), t.token) != o.stop_tokens.end()) {
      r.finish = FinishReason::stop_token;
      break;
    }
    if (text.push(t.token)) {
      r.finish = FinishReason::stop_string;
      break;
    }
    if (json && json->complete()) {  // JSON mode: the object closed, stop as at EOS
      r.finish = FinishReason::stop_token;
      break;
    }
    if (limit_reached()) break;
    if (int64_t(cached_.size()) >= n_ctx()) {
      r.finish = FinishReason::context_full;
      break;
    }
    if (cancelled(o)) {
      r.finish = FinishReason::cancelled;
      break;
    }
    logits = decode(t.token);
    ++r.stats.n_decoded;
  }
  if (r.stats.n_decoded > 0) r.stats.decode_ms = ms_since(t_decode);
  r.stats.n_generated = int64_t(r.tokens.size());
  if (r.finish != FinishReason::stop_string && text.finish()) r.finish = FinishReason::stop_string;
}

}  // namespace moxie
