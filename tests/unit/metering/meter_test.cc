// The Meter on both stores: authentication, model lists, rate limits, budgets, exact
// costs in the ledger, revocation, and recovery of interrupted requests.
#include <nlohmann/json.hpp>

#include "meter_fixture.h"
#include "moxie/core/error.h"
#include "moxie/server/metering/usage_report.h"

namespace moxie::metering {
namespace {
using testing::Backend;
using MeterSuite = testing::MeterTest;

TEST_P(MeterSuite, KnownTokenCountsCostTheHandComputedIntegers) {
  const std::string auth = bearer_for("alice");
  Admission a = meter_->authorize(request(auth, "deepseek-v3", 1234, 1000));
  ASSERT_TRUE(a.admitted());
  EXPECT_EQ(a.reservation->max_cost, 1234 * 140 + 1000 * 280);
  EXPECT_EQ(settle(a, 1234, 0, 567).cost, 331'520);  // 1234 * 140 + 567 * 280

  Admission b = meter_->authorize(request(auth, "flagship-moe", 1000, 500));
  ASSERT_TRUE(b.admitted());
  EXPECT_EQ(settle(b, 1000, 800, 500).cost, 200 * 10'000 + 800 * 2'500 + 500 * 30'000);  // 19'000'000

  EXPECT_EQ(scalar("SELECT spent_nusd FROM api_keys WHERE name = ?", {std::string("alice")}), 19'331'520);
  EXPECT_EQ(scalar("SELECT reserved_nusd FROM api_keys WHERE name = ?", {std::string("alice")}), 0);
  EXPECT_EQ(scalar("SELECT SUM(cost_nusd) FROM usage"), 19'331'520);
  const SqlRows row = store_->read([&](SqlDb& db) {
    return db.query(
        "SELECT model, prompt_tokens, cached_tokens, completion_tokens, latency_ms, status, request_id, time_us "
        "FROM usage WHERE model = ?",
        {std::string("flagship-moe")});
  });
  ASSERT_EQ(row.size(), 1u);
  EXPECT_EQ(as_int(row[0][1]), 1000);
  EXPECT_EQ(as_int(row[0][2]), 800);
  EXPECT_EQ(as_int(row[0][3]), 500);
  EXPECT_EQ(as_int(row[0][4]), 5);
  EXPECT_EQ(as_text(row[0][5]), "completed");
  EXPECT_EQ(as_text(row[0][6]), b.reservation->request_id);
  EXPECT_EQ(as_int(row[0][7]), now_us_.load());
}

TEST_P(MeterSuite, MissingWrongOrMalformedKeysGet401) {
  bearer_for("alice");
  for (const char* header : {"", "Bearer mx-not-a-real-key", "Basic abc", "Bearer"}) {
    const Admission a = meter_->authorize(request(header));
    ASSERT_FALSE(a.admitted()) << header;
    EXPECT_EQ(a.error->http_status, 401) << header;
    const auto body = nlohmann::json::parse(a.error->to_openai_json());
    EXPECT_TRUE(body["error"]["message"].is_string());
    EXPECT_TRUE(body["error"]["type"].is_string());
    EXPECT_TRUE(body["error"]["code"].is_string());
    EXPECT_TRUE(body["error"].contains("param"));
  }
  EXPECT_EQ(meter_->authorize(request("")).error->code, "missing_api_key");
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations"), 0);
}

TEST_P(MeterSuite, RevokedKeyFailsAtOnceButItsOpenRequestStillSettles) {
  const std::string auth = bearer_for("alice");
  Admission in_flight = meter_->authorize(request(auth));
  ASSERT_TRUE(in_flight.admitted());
  revoke_key(*store_, "alice", now_us_);
  const Admission after = meter_->authorize(request(auth));
  ASSERT_FALSE(after.admitted());
  EXPECT_EQ(after.error->http_status, 401);
  EXPECT_NE(after.error->message.find("revoked"), std::string::npos);
  EXPECT_EQ(settle(in_flight, 1000, 0, 10).cost, 1000 * 140 + 10 * 280);
}

TEST_P(MeterSuite, RotatedSecretReplacesTheOldOne) {
  const std::string old_auth = bearer_for("alice");
  const std::string new_auth = "Bearer " + rotate_key(*store_, "alice").secret;
  EXPECT_EQ(meter_->authorize(request(old_auth)).error->http_status, 401);
  EXPECT_TRUE(meter_->authorize(request(new_auth)).admitted());
}

TEST_P(MeterSuite, ExpiredKeyGets401) {
  KeyLimits limits;
  limits.expires_us = now_us_ + 1'000'000;
  const std::string auth = bearer_for("short", limits);
  EXPECT_TRUE(meter_->authorize(request(auth)).admitted());
  now_us_ += 1'000'000;
  const Admission a = meter_->authorize(request(auth));
  ASSERT_FALSE(a.admitted());
  EXPECT_EQ(a.error->http_status, 401);
  EXPECT_NE(a.error->message.find("expired"), std::string::npos);
}

TEST_P(MeterSuite, ModelsOutsideTheKeysListGet403) {
  KeyLimits limits;
  limits.models = {"deepseek-v3"};
  const std::string auth = bearer_for("limited", limits);
  EXPECT_TRUE(meter_->authorize(request(auth, "deepseek-v3")).admitted());
  const Admission a = meter_->authorize(request(auth, "flagship-moe"));
  ASSERT_FALSE(a.admitted());
  EXPECT_EQ(a.error->http_status, 403);
}

TEST_P(MeterSuite, RequestsPerMinuteGive429WithRetryAfterAndRecover) {
  KeyLimits limits;
  limits.rpm = 3;
  const std::string auth = bearer_for("slow", limits);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(meter_->authorize(request(auth)).admitted()) << i;
  const Admission refused = meter_->authorize(request(auth));
  ASSERT_FALSE(refused.admitted());
  EXPECT_EQ(refused.error->http_status, 429);
  EXPECT_EQ(refused.error->code, "rate_limit_exceeded");
  EXPECT_EQ(refused.error->retry_after_s, 20);  // one request at 3 per minute
  now_us_ += 19'000'000;
  EXPECT_EQ(meter_->authorize(request(auth)).error->retry_after_s, 1);
  now_us_ += 1'000'000;
  EXPECT_TRUE(meter_->authorize(request(auth)).admitted());
  EXPECT_FALSE(meter_->authorize(request(auth)).admitted());
  now_us_ += 60'000'000;  // a full minute: a full bucket, never more
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(meter_->authorize(request(auth)).admitted()) << i;
  EXPECT_FALSE(meter_->authorize(request(auth)).admitted());
}

TEST_P(MeterSuite, TokensPerMinuteCountMaxTokensAndRefundWhatWasNotUsed) {
  KeyLimits limits;
  limits.tpm = 1000;
  const std::string auth = bearer_for("tokens", limits);
  Admission first = meter_->authorize(request(auth, "deepseek-v3", 100, 500));  // takes 600
  ASSERT_TRUE(first.admitted());
  const Admission second = meter_->authorize(request(auth, "deepseek-v3", 100, 500));
  ASSERT_FALSE(second.admitted());
  EXPECT_EQ(second.error->http_status, 429);
  EXPECT_EQ(second.error->retry_after_s, 12);  // 200 missing at 1000 per minute
  settle(first, 100, 0, 0);  // used 100 of 600: 500 come back, 900 available
  EXPECT_TRUE(meter_->authorize(request(auth, "deepseek-v3", 100, 500)).admitted());
  const Admission too_large = meter_->authorize(request(auth, "deepseek-v3", 500, 600));
  ASSERT_FALSE(too_large.admitted());
  EXPECT_EQ(too_large.error->http_status, 429);
  EXPECT_EQ(too_large.error->retry_after_s, 0);  // waiting cannot help
}

TEST_P(MeterSuite, ExhaustedBudgetGets402AndSettlementFreesTheRest) {
  // Max cost of a request: 1000 * 140 + 1000 * 280 = 420'000 nano-dollars.
  KeyLimits limits;
  limits.budget = 1'000'000;
  const std::string auth = bearer_for("small", limits);
  Admission a = meter_->authorize(request(auth));
  Admission b = meter_->authorize(request(auth));
  ASSERT_TRUE(a.admitted() && b.admitted());
  const Admission c = meter_->authorize(request(auth));
  ASSERT_FALSE(c.admitted());
  EXPECT_EQ(c.error->http_status, 402);
  EXPECT_EQ(c.error->code, "insufficient_quota");
  settle(a, 1000, 0, 0);  // 140'000 spent, b's 420'000 held: 440'000 left
  Admission d = meter_->authorize(request(auth));
  ASSERT_TRUE(d.admitted());  // 980'000 spent or held
  EXPECT_EQ(meter_->authorize(request(auth)).error->http_status, 402);
  settle(b, 1000, 0, 0);
  settle(d, 1000, 0, 0);  // 420'000 spent, nothing held
  EXPECT_TRUE(meter_->authorize(request(auth)).admitted());
  EXPECT_LE(scalar("SELECT spent_nusd + reserved_nusd FROM api_keys WHERE name = ?", {std::string("small")}),
            1'000'000);
}

TEST_P(MeterSuite, SettlementNeverChargesMoreThanTheReservation) {
  const std::string auth = bearer_for("alice");
  Admission a = meter_->authorize(request(auth, "deepseek-v3", 10, 10));
  ASSERT_TRUE(a.admitted());
  const Settlement s = settle(a, 10, 0, 5000);  // the server under-estimated max tokens
  EXPECT_EQ(s.priced_cost, 10 * 140 + 5000 * 280);
  EXPECT_EQ(s.cost, a.reservation->max_cost);
  EXPECT_THROW(settle(a, 10, 0, 1), Error);  // settled twice
}

TEST_P(MeterSuite, OptionalAuthGivesEachClientTheFreeTier) {
  MeterOptions options;
  options.auth = AuthMode::optional;
  options.free_tier_rpm = 2;
  options.free_tier_tpm = {};
  open_store(0, options);
  AuthorizeRequest r = request("");
  r.client = "10.0.0.1";
  Admission a = meter_->authorize(r);
  ASSERT_TRUE(a.admitted());
  EXPECT_EQ(a.reservation->key_id, kAnonymousKeyId);
  EXPECT_TRUE(meter_->authorize(r).admitted());
  EXPECT_EQ(meter_->authorize(r).error->http_status, 429);
  r.client = "10.0.0.2";
  EXPECT_TRUE(meter_->authorize(r).admitted());
  EXPECT_EQ(meter_->authorize(request("Bearer mx-wrong")).error->http_status, 401);
  settle(a, 1000, 0, 100);
  EXPECT_EQ(usage_summary(*store_, {std::string(kAnonymousKeyId), {}, {}, {}}, GroupBy::total).at(0).requests, 1);
}

TEST_P(MeterSuite, AuthOffMetersWithoutLimits) {
  MeterOptions options;
  options.auth = AuthMode::off;
  options.free_tier_rpm = 1;
  open_store(0, options);
  for (int i = 0; i < 5; ++i) {
    Admission a = meter_->authorize(request(i % 2 ? "Bearer whatever" : ""));
    ASSERT_TRUE(a.admitted()) << i;
    settle(a, 1000, 0, 1);
  }
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM usage WHERE key_id = ?", {std::string(kAnonymousKeyId)}), 5);
}

TEST_P(MeterSuite, RecoveryBillsInterruptedRequestsTheirPrompt) {
  KeyLimits limits;
  limits.budget = 10'000'000;
  const std::string auth = bearer_for("alice", limits);
  Admission mine = meter_->authorize(request(auth, "deepseek-v3", 300, 1000));
  ASSERT_TRUE(mine.admitted());
  // Another replica's open request, not yet stale.
  MeterOptions other;
  other.instance = "replica-b";
  open_store(0, other);
  Admission theirs = meter_->authorize(request(auth, "deepseek-v3", 200, 1000));
  ASSERT_TRUE(theirs.admitted());

  open_store();  // "local" restarts
  EXPECT_EQ(meter_->recover(), 1);
  EXPECT_EQ(scalar("SELECT cost_nusd FROM usage WHERE id = ?", {mine.reservation->id}), 300 * 140);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM usage WHERE status = 'interrupted'"), 1);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations"), 1);
  EXPECT_THROW(settle(mine, 300, 0, 10), Error);  // a recovered reservation is closed

  now_us_ += 3601'000'000;  // replica-b never came back: its reservation is stale
  EXPECT_EQ(meter_->recover(), 1);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations"), 0);
  EXPECT_EQ(scalar("SELECT reserved_nusd FROM api_keys WHERE name = ?", {std::string("alice")}), 0);
  EXPECT_EQ(scalar("SELECT spent_nusd FROM api_keys WHERE name = ?", {std::string("alice")}), 500 * 140);
}

INSTANTIATE_TEST_SUITE_P(Stores, MeterSuite, ::testing::Values(Backend::sqlite, Backend::postgres),
                         testing::backend_name);

}  // namespace
}  // namespace moxie::metering
