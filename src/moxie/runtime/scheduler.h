#pragma once
// Scheduler: continuous batching over a fixed set of KV-cache slots, with no model inside.
//
// Sequences wait in a bounded FIFO queue until a slot is free. Every engine step asks for a
// plan: each decoding sequence contributes its one next token, then the prompt chunks of
// prefilling sequences (oldest first) fill what is left of the step's token budget. So a new
// request joins the running batch at the next step, and a long prompt is prefilled a chunk
// per step instead of stalling the streams that are already decoding.
//
//   submit(id, n_prompt)      -> false when the queue is full (the server answers 503)
//   admit()                   -> sequences that just got a slot (the engine restores any
//                                cached prefix, then calls set_computed)
//   plan()                    -> the work of one forward pass
//   on_step_done(plan)        -> advances prompts; a finished prompt moves to decoding
//   finish(id) / cancel(id)   -> frees the slot (or drops a queued sequence)
#include <cstdint>
#include <deque>
#include <map>
#include <vector>

namespace moxie {

struct SchedulerLimits {
  int n_slots = 1;              // sequences computed at once (KV cache slots)
  int64_t max_queue = 64;       // sequences waiting for a slot; more are refused
  int64_t step_tokens = 512;    // most tokens in one forward pass (decode + prefill chunks)
  int64_t prefill_chunk = 256;  // most prompt tokens of one sequence in one pass
};

enum class SeqPhase { waiting, prefill, decode };

// One sequence's share of a step: prompt tokens [first, first + count) for a prefill
// chunk, or the one token after the last sampled one for a decode (count 1, first =
// the position it takes). logits: whether the pass must return the logits of its last
// token (the end of the prompt, or any decode).
struct StepItem {
  int64_t id = 0;
  int slot = -1;
  bool decode = false;
  int64_t first = 0;
  int64_t count = 0;
  bool logits = false;
};

class Scheduler {
 public:
  // Throws moxie::Error naming the field when a limit is not positive.
  explicit Scheduler(const SchedulerLimits& limits);

  bool submit(int64_t id, int64_t n_prompt);  // n_prompt >= 1; false: queue full
  std::vector<std::pair<int64_t, int>> admit();  // (id, slot) of sequences given a slot now
  // n_cached prompt tokens of a just-admitted sequence are already in its slot (0 <= n_cached < n_prompt).
  void set_computed(int64_t id, int64_t n_cached);
  std::vector<StepItem> plan() const;
  void on_step_done(const std::vector<StepItem>& items);
  // Ends a sequence, queued or running; its slot is free for the next admit(). Unknown ids are ignored.
  void finish(int64_t id);

  bool contains(int64_t id) const { return seqs_.count(id) != 0; }
  SeqPhase phase(int64_t id) const;  // throws moxie::Error for an unknown id
  int slot(int64_t id) const;        // -1 while waiting
  int64_t n_computed(int64_t id) const;  // tokens in the slot (prompt so far, then prompt + generated)
  int64_t queue_depth() const { return int64_t(queue_.size()); }
  int n_active() const;  // sequences holding a slot
  bool idle() const { return seqs_.empty(); }
  const SchedulerLimits& limits() const { return limits_; }

 private:
  struct Seq {
    int64_t n_prompt = 0;
    int64_t n_computed = 0;
    int slot = -1;
    SeqPhase phase = SeqPhase::waiting;
    uint64_t order = 0;  // admission order: prefill goes oldest first
  };
  const Seq& get(int64_t id) const;

  SchedulerLimits limits_;
  std::map<int64_t, Seq> seqs_;
  std::deque<int64_t> queue_;
  std::vector<int64_t> slot_owner_;  // [n_slots], -1 when free
  uint64_t next_order_ = 0;
};

}  // namespace moxie
