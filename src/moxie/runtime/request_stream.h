#pragma once
// RequestStream: the channel between the engine's loop thread (which pushes events as
// tokens are sampled) and the thread serving one request (which pops them and writes them
// to the client). The reader cancels it when the client goes away; the engine sees that
// at its next step and frees the sequence's slot.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "moxie/runtime/sampler/sampler.h"

namespace moxie {

// Why a sequence ended. OpenAI's finish_reason: stop_token and stop_string are "stop",
// length and context_full are "length".
enum class StopCause { none, stop_token, stop_string, length, context_full, cancelled, error };
const char* openai_finish_reason(StopCause cause);  // "stop", "length", "cancelled", "error"

// What one request cost and how long it took: one record per request feeds the response's
// usage, the metrics and the meter.
struct RequestRecord {
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;      // prompt tokens restored from the prefix cache
  int64_t completion_tokens = 0;  // sampled tokens, a final stop token included
  double queue_ms = 0;            // submit -> slot
  double ttft_ms = 0;             // submit -> first token sampled
  double total_ms = 0;            // submit -> last event
  std::vector<float> inter_token_ms;  // gaps between consecutive sampled tokens
};

struct StreamEvent {
  std::string text;                  // newly released text, whole UTF-8 characters
  std::vector<SampledToken> tokens;  // tokens sampled since the previous event
  bool final = false;                // the last event of the request
  StopCause cause = StopCause::none; // set on the final event
  std::string error;                 // cause == error: what went wrong
  RequestRecord record;              // filled on the final event
};

class RequestStream {
 public:
  void push(StreamEvent event) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(std::move(event));
    }
    cv_.notify_all();
  }
  // Waits up to timeout for an event; false when none came.
  template <class Rep, class Period>
  bool pop(StreamEvent* out, std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return false;
    *out = std::move(events_.front());
    events_.pop_front();
    return true;
  }
  void cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StreamEvent> events_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace moxie
