// Budgets under concurrency, on both stores: 100 threads racing for one small budget,
// several processes sharing one database, and a server killed with SIGKILL mid-stream
// that must keep every completed usage row and recover the rest.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <barrier>
#include <cstdio>
#include <set>
#include <thread>
#include <vector>

#include "meter_fixture.h"
#include "moxie/core/error.h"

namespace moxie::metering {
namespace {
using testing::Backend;
using MeterConcurrency = testing::MeterTest;

// Every request's maximum: 1000 * 140 + 1000 * 280 nano-dollars.
constexpr Nanodollars kMaxCost = 420'000;

TEST_P(MeterConcurrency, HundredConcurrentReservationsNeverExceedTheBudget) {
  open_store(4);  // several connections, so the database itself arbitrates
  KeyLimits limits;
  limits.budget = 10 * kMaxCost + kMaxCost / 2;  // room for exactly 10 reservations
  const std::string auth = bearer_for("small", limits);
  constexpr int kRequests = 100;
  std::vector<Admission> admissions(kRequests);
  std::barrier start(kRequests);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      admissions[i] = meter_->authorize(request(auth));
    });
  }
  for (auto& t : threads) t.join();
  int admitted = 0;
  for (const auto& a : admissions) {
    if (a.admitted()) {
      ++admitted;
    } else {
      EXPECT_EQ(a.error->http_status, 402);
    }
  }
  EXPECT_EQ(admitted, 10);  // all held at once: not one more than fits

  // Settle them concurrently with varied real usage, then check the ledger.
  threads.clear();
  for (int i = 0; i < kRequests; ++i) {
    if (!admissions[i].admitted()) continue;
    threads.emplace_back([&, i] { settle(admissions[i], 1000, i % 700, 10 * i % 1000); });
  }
  for (auto& t : threads) t.join();
  const int64_t ledger = scalar("SELECT SUM(cost_nusd) FROM usage");
  EXPECT_LE(ledger, *limits.budget);
  EXPECT_EQ(scalar("SELECT spent_nusd FROM api_keys WHERE name = 'small'"), ledger);
  EXPECT_EQ(scalar("SELECT reserved_nusd FROM api_keys WHERE name = 'small'"), 0);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM usage"), 10);
}

TEST_P(MeterConcurrency, HundredConcurrentRequestsEndToEndStayWithinBudget) {
  open_store(4);
  KeyLimits limits;
  limits.budget = 3'000'000;
  const std::string auth = bearer_for("small", limits);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 100; ++i) {
    threads.emplace_back([&, i] {
      Admission a = meter_->authorize(request(auth));
      if (!a.admitted()) return;
      ++admitted;
      settle(a, 1000, 0, (i * 37) % 1000);
    });
  }
  for (auto& t : threads) t.join();
  const int64_t ledger = scalar("SELECT SUM(cost_nusd) FROM usage");
  EXPECT_GE(admitted.load(), 7);  // at least budget / max cost
  EXPECT_LE(ledger, 3'000'000);
  EXPECT_EQ(scalar("SELECT spent_nusd FROM api_keys WHERE name = 'small'"), ledger);
  EXPECT_EQ(scalar("SELECT reserved_nusd FROM api_keys WHERE name = 'small'"), 0);
}

// Runs body in a child process and returns its exit status (a crash counts as 255).
template <typename F>
pid_t spawn(F&& body) {
  const pid_t pid = fork();
  if (pid == 0) {
    int code = 255;
    try {
      code = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
    }
    _exit(code);
  }
  return pid;
}

TEST_P(MeterConcurrency, SeveralProcessesSharingOneDatabaseNeverExceedTheBudget) {
  KeyLimits limits;
  limits.budget = 10 * kMaxCost + kMaxCost / 2;
  const std::string auth = bearer_for("shared", limits);
  const std::string url = db_->url();
  meter_.reset();
  store_.reset();  // no connection crosses fork()
  constexpr int kProcesses = 4, kPerProcess = 25;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    children.push_back(spawn([&, p] {
      Store store(url);
      MeterOptions options;
      options.instance = "replica-" + std::to_string(p);
      Meter meter(store, testing::test_prices(), options);
      int admitted = 0;  // held, never settled: each one must have fit next to all others
      for (int i = 0; i < kPerProcess; ++i) admitted += meter.authorize(request(auth)).admitted();
      return admitted;
    }));
  }
  int admitted = 0;
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_NE(WEXITSTATUS(status), 255) << "child failed";
    admitted += WEXITSTATUS(status);
  }
  open_store();
  EXPECT_EQ(admitted, 10);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations"), 10);
  EXPECT_EQ(scalar("SELECT reserved_nusd FROM api_keys WHERE name = 'shared'"), 10 * kMaxCost);
}

TEST_P(MeterConcurrency, KilledServerKeepsEveryCompletedRowAndRecoversTheRest) {
  KeyLimits limits;
  limits.budget = 1'000'000'000;
  const std::string auth = bearer_for("streamer", limits);
  const std::string url = db_->url();
  meter_.reset();
  store_.reset();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = spawn([&] {
    close(fds[0]);
    Store store(url);
    Meter meter(store, testing::test_prices(), MeterOptions{});
    for (int i = 0;; ++i) {  // a server streaming requests until it is killed
      Admission a = meter.authorize(request(auth, "deepseek-v3", 100 + i, 200));
      if (!a.admitted()) return 3;
      RequestUsage u;
      u.tokens = TokenCounts{100 + i, 0, 50};
      meter.settle(*a.reservation, u);
      // Only now may the client learn its final usage: report the completed id.
      const std::string line = a.reservation->id + "\n";
      if (write(fds[1], line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 4;
      meter.authorize(request(auth, "deepseek-v3", 100 + i, 200));  // the next stream, left open
    }
  });
  close(fds[1]);
  std::set<std::string> completed;
  std::string buffer;
  char chunk[256];
  while (completed.size() < 20) {
    const ssize_t n = read(fds[0], chunk, sizeof chunk);
    ASSERT_GT(n, 0) << "child stopped early";
    buffer.append(chunk, static_cast<size_t>(n));
    for (size_t nl; (nl = buffer.find('\n')) != std::string::npos; buffer.erase(0, nl + 1))
      completed.insert(buffer.substr(0, nl));
  }
  kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  close(fds[0]);

  open_store();  // the restarted server, same instance name
  for (const auto& id : completed)
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM usage WHERE id = ? AND status = 'completed'", {id}), 1) << id;
  const int64_t open_before = scalar("SELECT COUNT(*) FROM reservations");
  EXPECT_GE(open_before, 1);
  EXPECT_EQ(meter_->recover(), open_before);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations"), 0);
  EXPECT_EQ(scalar("SELECT reserved_nusd FROM api_keys WHERE name = 'streamer'"), 0);
  EXPECT_EQ(scalar("SELECT spent_nusd FROM api_keys WHERE name = 'streamer'"),
            scalar("SELECT SUM(cost_nusd) FROM usage"));
  // Interrupted streams are billed their prompt only: 140 nano-dollars per token.
  EXPECT_EQ(scalar("SELECT SUM(cost_nusd - prompt_tokens * 140) FROM usage WHERE status = 'interrupted'"), 0);
}

INSTANTIATE_TEST_SUITE_P(Stores, MeterConcurrency, ::testing::Values(Backend::sqlite, Backend::postgres),
                         testing::backend_name);

}  // namespace
}  // namespace moxie::metering
