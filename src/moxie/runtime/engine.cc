#include "moxie/runtime/engine.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <exception>
#include <span>
#include <string>

#include "moxie/core/error.h"
#include "moxie/core/thread_pool.h"
#include "moxie/model/model.h"
#include "moxie/runtime/engine_internal.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie {
const char* openai_finish_reason(StopCause cause) {
  switch (cause) {
    case StopCause::stop_token:
    case StopCause::stop_string: return "stop";
    case StopCause::length:
    case StopCause::context_full: return "length";
    case StopCause::cancelled: return "cancelled";
    case StopCause::error: return "error";
    case StopCause::none: break;
  }
  return "none";
}

// The blob is [n][n_layer][k row, v row] in the rows' plain form (KvCache::read_row), per
// token whatever the cache's layout, so a prefix of it is the blob of a prefix of the tokens.
std::vector<uint8_t> Engine::Loop::pack(int slot, int64_t n) const {
  const int64_t k_bytes = kv.k_row_bytes(), v_bytes = kv.v_row_bytes();
  const int64_t per_token = prefix.bytes_per_token();
  std::vector<uint8_t> blob(size_t(n * per_token));
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t il = 0; il < kv.shape().n_layer; ++il) {
      uint8_t* dst = blob.data() + t * per_token + il * (k_bytes + v_bytes);
      kv.read_row(il, slot, t, dst, dst + k_bytes);
    }
  }
  return blob;
}

void Engine::Loop::unpack(const std::vector<uint8_t>& blob, int slot, int64_t n) {
  const int64_t k_bytes = kv.k_row_bytes(), v_bytes = kv.v_row_bytes();
  const int64_t per_token = prefix.bytes_per_token();
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t il = 0; il < kv.shape().n_layer; ++il) {
      const uint8_t* src = blob.data() + t * per_token + il * (k_bytes + v_bytes);
      kv.write_row(il, slot, t, src, src + k_bytes);
    }
  }
  kv.set_length(slot, n);
}

Engine::Engine(const Model& model, const tokenizer::Tokenizer& tokenizer, const EngineOptions& options)
    : model_(model), tokenizer_(tokenizer), options_(options) {
  if (options.n_parallel < 1) throw Error("engine: --parallel must be at least 1");
  if (options.n_ctx < 2) throw Error("engine: --ctx-size must be at least 2");
  if (model.config().n_ctx_train > 0 && options.n_ctx > model.config().n_ctx_train)
    throw Error("engine: --ctx-size " + std::to_string(options.n_ctx) + " exceeds the model's training context " +
                std::to_string(model.config().n_ctx_train));
  loop_ = std::make_unique<Loop>(model, options);
  thread_ = std::thread([this] { run_loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    draining_ = true;
    for (auto& [id, seq] : seqs_) seq->stream->cancel();
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<RequestStream> Engine::submit(GenerationJob job) {
  if (job.prompt.empty()) throw Error("the prompt is empty");
  if (job.max_tokens < 1) throw Error("max_tokens must be at least 1");
  const int64_t n_vocab = tokenizer_.n_vocab();
  for (int32_t t : job.prompt)
    if (t < 0 || t >= model_.config().n_vocab || t >= n_vocab) throw Error("prompt token id " + std::to_string(t) + " is outside the vocabulary");
  if (int64_t(job.prompt.size()) + job.max_tokens > options_.n_ctx)
    throw Error("the prompt (" + std::to_string(job.prompt.size()) + " tokens) plus max_tokens (" +
                std::to_string(job.max_tokens) + ") exceeds the context size of " + std::to_string(options_.n_ctx) +
                " tokens");
  if (job.sampling.json_object)  // ~10 ms for a 150k vocabulary, once, outside the lock
    std::call_once(json_vocab_once_, [&] { json_vocab_ = std::make_shared<const JsonVocab>(tokenizer_); });
  std::unique_lock<std::mutex> lock(mu_);
  if (draining_) return nullptr;
  const int64_t id = next_id_++;
  auto seq = std::make_unique<Seq>(id, std::move(job), tokenizer_, int32_t(model_.config().n_vocab));
  if (seq->job.sampling.json_object) seq->json = std::make_unique<JsonConstraint>(json_vocab_, seq->job.stop_tokens);
  if (!loop_->scheduler.submit(id, int64_t(seq->history.size()))) return nullptr;
  auto stream = seq->stream;
  seqs_[id] = std::move(seq);
  lock.unlock();
  wake_.notify_all();
  return stream;
}

void Engine::drain(int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  draining_ = true;
  idle_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return seqs_.empty(); });
  for (auto& [id, seq] : seqs_) seq->stream->cancel();
  lock.unlock();
  wake_.notify_all();
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  EngineStats s;
  s.queue_depth = loop_->scheduler.queue_depth();
  s.active = loop_->scheduler.n_active();
  s.n_slots = options_.n_parallel;
  s.steps = loop_->steps;
  s.prefix_cache_bytes = loop_->prefix.bytes();
  s.prefix_cache_entries = loop_->prefix.size();
  const auto now = Clock::now();
  int64_t n = 0;
  for (const auto& [t, k] : loop_->sampled)
    if (ms_between(t, now) <= kThroughputWindowS * 1e3) n += k;
  s.tokens_per_s = double(n) / kThroughputWindowS;
  return s;
}

}  // namespace moxie
