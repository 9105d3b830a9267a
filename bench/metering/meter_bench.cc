// Metering overhead per request: Meter::authorize + Meter::settle (two transactions,
// one usage row) against a key with a budget and rate limits, i.e. the whole cost the
// server pays per request. Target: < 1 ms on SQLite (see docs/operations.md).
//   SQLite/Default:            WAL, commits reach the OS (survive a killed process)
//   SQLite/FsyncSettlements:   each settlement also fsync'ed (survives a power loss)
//   PostgreSQL:          when MOXIE_TEST_PG_URL is set (tests/metering/pg.sh)
// Benchmarks figures print as time per iteration = per request.
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <benchmark/benchmark.h>

#include "moxie/server/metering/keys_table.h"
#include "moxie/server/metering/meter.h"
#include "moxie/server/metering/store.h"

namespace {
using namespace moxie::metering;

void run_requests(benchmark::State& state, const std::string& url, const StoreOptions& options) {
  Store store(url, options);
  KeyLimits limits;
  limits.budget = 1'000'000'000'000;  // $1000
  limits.rpm = kMaxPerMinuteLimit;
  limits.tpm = kMaxPerMinuteLimit;
  const std::string bearer = "Bearer " + create_key(store, "bench-" + std::to_string(system_now_us()), limits,
                                                    system_now_us()).secret;
  PriceSheet prices;
  prices.set("deepseek-v3", ModelPrice{140'000'000, 14'000'000, 280'000'000});
  Meter meter(store, prices, MeterOptions{});
  AuthorizeRequest request;
  request.authorization = bearer;
  request.model = "deepseek-v3";
  request.prompt_tokens = 1000;
  request.max_completion_tokens = 1000;
  request.request_id = "chatcmpl-bench";
  RequestUsage usage;
  usage.tokens = TokenCounts{1000, 200, 300};
  usage.latency_ms = 100;
  for (auto _ : state) {
    const Admission a = meter.authorize(request);
    if (!a.admitted()) {
      state.SkipWithError(a.error->message.c_str());
      return;
    }
    benchmark::DoNotOptimize(meter.settle(*a.reservation, usage).cost);
  }
  state.SetItemsProcessed(state.iterations());
}

std::string temp_db(const char* name) {
  const auto dir = std::filesystem::temp_directory_path() / ("moxie_meter_bench_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

void BM_MeterRequest_SQLite_FsyncSettlements(benchmark::State& state) {
  StoreOptions o;
  o.sqlite.fsync_settlements = true;
  run_requests(state, temp_db("full.db"), o);
}
void BM_MeterRequest_SQLite_Default(benchmark::State& state) {
  StoreOptions o;
  o.sqlite.fsync_settlements = false;
  run_requests(state, temp_db("normal.db"), o);
}
void BM_MeterRequest_PostgreSQL(benchmark::State& state) {
  const char* url = std::getenv("MOXIE_TEST_PG_URL");
  if (!url || !*url) {
    state.SkipWithError("MOXIE_TEST_PG_URL not set (tests/metering/pg.sh start)");
    for (auto _ : state) {
    }
    return;
  }
  run_requests(state, url, StoreOptions{});
}

BENCHMARK(BM_MeterRequest_SQLite_FsyncSettlements)->Unit(benchmark::kMicrosecond)->MinTime(1.0);
BENCHMARK(BM_MeterRequest_SQLite_Default)->Unit(benchmark::kMicrosecond)->MinTime(1.0);
BENCHMARK(BM_MeterRequest_PostgreSQL)->Unit(benchmark::kMicrosecond)->MinTime(1.0);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::filesystem::remove_all(std::filesystem::temp_directory_path() /
                              ("moxie_meter_bench_" + std::to_string(getpid())));
  return 0;
}
