// ThreadPool: each job runs exactly once on every worker, split() partitions ranges exactly,
// long runs of tiny jobs never lose a wake-up, and the pool can be destroyed at any time.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "moxie/core/thread_pool.h"

namespace {

using moxie::ThreadPool;

TEST(ThreadPool, EveryWorkerRunsEachJobExactlyOnce) {
  for (int n_threads : {1, 2, 3, 4}) {
    ThreadPool pool(n_threads);
    ASSERT_EQ(pool.size(), n_threads);
    constexpr int kJobs = 200;
    std::vector<std::atomic<int>> runs(static_cast<size_t>(kJobs * n_threads));
    for (int job = 0; job < kJobs; ++job) {
      pool.run([&](int ith, int nth) {
        ASSERT_EQ(nth, n_threads);
        ASSERT_GE(ith, 0);
        ASSERT_LT(ith, nth);
        runs[size_t(job * n_threads + ith)].fetch_add(1);
      });
      // run() returns only after every worker finished this job.
      for (int ith = 0; ith < n_threads; ++ith) {
        ASSERT_EQ(runs[size_t(job * n_threads + ith)].load(), 1) << "job " << job << " worker " << ith;
      }
    }
  }
}

TEST(ThreadPool, CallerIsWorkerZero) {
  ThreadPool pool(3);
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<std::thread::id> ids(3);
  pool.run([&](int ith, int) { ids[size_t(ith)] = std::this_thread::get_id(); });
  EXPECT_EQ(ids[0], caller);
  EXPECT_NE(ids[1], caller);
  EXPECT_NE(ids[2], caller);
  EXPECT_NE(ids[1], ids[2]);
}

TEST(ThreadPool, SplitCoversRangesExactlyAndEvenly) {
  for (int64_t n = 0; n <= 130; ++n) {
    for (int nth = 1; nth <= 9; ++nth) {
      int64_t expected_begin = 0;
      for (int ith = 0; ith < nth; ++ith) {
        int64_t begin = -1, end = -1;
        ThreadPool::split(n, ith, nth, &begin, &end);
        ASSERT_EQ(begin, expected_begin) << "n=" << n << " nth=" << nth << " ith=" << ith;
        ASSERT_GE(end, begin);
        // Balanced: every share is n/nth or n/nth + 1.
        ASSERT_TRUE(end - begin == n / nth || end - begin == n / nth + 1) << "n=" << n << " nth=" << nth;
        expected_begin = end;
      }
      ASSERT_EQ(expected_begin, n) << "n=" << n << " nth=" << nth;
    }
  }
}

// A lost wake-up would hang here (ctest's timeout turns that into a failure).
TEST(ThreadPool, ManyTinyJobsBackToBackAllComplete) {
  for (int n_threads : {2, 3}) {
    ThreadPool pool(n_threads);
    std::atomic<int64_t> total{0};
    // 3 threads oversubscribe a 2-core host (spinners must yield): fewer jobs keep it quick.
    const int jobs = n_threads == 2 ? 100'000 : 30'000;
    for (int job = 0; job < jobs; ++job) {
      pool.run([&](int ith, int) { total.fetch_add(ith + 1, std::memory_order_relaxed); });
    }
    const int64_t per_job = int64_t(n_threads) * (n_threads + 1) / 2;
    EXPECT_EQ(total.load(), jobs * per_job);
  }
}

// Jobs that arrive after the workers went to sleep (past their spin) still wake them.
TEST(ThreadPool, WakesSleepingWorkers) {
  ThreadPool pool(2);
  std::atomic<int> count{0};
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    pool.run([&](int, int) { count.fetch_add(1); });
  }
  EXPECT_EQ(count.load(), 10);
}

TEST(ThreadPool, DestroysWhileIdle) {
  for (int i = 0; i < 20; ++i) {
    ThreadPool fresh(3);  // destroyed before any job
  }
  {
    ThreadPool pool(3);
    std::atomic<int> count{0};
    pool.run([&](int, int) { count.fetch_add(1); });
    EXPECT_EQ(count.load(), 3);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // workers now asleep
  }
  ThreadPool single(1);  // no workers at all
  int calls = 0;
  single.run([&](int ith, int nth) { calls += (ith == 0 && nth == 1); });
  EXPECT_EQ(calls, 1);
}

TEST(ThreadPool, NonPositiveSizeMeansOneThread) {
  ThreadPool pool(0);
  EXPECT_EQ(pool.size(), 1);
}

}  // namespace
