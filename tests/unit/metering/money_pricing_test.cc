// Money parsing/formatting and request costs, against integers worked out by hand
// from the definition: cost = ceil(sum(tokens * price_per_million) / 1e6) nano-dollars.
#include <gtest/gtest.h>

#include "moxie/core/error.h"
#include "moxie/server/metering/money.h"
#include "moxie/server/metering/pricing.h"

namespace moxie::metering {
namespace {

TEST(Money, ParsesDollarAmountsExactly) {
  EXPECT_EQ(parse_usd("10", "x"), 10'000'000'000);
  EXPECT_EQ(parse_usd("0.14", "x"), 140'000'000);
  EXPECT_EQ(parse_usd("$2.50", "x"), 2'500'000'000);
  EXPECT_EQ(parse_usd("0.000000001", "x"), 1);
  EXPECT_EQ(parse_usd(".5", "x"), 500'000'000);
  EXPECT_EQ(parse_usd("7.", "x"), 7'000'000'000);
  EXPECT_EQ(parse_usd("9223372036", "x"), 9'223'372'036'000'000'000);
}

TEST(Money, RejectsWhatIsNotAnExactAmount) {
  for (const char* bad : {"", "$", ".", "abc", "1.2.3", "-1", "1e3", "0.0000000001", "9223372037", " 1", "1,5"}) {
    EXPECT_THROW(parse_usd(bad, "--budget"), Error) << bad;
  }
  try {
    parse_usd("1.5x", "--budget");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--budget"), std::string::npos) << e.what();
  }
}

TEST(Money, FormatsWithoutTrailingZeros) {
  EXPECT_EQ(format_usd(0), "0");
  EXPECT_EQ(format_usd(140'000'000), "0.14");
  EXPECT_EQ(format_usd(10'000'000'000), "10");
  EXPECT_EQ(format_usd(1), "0.000000001");
  EXPECT_EQ(format_usd(-5), "-0.000000005");
  EXPECT_EQ(format_usd(INT64_MIN), "-9223372036.854775808");
  for (int64_t v : {int64_t{1}, int64_t{999'999'999}, int64_t{123'456'789'012}, INT64_MAX})
    EXPECT_EQ(parse_usd(format_usd(v), "x"), v);
}

TEST(Money, CheckedArithmeticRefusesOverflow) {
  EXPECT_EQ(checked_mul(3, 4, "x"), 12);
  EXPECT_THROW(checked_mul(INT64_MAX / 2 + 1, 2, "x"), Error);
  EXPECT_THROW(checked_add(INT64_MAX, 1, "x"), Error);
}

ModelPrice price(const char* in, const char* cached, const char* out) {
  return ModelPrice{parse_usd(in, "in"), parse_usd(cached, "cached"), parse_usd(out, "out")};
}

TEST(Pricing, FlagshipPricePoint) {
  // $10 / M input, $30 / M output: 1000 prompt -> $0.01, 500 completion -> $0.015.
  const ModelPrice p = price("10", "2.5", "30");
  EXPECT_EQ(cost_of(p, {1000, 0, 500}), 10'000'000 + 15'000'000);
  // One token each way: 10'000 + 30'000 nano-dollars.
  EXPECT_EQ(cost_of(p, {1, 0, 1}), 40'000);
  // 1000 prompt of which 800 cached at $2.50 / M: 200 * 10'000 + 800 * 2'500.
  EXPECT_EQ(cost_of(p, {1000, 800, 0}), 2'000'000 + 2'000'000);
}

TEST(Pricing, LowPricePoint) {
  // $0.14 / M = 140 nano-dollars per token; $0.28 / M = 280.
  const ModelPrice p = price("0.14", "0.014", "0.28");
  EXPECT_EQ(cost_of(p, {1234, 0, 567}), 1234 * 140 + 567 * 280);  // 331'520
  EXPECT_EQ(cost_of(p, {1234, 0, 567}), 331'520);
  // 600 cached at 14 nano-dollars each, 400 uncached at 140.
  EXPECT_EQ(cost_of(p, {1000, 600, 0}), 64'400);
  EXPECT_EQ(max_cost_of(p, 1000, 4096), 1000 * 140 + 4096 * 280);
}

TEST(Pricing, RoundsUpOncePerRequest) {
  // 1'500 nano-dollars per million input tokens = 0.0015 per token.
  const ModelPrice p{1'500, 1'500, 2'500};
  EXPECT_EQ(cost_of(p, {0, 0, 0}), 0);
  EXPECT_EQ(cost_of(p, {1, 0, 0}), 1);       // 0.0015 -> 1
  EXPECT_EQ(cost_of(p, {1000, 0, 0}), 2);    // 1.5 -> 2
  EXPECT_EQ(cost_of(p, {2000, 0, 0}), 3);    // exactly 3
  // 1.5 + 2.5 = 4 exactly: rounding per category would have given 2 + 3 = 5.
  EXPECT_EQ(cost_of(p, {1000, 0, 1000}), 4);
}

TEST(Pricing, RejectsImpossibleCounts) {
  const ModelPrice p = price("1", "1", "1");
  EXPECT_THROW(cost_of(p, {-1, 0, 0}), Error);
  EXPECT_THROW(cost_of(p, {10, 11, 0}), Error);
  EXPECT_THROW(cost_of(p, {0, 0, -5}), Error);
  EXPECT_THROW(cost_of(ModelPrice{INT64_MAX, 0, INT64_MAX}, {INT64_MAX, 0, INT64_MAX}), Error);
}

TEST(PriceSheet, ReadsModelsAndDefault) {
  const PriceSheet sheet = PriceSheet::from_json(R"({
    "models": {
      "flagship-moe": {"input_per_million_usd": "10", "cached_input_per_million_usd": "2.5",
                       "output_per_million_usd": "30"},
      "deepseek-v3": {"input_per_million_usd": "0.14", "output_per_million_usd": "0.28"}
    },
    "default": {"input_per_million_usd": 1, "output_per_million_usd": "2"}
  })", "prices.json");
  EXPECT_EQ(sheet.price_for("flagship-moe").output_per_million, 30'000'000'000);
  EXPECT_EQ(sheet.price_for("flagship-moe").cached_input_per_million, 2'500'000'000);
  // No cached price given: a cache hit costs an input token.
  EXPECT_EQ(sheet.price_for("deepseek-v3").cached_input_per_million, 140'000'000);
  EXPECT_EQ(sheet.price_for("other").input_per_million, 1'000'000'000);
  EXPECT_EQ(PriceSheet().price_for("x").output_per_million, 0);
  EXPECT_EQ(price_json(sheet.price_for("deepseek-v3")),
            R"({"cached_input_per_million_usd":"0.14","input_per_million_usd":"0.14","output_per_million_usd":"0.28"})");
}

TEST(PriceSheet, ErrorsNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"models": {"m": {"input_per_million_usd": 0.14}}})", "models.m.input_per_million_usd"},
      {R"({"models": {"m": {"input_per_millon_usd": "1"}}})", "input_per_millon_usd"},
      {R"({"models": {"m": {"output_per_million_usd": "-1"}}})", "output_per_million_usd"},
      {R"({"modles": {}})", "modles"},
      {R"({"models": [1]})", "models"},
      {R"({"models": )", "byte"},
  };
  for (const auto& [json, needle] : cases) {
    try {
      PriceSheet::from_json(json, "prices.json");
      FAIL() << json;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("prices.json"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace moxie::metering
