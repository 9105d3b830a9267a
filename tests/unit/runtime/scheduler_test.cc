// Scheduler with no model: a fake "model" is the test itself, which replays plans and
// checks the continuous-batching rules (decode every step, chunked prefill, FIFO
// admission, bounded queue, freed slots reused).
#include "moxie/runtime/scheduler.h"

#include <gtest/gtest.h>

#include <map>

#include "moxie/core/error.h"

namespace moxie {
namespace {

SchedulerLimits limits(int slots, int64_t queue, int64_t step, int64_t chunk) {
  SchedulerLimits l;
  l.n_slots = slots;
  l.max_queue = queue;
  l.step_tokens = step;
  l.prefill_chunk = chunk;
  return l;
}

TEST(Scheduler, RejectsBadLimits) {
  EXPECT_THROW(Scheduler(limits(0, 1, 8, 4)), Error);
  EXPECT_THROW(Scheduler(limits(4, 1, 4, 4)), Error);  // step must exceed slots
  EXPECT_THROW(Scheduler(limits(1, 1, 8, 0)), Error);
}

TEST(Scheduler, QueueIsBoundedAndFifo) {
  Scheduler s(limits(1, 2, 8, 4));
  EXPECT_TRUE(s.submit(1, 3));
  EXPECT_TRUE(s.submit(2, 3));
  EXPECT_FALSE(s.submit(3, 3));  // queue full: the server answers 503
  EXPECT_EQ(s.queue_depth(), 2);
  auto a = s.admit();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].first, 1);
  EXPECT_EQ(s.queue_depth(), 1);
  EXPECT_TRUE(s.submit(3, 3));  // room again
  EXPECT_EQ(s.phase(2), SeqPhase::waiting);
  EXPECT_EQ(s.slot(2), -1);
}

TEST(Scheduler, LongPromptIsChunkedWhileOthersDecode) {
  Scheduler s(limits(2, 8, 6, 4));
  ASSERT_TRUE(s.submit(1, 2));
  s.admit();
  s.set_computed(1, 0);
  auto p = s.plan();
  ASSERT_EQ(p.size(), 1u);
  EXPECT_FALSE(p[0].decode);
  EXPECT_EQ(p[0].count, 2);
  EXPECT_TRUE(p[0].logits);
  s.on_step_done(p);
  EXPECT_EQ(s.phase(1), SeqPhase::decode);

  ASSERT_TRUE(s.submit(2, 11));  // joins at the next step
  s.admit();
  s.set_computed(2, 0);
  int64_t prefilled = 0;
  int steps = 0;
  while (s.phase(2) == SeqPhase::prefill) {
    p = s.plan();
    ASSERT_EQ(p.size(), 2u);
    EXPECT_TRUE(p[0].decode);  // sequence 1 decodes in every step: its stream never stalls
    EXPECT_EQ(p[0].id, 1);
    EXPECT_EQ(p[0].first, s.n_computed(1));
    EXPECT_EQ(p[1].id, 2);
    EXPECT_LE(p[1].count, 4);  // chunk limit
    EXPECT_LE(p[0].count + p[1].count, 6);  // step limit
    EXPECT_EQ(p[1].first, prefilled);
    EXPECT_EQ(p[1].logits, p[1].first + p[1].count == 11);
    prefilled += p[1].count;
    s.on_step_done(p);
    ++steps;
  }
  EXPECT_EQ(prefilled, 11);
  EXPECT_EQ(steps, 3);  // 4 + 4 + 3
  p = s.plan();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_TRUE(p[0].decode && p[1].decode);
  EXPECT_EQ(p[1].first, 11);
}

TEST(Scheduler, StepBudgetIsSharedOldestFirst) {
  Scheduler s(limits(3, 8, 5, 4));
  for (int id = 1; id <= 3; ++id) ASSERT_TRUE(s.submit(id, 4));
  for (auto [id, slot] : s.admit()) s.set_computed(id, 0);
  auto p = s.plan();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].id, 1);
  EXPECT_EQ(p[0].count, 4);
  EXPECT_EQ(p[1].id, 2);
  EXPECT_EQ(p[1].count, 1);
  EXPECT_FALSE(p[1].logits);
}

TEST(Scheduler, CachedPrefixSkipsPrefill) {
  Scheduler s(limits(1, 8, 16, 16));
  ASSERT_TRUE(s.submit(7, 10));
  s.admit();
  EXPECT_THROW(s.set_computed(7, 10), Error);  // the last prompt token must be computed
  s.set_computed(7, 9);
  auto p = s.plan();
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].first, 9);
  EXPECT_EQ(p[0].count, 1);
  EXPECT_TRUE(p[0].logits);
}

TEST(Scheduler, FinishFreesSlotForQueued) {
  Scheduler s(limits(2, 8, 8, 8));
  for (int id = 1; id <= 4; ++id) ASSERT_TRUE(s.submit(id, 2));
  auto a = s.admit();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(s.n_active(), 2);
  s.finish(4);  // a queued sequence leaves the queue
  EXPECT_EQ(s.queue_depth(), 1);
  const int freed = s.slot(1);
  s.finish(1);  // a cancelled running one frees its slot at once
  EXPECT_FALSE(s.contains(1));
  auto b = s.admit();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].first, 3);
  EXPECT_EQ(b[0].second, freed);
  s.finish(99);  // unknown ids are ignored
  EXPECT_THROW(s.phase(99), Error);
}

TEST(Scheduler, StaleItemsOfFinishedSequencesAreIgnored) {
  Scheduler s(limits(2, 8, 8, 8));
  ASSERT_TRUE(s.submit(1, 3));
  s.admit();
  s.set_computed(1, 0);
  auto p = s.plan();
  s.finish(1);  // cancelled while its forward ran
  EXPECT_NO_THROW(s.on_step_done(p));
  EXPECT_TRUE(s.idle());
}

}  // namespace
}  // namespace moxie
