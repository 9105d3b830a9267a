// The engine's loop thread: admit -> plan -> one batched forward -> sample -> emit.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <span>
#include <string>

#include "moxie/model/model.h"
#include "moxie/runtime/engine.h"
#include "moxie/runtime/engine_internal.h"

namespace moxie {
void Engine::run_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    reap_cancelled();
    admit_queued();
    const std::vector<StepItem> plan = loop_->scheduler.plan();
    if (plan.empty()) {
      if (seqs_.empty()) idle_cv_.notify_all();
      if (stopping_ && seqs_.empty()) break;
      wake_.wait_for(lock, std::chrono::milliseconds(200));
      continue;
    }
    const Batch batch = build_batch(plan);
    lock.unlock();  // submit() may queue more while the forward runs; plan's sequences stay
    std::string error;
    try {
      model_.forward(batch, loop_->kv, loop_->ctx, loop_->logits.data());
    } catch (const std::exception& e) {
      error = e.what();
    }
    lock.lock();
    ++loop_->steps;
    if (!error.empty()) {
      for (const StepItem& item : plan)
        if (auto it = seqs_.find(item.id); it != seqs_.end()) finish(*it->second, StopCause::error, error);
      continue;
    }
    loop_->scheduler.on_step_done(plan);
    sample_step(plan);
  }
}

Batch Engine::build_batch(const std::vector<StepItem>& plan) const {
  Batch batch;
  for (const StepItem& item : plan) {
    const std::vector<int32_t>& history = seqs_.at(item.id)->history;
    if (item.decode) {  // the last sampled token, not yet in the cache
      batch.add(history.back(), item.slot, item.first, true);
      continue;
    }
    for (int64_t i = item.first; i < item.first + item.count; ++i)
      batch.add(history[size_t(i)], item.slot, i, item.logits && i + 1 == item.first + item.count);
  }
  return batch;
}

void Engine::reap_cancelled() {
  std::vector<Seq*> gone;
  for (auto& [id, seq] : seqs_)
    if (seq->stream->cancelled()) gone.push_back(seq.get());
  for (Seq* seq : gone) finish(*seq, StopCause::cancelled);
}

void Engine::admit_queued() {
  Loop& L = *loop_;
  for (const auto& [id, slot] : L.scheduler.admit()) {
    Seq& seq = *seqs_.at(id);
    L.kv.reset(slot);
    // The last prompt token is always recomputed: its logits give the first answer token.
    const std::span<const int32_t> prompt(seq.job.prompt);
    PrefixCache::Match m = L.prefix.find(prompt.first(prompt.size() - 1));
    const int64_t n_cached = m.entry ? m.n_tokens : 0;
    if (n_cached > 0) L.unpack(m.entry->kv, slot, n_cached);
    L.scheduler.set_computed(id, n_cached);
    seq.record.cached_tokens = n_cached;
    seq.record.queue_ms = ms_between(seq.t_submit, Clock::now());
  }
}

void Engine::sample_step(const std::vector<StepItem>& plan) {
  Loop& L = *loop_;
  const int64_t n_vocab = model_.config().n_vocab;
  struct Draw {
    Seq* seq;
    const float* logits;  // [n_vocab]
    SampledToken token;
    std::string error;
  };
  std::vector<Draw> draws;
  int64_t row = 0;
  for (const StepItem& item : plan) {
    if (!item.logits) continue;
    Seq& seq = *seqs_.at(item.id);
    draws.push_back({&seq, L.logits.data() + row++ * n_vocab, {}, {}});
    if (!item.decode && L.prefix.budget_bytes() > 0) {  // the whole prompt is in the slot now
      std::span<const int32_t> prompt(seq.job.prompt);
      if (L.prefix.find(prompt).n_tokens < int64_t(prompt.size()))
        L.prefix.insert(seq.job.prompt, L.pack(item.slot, int64_t(prompt.size())));
    }
  }
  // Each sequence's sampler, history and JSON state are its own, so the draws of a batch
  // run on the pool's threads (a draw is a few passes over the vocabulary); the events
  // are then pushed in plan order on this thread.
  std::atomic<size_t> next{0};
  L.pool.run([&](int, int) {
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < draws.size();) {
      Draw& d = draws[i];
      try {
        d.token = d.seq->sampler.sample(std::span<const float>(d.logits, size_t(n_vocab)), d.seq->history,
                                        d.seq->json.get());
        if (d.seq->json) d.seq->json->accept(d.token.token);
      } catch (const std::exception& e) {
        d.error = e.what();
      }
    }
  });
  int64_t n_sampled = 0;
  for (Draw& d : draws) {
    if (!d.error.empty()) {
      finish(*d.seq, StopCause::error, d.error);
      continue;
    }
    ++n_sampled;
    emit_token(*d.seq, d.token);
  }
  L.sampled.emplace_back(Clock::now(), n_sampled);
  while (!L.sampled.empty() && ms_between(L.sampled.front().first, Clock::now()) > kThroughputWindowS * 1e3)
    L.sampled.pop_front();
}

void Engine::emit_token(Seq& seq, const SampledToken& token) {
  const auto now = Clock::now();
  if (seq.n_generated == 0) {
    seq.record.ttft_ms = ms_between(seq.t_submit, now);
  } else {
    seq.record.inter_token_ms.push_back(float(ms_between(seq.t_last_token, now)));
  }
  seq.t_last_token = now;
  seq.history.push_back(token.token);
  ++seq.n_generated;

  StreamEvent ev;
  ev.tokens.push_back(token);
  StopCause cause = StopCause::none;
  const auto& stops = seq.job.stop_tokens;
  if (std::find(stops.begin(), stops.end(), token.token) != stops.end()) {
    cause = StopCause::stop_token;
  } else {
    StopMatcher::Result r = seq.stop.push(seq.decoder.push(token.token));
    ev.text = std::move(r.emit);
    if (r.stopped) cause = StopCause::stop_string;
    else if (seq.json && seq.json->complete()) cause = StopCause::stop_token;  // the object closed: stop as at EOS
  }
  if (cause == StopCause::none && seq.n_generated >= seq.job.max_tokens) cause = StopCause::length;
  // The sampled token still has to be written to the cache before the next one is known.
  if (cause == StopCause::none && loop_->scheduler.n_computed(seq.id) + 1 > options_.n_ctx)
    cause = StopCause::context_full;
  if (cause == StopCause::none) {
    if (!ev.text.empty() || !ev.tokens.empty()) seq.stream->push(std::move(ev));
    return;
  }
  if (!ev.text.empty() || !ev.tokens.empty()) seq.stream->push(std::move(ev));
  finish(seq, cause);
}

void Engine::finish(Seq& seq, StopCause cause, const std::string& error) {
  Loop& L = *loop_;
  StreamEvent ev;
  ev.final = true;
  ev.cause = cause;
  ev.error = error;
  if (cause == StopCause::length || cause == StopCause::context_full || cause == StopCause::stop_token) {
    // No stop string can complete any more: release what the matcher and decoder held.
    StopMatcher::Result r = seq.stop.push(seq.decoder.flush());
    ev.text = r.emit + (r.stopped ? std::string() : seq.stop.flush());
  }
  const int slot = L.scheduler.contains(seq.id) ? L.scheduler.slot(seq.id) : -1;
  if (slot >= 0) {
    const int64_t n_cached = L.kv.length(slot);
    // Keep the conversation so far: the next turn's prompt starts with it.
    if (cause != StopCause::error && L.prefix.budget_bytes() > 0 && n_cached > 0) {
      std::vector<int32_t> tokens(seq.history.begin(), seq.history.begin() + n_cached);
      if (L.prefix.find(tokens).n_tokens < n_cached) L.prefix.insert(tokens, L.pack(slot, n_cached));
    }
    L.kv.reset(slot);
  }
  L.scheduler.finish(seq.id);
  seq.record.prompt_tokens = int64_t(seq.job.prompt.size());
  seq.record.completion_tokens = seq.n_generated;
  seq.record.total_ms = ms_between(seq.t_submit, Clock::now());
  ev.record = seq.record;
  auto stream = seq.stream;
  seqs_.erase(seq.id);  // seq is gone from here on
  stream->push(std::move(ev));
}

}  // namespace moxie
