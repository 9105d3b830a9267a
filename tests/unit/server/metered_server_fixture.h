#pragma once
// A real HttpServer with metering (MeterGate + admin routes) on a loopback port, over a
// fresh SQLite or PostgreSQL database (unit/metering/metering_backends.h), serving the
// synthetic tiny model under one or more aliases. The meter's clock is the test's.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "moxie/server/admin_routes.h"
#include "moxie/server/http_server.h"
#include "moxie/server/meter_gate.h"
#include "moxie/server/metering/keys_table.h"
#include "moxie/server/metering/meter.h"
#include "moxie/server/metering/store.h"
#include "unit/metering/metering_backends.h"
#include "unit/model/model_test_util.h"

namespace moxie::server::testing {

using metering::testing::Backend;
using nlohmann::json;

// $10 / $2.50 / $30 per million input / cached / output tokens: 10'000, 2'500 and 30'000
// nano-dollars per token; and $0.14 / $0.014 / $0.28: 140, 14 and 280.
inline constexpr metering::ModelPrice kFlagshipPrice{10'000'000'000, 2'500'000'000, 30'000'000'000};
inline constexpr metering::ModelPrice kCheapPrice{140'000'000, 14'000'000, 280'000'000};

// The cost rule of docs/operations.md worked by hand: per-token prices, summed, rounded up.
inline int64_t hand_cost(const metering::ModelPrice& per_million, int64_t prompt, int64_t cached, int64_t completion) {
  const __int128 micro = __int128(prompt - cached) * per_million.input_per_million +
                         __int128(cached) * per_million.cached_input_per_million +
                         __int128(completion) * per_million.output_per_million;
  return int64_t((micro + 999'999) / 1'000'000);
}

class MeteredServerTest : public ::testing::TestWithParam<Backend> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    model_path_ = new std::string(test::synth_model(*dir_, Arch::qwen3moe, "tiny", DType::F32, 5));
  }
  static void TearDownTestSuite() {
    delete model_path_;
    delete dir_;
  }
  void SetUp() override {
    MOXIE_OPEN_TEST_DATABASE(db_);
    store_ = std::make_unique<metering::Store>(db_->url());
  }
  void TearDown() override { stop(); }

  static ModelSpec tiny_spec(const std::string& alias) {
    ModelSpec spec{*model_path_, alias, {}};
    spec.engine.n_parallel = 4;
    spec.engine.n_ctx = 128;
    spec.engine.n_threads = 1;
    spec.engine.max_queue = 64;
    return spec;
  }

  void start(metering::AuthMode auth, metering::PriceSheet prices, std::vector<ModelSpec> models = {},
             const std::string& admin_key = "admin-secret") {
    if (models.empty()) models.push_back(tiny_spec("tiny"));
    metering::MeterOptions mo;
    mo.auth = auth;
    mo.clock = [this] { return now_us_.load(); };
    meter_ = std::make_unique<metering::Meter>(*store_, std::move(prices), mo);
    gate_ = std::make_unique<MeterGate>(*meter_);
    ServerOptions o;
    o.port = 0;
    o.read_timeout_s = 5;
    server_ = std::make_unique<HttpServer>(models, o);
    server_->set_gate(gate_.get());
    add_admin_routes(*server_, *store_, {admin_key, [this] { return now_us_.load(); }});
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->serve(); });
  }
  void stop() {
    if (!server_) return;
    server_->shutdown();
    thread_.join();
    server_.reset();
    gate_.reset();
    meter_.reset();
  }

  std::string bearer_for(const std::string& name, const metering::KeyLimits& limits = {}) {
    return "Bearer " + metering::create_key(*store_, name, limits, now_us_).secret;
  }

  httplib::Result post(const std::string& path, const json& body, const std::string& auth = {}) const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(120, 0);
    httplib::Headers h;
    if (!auth.empty()) h.emplace("Authorization", auth);
    return c.Post(path.c_str(), h, body.dump(), "application/json");
  }
  httplib::Result get(const std::string& path, const std::string& auth = {}) const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    httplib::Headers h;
    if (!auth.empty()) h.emplace("Authorization", auth);
    return c.Get(path.c_str(), h);
  }

  static json chat(const std::string& model = "tiny", int max_tokens = 4) {
    return {{"model", model}, {"messages", {{{"role", "user"}, {"content", "hello there"}}}},
            {"max_tokens", max_tokens}, {"temperature", 0}};
  }

  int64_t scalar(const std::string& sql, const std::vector<metering::SqlValue>& params = {}) {
    return store_->read([&](metering::SqlDb& db) {
      const metering::SqlRows rows = db.query(sql, params);
      return metering::is_null(rows.at(0).at(0)) ? 0 : metering::as_int(rows[0][0]);
    });
  }

  static test::TempDir* dir_;
  static std::string* model_path_;
  std::unique_ptr<metering::testing::TestDatabase> db_;
  std::unique_ptr<metering::Store> store_;
  std::unique_ptr<metering::Meter> meter_;
  std::unique_ptr<MeterGate> gate_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int64_t> now_us_{metering::system_now_us()};
};

inline test::TempDir* MeteredServerTest::dir_ = nullptr;
inline std::string* MeteredServerTest::model_path_ = nullptr;

}  // namespace moxie::server::testing
