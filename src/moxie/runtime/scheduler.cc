#include "moxie/runtime/scheduler.h"

#include <algorithm>
#include <string>

#include "moxie/core/error.h"

namespace moxie {

Scheduler::Scheduler(const SchedulerLimits& limits) : limits_(limits) {
  if (limits.n_slots < 1) throw Error("scheduler: n_slots must be at least 1, got " + std::to_string(limits.n_slots));
  if (limits.max_queue < 0) throw Error("scheduler: max_queue must not be negative");
  if (limits.prefill_chunk < 1) throw Error("scheduler: prefill_chunk must be at least 1");
  // Every decoding sequence needs its token in every step, and a prompt must still move.
  if (limits.step_tokens < limits.n_slots + 1)
    throw Error("scheduler: step_tokens (" + std::to_string(limits.step_tokens) + ") must exceed n_slots (" +
                std::to_string(limits.n_slots) + ")");
  slot_owner_.assign(size_t(limits.n_slots), -1);
}

bool Scheduler::submit(int64_t id, int64_t n_prompt) {
  if (n_prompt < 1) throw Error("scheduler: sequence " + std::to_string(id) + " has an empty prompt");
  if (seqs_.count(id)) throw Error("scheduler: sequence " + std::to_string(id) + " was already submitted");
  if (int64_t(queue_.size()) >= limits_.max_queue) return false;
  Seq s;
  s.n_prompt = n_prompt;
  seqs_[id] = s;
  queue_.push_back(id);
  return true;
}

std::vector<std::pair<int64_t, int>> Scheduler::admit() {
  std::vector<std::pair<int64_t, int>> admitted;
  for (int slot = 0; slot < limits_.n_slots && !queue_.empty(); ++slot) {
    if (slot_owner_[size_t(slot)] != -1) continue;
    const int64_t id = queue_.front();
    queue_.pop_front();
    Seq& s = seqs_.at(id);
    s.slot = slot;
    s.phase = SeqPhase::prefill;
    s.order = next_order_++;
    slot_owner_[size_t(slot)] = id;
    admitted.emplace_back(id, slot);
  }
  return admitted;
}

void Scheduler::set_computed(int64_t id, int64_t n_cached) {
  auto it = seqs_.find(id);
  if (it == seqs_.end() || it->second.phase != SeqPhase::prefill || it->second.n_computed != 0)
    throw Error("scheduler: set_computed on sequence " + std::to_string(id) + " that was not just admitted");
  // At least the last prompt token is always computed: its logits give the first answer token.
  if (n_cached < 0 || n_cached >= it->second.n_prompt)
    throw Error("scheduler: cached prefix " + std::to_string(n_cached) + " out of range for a prompt of " +
                std::to_string(it->second.n_prompt));
  it->second.n_computed = n_cached;
}

std::vector<StepItem> Scheduler::plan() const {
  std::vector<StepItem> items;
  std::vector<std::pair<uint64_t, int64_t>> prefilling;  // (order, id)
  for (int slot = 0; slot < limits_.n_slots; ++slot) {
    const int64_t id = slot_owner_[size_t(slot)];
    if (id < 0) continue;
    const Seq& s = seqs_.at(id);
    if (s.phase == SeqPhase::decode) {
      items.push_back({id, slot, true, s.n_computed, 1, true});
    } else {
      prefilling.emplace_back(s.order, id);
    }
  }
  std::sort(prefilling.begin(), prefilling.end());
  int64_t budget = limits_.step_tokens - int64_t(items.size());
  for (const auto& [order, id] : prefilling) {
    if (budget <= 0) break;
    const Seq& s = seqs_.at(id);
    const int64_t count = std::min({limits_.prefill_chunk, s.n_prompt - s.n_computed, budget});
    const bool last = s.n_computed + count == s.n_prompt;
    items.push_back({id, s.slot, false, s.n_computed, count, last});
    budget -= count;
  }
  return items;
}

void Scheduler::on_step_done(const std::vector<StepItem>& items) {
  for (const StepItem& item : items) {
    auto it = seqs_.find(item.id);
    if (it == seqs_.end()) continue;  // finished during the step (cancelled, stopped)
    Seq& s = it->second;
    if (item.first != s.n_computed) throw Error("scheduler: step item of sequence " + std::to_string(item.id) + " is stale");
    s.n_computed += item.count;
    if (!item.decode && s.n_computed == s.n_prompt) s.phase = SeqPhase::decode;
  }
}

void Scheduler::finish(int64_t id) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return;
  if (it->second.slot >= 0) slot_owner_[size_t(it->second.slot)] = -1;
  if (it->second.phase == SeqPhase::waiting) queue_.erase(std::find(queue_.begin(), queue_.end(), id));
  seqs_.erase(it);
}

const Scheduler::Seq& Scheduler::get(int64_t id) const {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) throw Error("scheduler: unknown sequence " + std::to_string(id));
  return it->second;
}

SeqPhase Scheduler::phase(int64_t id) const { return get(id).phase; }
int Scheduler::slot(int64_t id) const { return get(id).slot; }
int64_t Scheduler::n_computed(int64_t id) const { return get(id).n_computed; }

int Scheduler::n_active() const {
  return int(std::count_if(slot_owner_.begin(), slot_owner_.end(), [](int64_t id) { return id >= 0; }));
}

}  // namespace moxie
