// Token-bucket arithmetic against values worked out from the definition: a limit of
// N per minute refills N/60 units per second up to N.
#include <gtest/gtest.h>

#include "moxie/server/metering/token_bucket.h"

namespace moxie::metering {
namespace {

TEST(TokenBucket, RefillsAtTheLimitPerMinute) {
  BucketState empty{0, 0};
  EXPECT_EQ(refill(empty, 60, 1'000'000).level_micro, 1 * kMicroUnits);    // 60/min = 1/s
  EXPECT_EQ(refill(empty, 60, 30'000'000).level_micro, 30 * kMicroUnits);
  EXPECT_EQ(refill(empty, 60, 600'000'000).level_micro, 60 * kMicroUnits);  // capped at the limit
  EXPECT_EQ(refill(empty, 1000, 3'000'000).level_micro, 50 * kMicroUnits);  // 1000/min for 3 s
  EXPECT_EQ(refill(empty, 1, 1).level_micro, 0);                            // 1/60 micro-unit floors to 0
  EXPECT_EQ(refill(empty, 7, 1'000'000).level_micro, 7 * kMicroUnits / 60);
  EXPECT_EQ(full_bucket(5, 42).level_micro, 5 * kMicroUnits);
}

TEST(TokenBucket, BackwardsClockRefillsNothing) {
  BucketState s{3 * kMicroUnits, 10'000'000};
  const BucketState r = refill(s, 60, 5'000'000);
  EXPECT_EQ(r.level_micro, 3 * kMicroUnits);
  EXPECT_EQ(r.updated_us, 10'000'000);
}

TEST(TokenBucket, SecondsUntilEnoughIsRoundedUp) {
  EXPECT_EQ(seconds_until({kMicroUnits, 0}, 60, 1), 0);
  EXPECT_EQ(seconds_until({0, 0}, 60, 1), 1);
  EXPECT_EQ(seconds_until({0, 0}, 1000, 500), 30);  // 500 tokens at 1000/min
  EXPECT_EQ(seconds_until({0, 0}, 7, 1), 9);        // 60/7 = 8.57 s
  EXPECT_EQ(seconds_until({kMicroUnits / 2, 0}, 60, 1), 1);  // half a second, at least 1
  EXPECT_EQ(seconds_until({0, 0}, 1, 1), 60);
}

}  // namespace
}  // namespace moxie::metering
