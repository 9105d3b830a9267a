// moxie serve with metering, over HTTP on loopback, on SQLite and (with MOXIE_TEST_PG_URL)
// PostgreSQL: authentication, model permissions, budgets under concurrency, rate limits,
// revocation, usage rows and their costs against hand-computed integers, the admin and
// per-key usage endpoints (including SQL injection attempts), and models.toml prices.
#include <filesystem>
#include <fstream>
#include <future>

#include "metered_server_fixture.h"
#include "moxie/server/model_config_file.h"

namespace moxie::server::testing {
namespace {

using metering::AuthMode;

metering::PriceSheet flagship_prices(const std::string& model = "tiny") {
  metering::PriceSheet p;
  p.set(model, kFlagshipPrice);
  return p;
}

json body_of(const httplib::Result& r) { return r ? json::parse(r->body) : json(); }

// The usage object of a streamed answer (stream_options.include_usage), and whether [DONE] came.
json streamed_usage(const std::string& sse, bool* done) {
  json usage;
  size_t pos = 0;
  *done = false;
  while ((pos = sse.find("data: ", pos)) != std::string::npos) {
    const size_t end = sse.find("\n\n", pos);
    const std::string data = sse.substr(pos + 6, end - pos - 6);
    pos = end;
    if (data == "[DONE]") *done = true;
    else if (const json c = json::parse(data); c.contains("usage") && !c["usage"].is_null()) usage = c["usage"];
  }
  return usage;
}

TEST_P(MeteredServerTest, RequiredAuthRefusesMissingAndWrongKeys) {
  start(AuthMode::required, flagship_prices());
  auto none = post("/v1/chat/completions", chat());
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(body_of(none)["error"]["code"], "missing_api_key");
  for (const std::string auth : {"Bearer mx-not-a-key", "Basic dXNlcjpwYXNz"}) {
    auto wrong = post("/v1/chat/completions", chat(), auth);
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, 401) << auth;
    EXPECT_EQ(body_of(wrong)["error"]["code"], "invalid_api_key") << auth;
  }
  auto ok = post("/v1/chat/completions", chat(), bearer_for("alice"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM usage WHERE key_id <> 'anonymous'"), 1);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM usage WHERE key_id = 'anonymous'"), 0);
}

// GET /v1/models spends nothing but checks the key as generation does, so a client knows
// it needs one before its first message; it writes no usage row.
TEST_P(MeteredServerTest, ModelListNeedsAValidKeyWhenAuthIsRequired) {
  start(AuthMode::required, flagship_prices());
  const std::string alice = bearer_for("alice"), leaky = bearer_for("leaky");
  metering::revoke_key(*store_, "leaky", now_us_);
  metering::KeyLimits expiring;
  expiring.expires_us = now_us_ + 1'000'000;
  const std::string old = bearer_for("old", expiring);
  now_us_ += 2'000'000;
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"", "missing_api_key"}, {"Bearer mx-not-a-key", "invalid_api_key"}, {"Basic dXNlcjpwYXNz", "invalid_api_key"},
      {leaky, "invalid_api_key"}, {old, "invalid_api_key"}};
  for (const auto& [auth, code] : refused) {
    auto r = get("/v1/models", auth);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << auth;
    EXPECT_EQ(body_of(r)["error"]["code"], code) << auth << " " << r->body;
  }
  auto ok = get("/v1/models", alice);
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(body_of(ok)["data"][0]["id"], "tiny");
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM usage"), 0);
}

TEST_P(MeteredServerTest, ModelListIsOpenWithoutAKeyUnderOptionalAndOffAuth) {
  for (AuthMode mode : {AuthMode::optional, AuthMode::off}) {
    start(mode, flagship_prices());
    auto none = get("/v1/models");
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 200) << metering::auth_mode_name(mode);
    auto wrong = get("/v1/models", "Bearer mx-not-a-key");  // a key that is given must be valid, as for generation
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, mode == AuthMode::off ? 200 : 401) << metering::auth_mode_name(mode);
    stop();
  }
}

TEST_P(MeteredServerTest, KeyLimitedToOtherModelsGets403) {
  start(AuthMode::required, flagship_prices());
  metering::KeyLimits limits;
  limits.models = {"some-other-model"};
  auto r = post("/v1/chat/completions", chat(), bearer_for("narrow", limits));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(body_of(r)["error"]["code"], "model_not_allowed");
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM usage"), 0);
}

TEST_P(MeteredServerTest, UsageRowsHoldTokensAndHandComputedCosts) {
  start(AuthMode::required, flagship_prices());
  const std::string key = bearer_for("alice");
  auto whole = post("/v1/chat/completions", chat(), key);
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->status, 200) << whole->body;
  json body = chat();
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  auto streamed = post("/v1/chat/completions", body, key);  // same prompt: served partly from the prefix cache
  ASSERT_TRUE(streamed);
  bool done = false;
  const json su = streamed_usage(streamed->body, &done);
  EXPECT_TRUE(done);
  const json wu = body_of(whole)["usage"];
  EXPECT_GT(su["prompt_tokens_details"]["cached_tokens"].get<int64_t>(), 0);
  for (const json& u : {wu, su}) {
    const int64_t p = u["prompt_tokens"], c = u["prompt_tokens_details"]["cached_tokens"], n = u["completion_tokens"];
    const int64_t expected = hand_cost(kFlagshipPrice, p, c, n);
    EXPECT_EQ(u["cost"]["currency"], "USD");
    EXPECT_EQ(u["cost"]["nanodollars"].get<int64_t>(), expected) << u.dump();
    EXPECT_EQ(scalar("SELECT COUNT(*) FROM usage WHERE prompt_tokens = ? AND cached_tokens = ? AND completion_tokens = ? "
                     "AND cost_nusd = ? AND status = 'completed' AND model = 'tiny'",
                     {p, c, n, expected}),
              1)
        << u.dump();
  }
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM usage WHERE request_id = ?", {body_of(whole)["id"].get<std::string>()}), 1);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM reservations"), 0);
  EXPECT_EQ(scalar("SELECT spent_nusd FROM api_keys WHERE name = 'alice'"), scalar("SELECT SUM(cost_nusd) FROM usage"));
  EXPECT_EQ(gate_->open_requests(), 0u);
}

TEST_P(MeteredServerTest, ConcurrentRequestsNeverOverspendABudgetAndThenGet402) {
  start(AuthMode::required, flagship_prices());
  // Each request may cost up to ~prompt x 10'000 + 4 x 30'000 nano-dollars (about 0.3 m$):
  // the budget holds a handful, far fewer than the requests sent at once.
  metering::KeyLimits limits;
  limits.budget = 1'500'000;
  const std::string key = bearer_for("small-budget", limits);
  std::vector<std::future<int>> statuses;
  for (int i = 0; i < 24; ++i)
    statuses.push_back(std::async(std::launch::async, [&] {
      auto r = post("/v1/chat/completions", chat(), key);
      if (!r) ADD_FAILURE() << "request failed: " << httplib::to_string(r.error());
      return r ? r->status : -1;
    }));
  int ok = 0, refused = 0;
  for (auto& s : statuses) {
    const int status = s.get();
    EXPECT_TRUE(status == 200 || status == 402) << status;
    ok += status == 200;
    refused += status == 402;
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(refused, 0);
  for (int i = 0; i < 20; ++i) post("/v1/chat/completions", chat(), key);  // spend what is left
  auto last = post("/v1/chat/completions", chat(), key);
  ASSERT_TRUE(last);
  EXPECT_EQ(last->status, 402);
  EXPECT_EQ(body_of(last)["error"]["code"], "insufficient_quota");
  const int64_t ledger = scalar("SELECT SUM(cost_nusd) FROM usage");
  EXPECT_LE(ledger, *limits.budget);
  EXPECT_EQ(scalar("SELECT spent_nusd FROM api_keys WHERE name = 'small-budget'"), ledger);
  EXPECT_EQ(scalar("SELECT reserved_nusd FROM api_keys WHERE name = 'small-budget'"), 0);
  EXPECT_GE(scalar("SELECT COUNT(*) FROM usage"), ok);  // one row per admitted request
}

TEST_P(MeteredServerTest, RateLimitGives429WithRetryAfterThenRecovers) {
  start(AuthMode::required, flagship_prices());
  metering::KeyLimits limits;
  limits.rpm = 2;
  const std::string key = bearer_for("slow", limits);
  for (int i = 0; i < 2; ++i) {
    auto r = post("/v1/chat/completions", chat(), key);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  auto limited = post("/v1/chat/completions", chat(), key);
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(body_of(limited)["error"]["code"], "rate_limit_exceeded");
  ASSERT_TRUE(limited->has_header("Retry-After"));
  const int retry_after = std::stoi(limited->get_header_value("Retry-After"));
  EXPECT_GT(retry_after, 0);
  EXPECT_LE(retry_after, 60);
  now_us_ += int64_t(retry_after) * 1'000'000;  // the bucket refills with the meter's clock
  auto again = post("/v1/chat/completions", chat(), key);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << again->body;
}

TEST_P(MeteredServerTest, RevokedKeyFailsAtOnce) {
  start(AuthMode::required, flagship_prices());
  const std::string key = bearer_for("leaky");
  auto before = post("/v1/chat/completions", chat(), key);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, 200);
  metering::revoke_key(*store_, "leaky", now_us_);
  auto after = post("/v1/chat/completions", chat(), key);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 401);
  EXPECT_EQ(body_of(after)["error"]["code"], "invalid_api_key");
  auto me = get("/v1/me/usage", key);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 401);
}

TEST_P(MeteredServerTest, AdminEndpointsNeedTheAdminKeyAndCheckFilters) {
  start(AuthMode::required, flagship_prices());
  const std::string alice = bearer_for("alice");
  for (int i = 0; i < 2; ++i) ASSERT_EQ(post("/v1/chat/completions", chat(), alice)->status, 200);
  const std::string admin = "Bearer admin-secret";
  for (const char* path : {"/v1/admin/usage", "/v1/admin/keys"}) {
    EXPECT_EQ(get(path)->status, 401) << path;
    EXPECT_EQ(get(path, "Bearer wrong-secret")->status, 401) << path;
    EXPECT_EQ(get(path, alice)->status, 403) << path;  // a real API key, but not the admin's
    EXPECT_EQ(get(path, admin)->status, 200) << path;
  }
  const json by_key = body_of(get("/v1/admin/usage?by=key", admin));
  ASSERT_EQ(by_key["data"].size(), 1u) << by_key.dump();
  EXPECT_EQ(by_key["data"][0]["group"], "alice");
  EXPECT_EQ(by_key["data"][0]["requests"], 2);
  EXPECT_EQ(by_key["total"]["cost_nanodollars"].get<int64_t>(), scalar("SELECT SUM(cost_nusd) FROM usage"));
  EXPECT_EQ(body_of(get("/v1/admin/usage?by=model&model=tiny&since=1d", admin))["data"][0]["group"], "tiny");
  EXPECT_TRUE(body_of(get("/v1/admin/usage?model=nothing", admin))["data"].empty());
  // Bad values: 400 naming the parameter.
  for (const auto& [query, param] : std::vector<std::pair<std::string, std::string>>{
           {"by=week", "by"}, {"since=yesterday", "since"}, {"until=2025-13-45", "until"}, {"colour=red", "colour"},
           {"key=", "key"}, {"by=day&by=model", "by"}}) {
    auto r = get("/v1/admin/usage?" + query, admin);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << query;
    EXPECT_EQ(body_of(r)["error"]["param"], param) << query;
  }
  // Injection attempts are just values that match nothing; the tables are all still there.
  for (const std::string evil : {"x'%20OR%20'1'%3D'1", "tiny'%3B%20DROP%20TABLE%20usage%3B%20--",
                                 "%27)%20UNION%20SELECT%20secret_hash%20FROM%20api_keys%20--"}) {
    for (const std::string param : {"key", "model"}) {
      auto r = get("/v1/admin/usage?by=key&" + param + "=" + evil, admin);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 200) << r->body;
      EXPECT_TRUE(body_of(r)["data"].empty()) << r->body;
    }
  }
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM usage"), 2);
  const auto keys = get("/v1/admin/keys", admin);
  const json kj = body_of(keys);
  ASSERT_EQ(kj["data"].size(), 1u) << keys->body;
  EXPECT_EQ(kj["data"][0]["name"], "alice");
  EXPECT_EQ(keys->body.find(alice.substr(7)), std::string::npos);  // never a secret
  EXPECT_EQ(keys->body.find("secret_hash"), std::string::npos);
  EXPECT_EQ(get("/v1/admin/keys?include_revoked=maybe", admin)->status, 400);
}

TEST_P(MeteredServerTest, MeUsageShowsOnlyTheCallersKey) {
  start(AuthMode::required, flagship_prices());
  const std::string alice = bearer_for("alice"), bob = bearer_for("bob");
  for (int i = 0; i < 2; ++i) ASSERT_EQ(post("/v1/chat/completions", chat(), alice)->status, 200);
  ASSERT_EQ(post("/v1/chat/completions", chat(), bob)->status, 200);
  const json mine = body_of(get("/v1/me/usage?by=model", bob));
  EXPECT_EQ(mine["key"]["name"], "bob");
  EXPECT_EQ(mine["total"]["requests"], 1);
  EXPECT_EQ(mine["total"]["cost_nanodollars"].get<int64_t>(),
            scalar("SELECT SUM(u.cost_nusd) FROM usage u JOIN api_keys k ON k.id = u.key_id WHERE k.name = 'bob'"));
  EXPECT_EQ(mine["key"]["spent_nanodollars"], mine["total"]["cost_nanodollars"]);
  EXPECT_EQ(body_of(get("/v1/me/usage", alice))["total"]["requests"], 2);
  EXPECT_EQ(get("/v1/me/usage")->status, 401);
  EXPECT_EQ(get("/v1/me/usage", "Bearer mx-unknown")->status, 401);
  auto other = get("/v1/me/usage?key=alice", bob);  // a key cannot ask for another's usage
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 400);
  EXPECT_EQ(body_of(other)["error"]["param"], "key");
}

TEST_P(MeteredServerTest, TwoModelsFromModelsTomlHaveTheirOwnPrices) {
  const std::filesystem::path toml = dir_->file("models.toml");
  std::ofstream(toml) << "# two aliases of one file, priced like the issue's two price points\n"
                         "[[model]]\npath = \"" + std::filesystem::path(*model_path_).filename().string() + "\"\n"
                         "alias = \"flagship\"\nctx_size = 128\nparallel = 2\n"
                         "input_per_million_usd = \"10\"\ncached_input_per_million_usd = \"2.5\"\n"
                         "output_per_million_usd = \"30\"\n\n"
                         "[[model]]\npath = '" + *model_path_ + "'  # absolute\nalias = \"cheap\"\nctx_size = 128\n"
                         "input_per_million_usd = \"0.14\"\noutput_per_million_usd = \"0.28\"\n";
  EngineOptions defaults;
  defaults.n_threads = 1;
  metering::PriceSheet prices;
  std::vector<ModelSpec> specs;
  for (ConfiguredModel& m : load_model_config(toml.string(), defaults)) {
    if (m.price) prices.set(m.spec.alias, *m.price);
    specs.push_back(m.spec);
  }
  ASSERT_EQ(specs.size(), 2u);
  start(AuthMode::off, prices, specs);
  const json models = body_of(get("/v1/models"));
  ASSERT_EQ(models["data"].size(), 2u);
  EXPECT_EQ(models["data"][0]["pricing"]["output_per_million_usd"], "30");
  EXPECT_EQ(models["data"][1]["pricing"]["input_per_million_usd"], "0.14");
  EXPECT_EQ(models["data"][1]["pricing"]["cached_input_per_million_usd"], "0.14");  // defaults to the input price
  const metering::ModelPrice cheap_with_uncached_cache{140'000'000, 140'000'000, 280'000'000};
  for (const auto& [alias, price] : std::vector<std::pair<std::string, metering::ModelPrice>>{
           {"flagship", kFlagshipPrice}, {"cheap", cheap_with_uncached_cache}}) {
    const json u = body_of(post("/v1/chat/completions", chat(alias, 5)))["usage"];
    const int64_t expected =
        hand_cost(price, u["prompt_tokens"], u["prompt_tokens_details"]["cached_tokens"], u["completion_tokens"]);
    EXPECT_EQ(u["cost"]["nanodollars"].get<int64_t>(), expected) << alias << " " << u.dump();
    EXPECT_EQ(scalar("SELECT cost_nusd FROM usage WHERE model = ?", {alias}), expected) << alias;
  }
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM usage WHERE key_id = 'anonymous'"), 2);  // --auth off still meters
}

TEST_P(MeteredServerTest, NoPriceMeansNoCostButStillARow) {
  start(AuthMode::off, metering::PriceSheet{});
  const json r = body_of(post("/v1/completions", {{"prompt", "abc"}, {"max_tokens", 3}}));
  EXPECT_FALSE(r["usage"].contains("cost")) << r.dump();
  EXPECT_FALSE(body_of(get("/v1/models"))["data"][0].contains("pricing"));
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM usage WHERE cost_nusd = 0 AND completion_tokens = ?",
                   {r["usage"]["completion_tokens"].get<int64_t>()}),
            1);
}

INSTANTIATE_TEST_SUITE_P(Backends, MeteredServerTest, ::testing::Values(Backend::sqlite, Backend::postgres),
                         metering::testing::backend_name);

}  // namespace
}  // namespace moxie::server::testing
