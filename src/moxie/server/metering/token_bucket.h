#pragma once
// Token-bucket arithmetic for per-minute limits, in integers.
//
// A limit of N per minute is a bucket holding at most N units that refills at N per
// 60 seconds; a request takes its cost (1 for requests/min, its tokens for
// tokens/min) and is refused while the bucket holds less. Levels are kept in
// micro-units so that the refill of one microsecond is exact enough (N/60 micro-units
// per microsecond, floored). The state lives in the store (rate_buckets table), so
// every replica sharing a database shares the same buckets.
#include <cstdint>

namespace moxie::metering {

inline constexpr int64_t kMicroUnits = 1'000'000;      // micro-units per unit
inline constexpr int64_t kMicrosPerMinute = 60'000'000;

struct BucketState {
  int64_t level_micro = 0;  // units * kMicroUnits currently available
  int64_t updated_us = 0;   // time of the last refill, microseconds since the epoch
};

// A full bucket for `limit_per_minute`, stamped at now_us.
BucketState full_bucket(int64_t limit_per_minute, int64_t now_us);

// The state refilled up to now_us (a clock that goes backwards refills nothing).
BucketState refill(BucketState state, int64_t limit_per_minute, int64_t now_us);

// Seconds (rounded up, at least 1) until a refilled bucket holds `cost` units; 0 when
// it already does. Precondition: cost <= limit_per_minute (else never).
int64_t seconds_until(const BucketState& refilled, int64_t limit_per_minute, int64_t cost);

}  // namespace moxie::metering
