// Reports over the ledger on both stores: grouping by day / model / key, filters
// (including injection attempts, which must match nothing and change nothing), and the
// table / CSV / JSON renderings; plus the time parser they use.
#include <nlohmann/json.hpp>

#include "meter_fixture.h"
#include "moxie/core/error.h"
#include "moxie/server/metering/time_text.h"
#include "moxie/server/metering/usage_report.h"

namespace moxie::metering {
namespace {
using testing::Backend;

class UsageReport : public testing::MeterTest {
 protected:
  void SetUp() override {
    testing::MeterTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    const std::string alice = bearer_for("alice"), bob = bearer_for("bob");
    // Day 1 (2025-06-15): alice 2 x deepseek, bob 1 x flagship. Day 2: alice 1 x flagship.
    run(alice, "deepseek-v3", 1000, 100);  // 140'000 + 28'000
    run(alice, "deepseek-v3", 2000, 0);    // 280'000
    run(bob, "flagship-moe", 100, 10);     // 1'000'000 + 300'000
    now_us_ += 86'400'000'000;
    run(alice, "flagship-moe", 10, 1);     // 100'000 + 30'000
  }
  void run(const std::string& auth, const std::string& model, int64_t prompt, int64_t completion) {
    Admission a = meter_->authorize(request(auth, model, prompt, completion));
    ASSERT_TRUE(a.admitted());
    settle(a, prompt, 0, completion);
  }
};

TEST_P(UsageReport, GroupsByDayModelAndKey) {
  const auto by_day = usage_summary(*store_, {}, GroupBy::day);
  ASSERT_EQ(by_day.size(), 2u);
  EXPECT_EQ(by_day[0].group, "2025-06-15");
  EXPECT_EQ(by_day[0].requests, 3);
  EXPECT_EQ(by_day[0].cost, 168'000 + 280'000 + 1'300'000);
  EXPECT_EQ(by_day[1].group, "2025-06-16");
  EXPECT_EQ(by_day[1].cost, 130'000);

  const auto by_model = usage_summary(*store_, {}, GroupBy::model);
  ASSERT_EQ(by_model.size(), 2u);
  EXPECT_EQ(by_model[0].group, "deepseek-v3");
  EXPECT_EQ(by_model[0].prompt_tokens, 3000);
  EXPECT_EQ(by_model[0].completion_tokens, 100);
  EXPECT_EQ(by_model[1].group, "flagship-moe");
  EXPECT_EQ(by_model[1].cost, 1'430'000);

  const auto by_key = usage_summary(*store_, {}, GroupBy::key);
  ASSERT_EQ(by_key.size(), 2u);
  EXPECT_EQ(by_key[0].group, "alice");
  EXPECT_EQ(by_key[0].cost, 578'000);
  EXPECT_EQ(by_key[1].group, "bob");

  const auto total = usage_summary(*store_, {}, GroupBy::total);
  ASSERT_EQ(total.size(), 1u);
  EXPECT_EQ(total[0].requests, 4);
  EXPECT_EQ(total[0].cost, 1'878'000);
}

TEST_P(UsageReport, FiltersByKeyModelAndTime) {
  const std::string alice_id = find_key(*store_, "alice").id;
  EXPECT_EQ(usage_summary(*store_, {std::string("alice"), {}, {}, {}}, GroupBy::total).at(0).requests, 3);
  EXPECT_EQ(usage_summary(*store_, {alice_id, {}, {}, {}}, GroupBy::total).at(0).requests, 3);
  EXPECT_EQ(usage_summary(*store_, {{}, std::string("flagship-moe"), {}, {}}, GroupBy::total).at(0).requests, 2);
  EXPECT_EQ(usage_summary(*store_, {{}, {}, now_us_.load(), {}}, GroupBy::total).at(0).requests, 1);
  EXPECT_EQ(usage_summary(*store_, {{}, {}, {}, now_us_.load()}, GroupBy::total).at(0).requests, 3);
  EXPECT_TRUE(usage_summary(*store_, {std::string("nobody"), {}, {}, {}}, GroupBy::day).empty());
}

TEST_P(UsageReport, InjectionInFiltersMatchesNothingAndChangesNothing) {
  for (const char* evil : {"' OR '1'='1", "alice' --", "x'; DELETE FROM usage; --", "%", "*", "?", "$1"}) {
    EXPECT_TRUE(usage_summary(*store_, {std::string(evil), {}, {}, {}}, GroupBy::key).empty()) << evil;
    EXPECT_TRUE(usage_summary(*store_, {{}, std::string(evil), {}, {}}, GroupBy::model).empty()) << evil;
  }
  EXPECT_EQ(usage_summary(*store_, {}, GroupBy::total).at(0).requests, 4);
  EXPECT_EQ(list_keys(*store_, true).size(), 2u);
}

TEST_P(UsageReport, RendersTableCsvAndJson) {
  const auto groups = usage_summary(*store_, {}, GroupBy::model);
  const std::string csv = format_usage(groups, GroupBy::model, ReportFormat::csv);
  EXPECT_EQ(csv,
            "model,requests,prompt_tokens,cached_tokens,completion_tokens,cost_nanodollars,cost_usd\n"
            "deepseek-v3,2,3000,0,100,448000,0.000448\n"
            "flagship-moe,2,110,0,11,1430000,0.00143\n");
  const auto doc = nlohmann::json::parse(format_usage(groups, GroupBy::model, ReportFormat::json));
  EXPECT_EQ(doc["group_by"], "model");
  EXPECT_EQ(doc["data"].size(), 2u);
  EXPECT_EQ(doc["total"]["cost_nanodollars"], 1'878'000);
  EXPECT_EQ(doc["total"]["cost_usd"], "0.001878");
  const std::string table = format_usage(groups, GroupBy::model, ReportFormat::table);
  EXPECT_NE(table.find("flagship-moe"), std::string::npos);
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 3);
}

TEST(UsageReportFormat, CsvDefusesFormulasAndQuotes) {
  std::vector<UsageGroup> groups = {{"=HYPERLINK(\"x\")", 1, 0, 0, 0, 0}, {"a,b", 1, 0, 0, 0, 0}};
  const std::string csv = format_usage(groups, GroupBy::key, ReportFormat::csv);
  EXPECT_NE(csv.find("\"'=HYPERLINK(\"\"x\"\")\",1"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\"a,b\",1"), std::string::npos) << csv;
  EXPECT_THROW(parse_group_by("week"), Error);
  EXPECT_THROW(parse_report_format("xml"), Error);
}

TEST(TimeText, ParsesDatesAndSpans) {
  EXPECT_EQ(parse_time("1970-01-02", 0, "t"), 86'400'000'000);
  EXPECT_EQ(parse_time("2025-06-15T00:00:00Z", 0, "t"), 1'749'945'600'000'000);
  EXPECT_EQ(parse_time("7d", 1'000'000'000'000'000, "t"), 1'000'000'000'000'000 - 7 * 86'400'000'000);
  EXPECT_EQ(parse_time("30m", 1'800'000'000, "t"), 0);
  EXPECT_EQ(format_time(1'749'945'600'000'000), "2025-06-15T00:00:00Z");
  EXPECT_EQ(format_day(20'254), "2025-06-15");
  for (const char* bad : {"", "yesterday", "2025-13-01", "2025-06-15T25:00:00Z", "2025-06-15 00:00", "7w", "-1d"})
    EXPECT_THROW(parse_time(bad, 0, "--since"), Error) << bad;
}

INSTANTIATE_TEST_SUITE_P(Stores, UsageReport, ::testing::Values(Backend::sqlite, Backend::postgres),
                         testing::backend_name);

}  // namespace
}  // namespace moxie::metering
