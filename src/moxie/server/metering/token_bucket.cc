#include "moxie/server/metering/token_bucket.h"

#include <algorithm>

namespace moxie::metering {

BucketState full_bucket(int64_t limit_per_minute, int64_t now_us) {
  return BucketState{limit_per_minute * kMicroUnits, now_us};
}

BucketState refill(BucketState state, int64_t limit_per_minute, int64_t now_us) {
  const int64_t capacity = limit_per_minute * kMicroUnits;
  // A minute refills any bucket completely; clamping first keeps the product small.
  const int64_t elapsed_us = std::clamp<int64_t>(now_us - state.updated_us, 0, kMicrosPerMinute);
  // elapsed_us * limit * kMicroUnits / kMicrosPerMinute, with kMicroUnits / kMicrosPerMinute = 1/60.
  const int64_t gained = elapsed_us * limit_per_minute / 60;
  state.level_micro = std::min(capacity, state.level_micro + gained);
  state.updated_us = std::max(state.updated_us, now_us);
  return state;
}

int64_t seconds_until(const BucketState& refilled, int64_t limit_per_minute, int64_t cost) {
  const int64_t deficit_micro = cost * kMicroUnits - refilled.level_micro;
  if (deficit_micro <= 0) return 0;
  // Refill is limit/60 micro-units per microsecond: deficit * 60 / limit microseconds.
  const int64_t wait_us = (deficit_micro * 60 + limit_per_minute - 1) / limit_per_minute;
  return std::max<int64_t>(1, (wait_us + 999'999) / 1'000'000);
}

}  // namespace moxie::metering
