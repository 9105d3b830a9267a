#pragma once
// A Meter over a fresh test database, with a clock the test moves by hand and the two
// published price points of the issue: $10 / $30 and $0.14 / $0.28 per million tokens.
#include <atomic>
#include <memory>

#include "metering_backends.h"
#include "moxie/server/metering/keys_table.h"
#include "moxie/server/metering/meter.h"

namespace moxie::metering::testing {

inline PriceSheet test_prices() {
  PriceSheet sheet;
  sheet.set("flagship-moe", ModelPrice{10'000'000'000, 2'500'000'000, 30'000'000'000});
  sheet.set("deepseek-v3", ModelPrice{140'000'000, 14'000'000, 280'000'000});
  return sheet;
}

class MeterTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    MOXIE_OPEN_TEST_DATABASE(db_);
    open_store();
  }
  void TearDown() override {
    meter_.reset();
    store_.reset();
  }

  void open_store(int connections = 0, MeterOptions options = {}) {
    meter_.reset();
    store_.reset();
    StoreOptions so;
    so.connections = connections;
    store_ = std::make_unique<Store>(db_->url(), so);
    if (!options.clock) options.clock = [this] { return now_us_.load(); };
    meter_ = std::make_unique<Meter>(*store_, test_prices(), std::move(options));
  }

  // A key and its "Bearer ..." header.
  std::string bearer_for(const std::string& name, const KeyLimits& limits = {}) {
    return "Bearer " + create_key(*store_, name, limits, now_us_).secret;
  }

  AuthorizeRequest request(std::string_view auth, const std::string& model = "deepseek-v3",
                           int64_t prompt = 1000, int64_t max_tokens = 1000) {
    AuthorizeRequest r;
    r.authorization = auth;
    r.model = model;
    r.prompt_tokens = prompt;
    r.max_completion_tokens = max_tokens;
    r.request_id = "req-" + std::to_string(next_request_++);
    return r;
  }

  Settlement settle(const Admission& a, int64_t prompt, int64_t cached, int64_t completion,
                    UsageStatus status = UsageStatus::completed) {
    RequestUsage u;
    u.tokens = TokenCounts{prompt, cached, completion};
    u.latency_ms = 5;
    u.status = status;
    return meter_->settle(*a.reservation, u);
  }

  int64_t scalar(const std::string& sql, const std::vector<SqlValue>& params = {}) {
    return store_->read([&](SqlDb& db) {
      const SqlRows rows = db.query(sql, params);
      return is_null(rows.at(0).at(0)) ? 0 : as_int(rows[0][0]);
    });
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Meter> meter_;
  std::atomic<int64_t> now_us_{1'750'000'000'000'000};  // 2025-06-15
  int next_request_ = 0;
};

}  // namespace moxie::metering::testing
