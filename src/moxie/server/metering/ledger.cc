#include "moxie/server/metering/ledger.h"

#include <algorithm>

#include "moxie/core/error.h"
#include "moxie/server/metering/api_key.h"
#include "moxie/server/metering/keys_table.h"
#include "moxie/server/metering/store.h"
#include "moxie/server/metering/token_bucket.h"

namespace moxie::metering {
namespace {

struct Limits {
  std::optional<int64_t> rpm;
  std::optional<int64_t> tpm;
};

Admission refused(MeterError error) { return Admission{std::nullopt, std::move(error)}; }
SqlValue optional_int(const std::optional<int64_t>& v) { return v ? SqlValue{*v} : SqlValue{}; }

std::optional<MeterError> check_key_state(const KeyRecord& key, int64_t now_us) {
  if (key.revoked_us) return invalid_key_error("this key has been revoked");
  if (key.limits.expires_us && now_us >= *key.limits.expires_us) return invalid_key_error("this key has expired");
  return std::nullopt;
}

std::optional<MeterError> check_key(const KeyRecord& key, const std::string& model, int64_t now_us) {
  if (auto e = check_key_state(key, now_us)) return e;
  if (!model_allowed(key.limits.models, model)) return model_not_allowed_error(model);
  return std::nullopt;
}

std::optional<MeterError> check_budget(const KeyRecord& key, Nanodollars max_cost) {
  if (!key.limits.budget) return std::nullopt;
  const Nanodollars remaining = *key.limits.budget - key.spent - key.reserved;
  if (max_cost > remaining) return budget_exhausted_error(max_cost, std::max<Nanodollars>(0, remaining));
  return std::nullopt;
}

// Takes one request and `tokens` tokens from the subject's buckets, or says when to
// come back. Nothing is taken when either bucket refuses.
std::optional<MeterError> take_from_buckets(SqlDb& db, const std::string& subject, const Limits& limits,
                                            int64_t tokens, int64_t now_us) {
  if (!limits.rpm && !limits.tpm) return std::nullopt;
  if (limits.tpm && tokens > *limits.tpm) return request_too_large_error(tokens, *limits.tpm);
  const int64_t rpm = limits.rpm.value_or(0), tpm = limits.tpm.value_or(0);
  db.query(
      "INSERT INTO rate_buckets (subject, requests_micro, tokens_micro, updated_us) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (subject) DO NOTHING",
      {subject, rpm * kMicroUnits, tpm * kMicroUnits, now_us});
  const SqlRows rows = db.query(
      std::string("SELECT requests_micro, tokens_micro, updated_us FROM rate_buckets WHERE subject = ?") +
          db.for_update(),
      {subject});
  BucketState requests{as_int(rows.at(0)[0]), as_int(rows.at(0)[2])};
  BucketState token_bucket{as_int(rows.at(0)[1]), as_int(rows.at(0)[2])};
  if (limits.rpm) {
    requests = refill(requests, rpm, now_us);
    if (const int64_t wait_s = seconds_until(requests, rpm, 1)) return rate_limited_error("requests", rpm, wait_s);
    requests.level_micro -= kMicroUnits;
  }
  if (limits.tpm) {
    token_bucket = refill(token_bucket, tpm, now_us);
    if (const int64_t wait_s = seconds_until(token_bucket, tpm, tokens))
      return rate_limited_error("tokens", tpm, wait_s);
    token_bucket.level_micro -= tokens * kMicroUnits;
  }
  db.query("UPDATE rate_buckets SET requests_micro = ?, tokens_micro = ?, updated_us = ? WHERE subject = ?",
           {requests.level_micro, token_bucket.level_micro, std::max(requests.updated_us, token_bucket.updated_us),
            subject});
  return std::nullopt;
}

// Gives back tokens reserved for the tokens/min bucket but not used.
void refund_tokens(SqlDb& db, const std::string& subject, int64_t tpm, int64_t refund_tokens) {
  const SqlRows rows = db.query(
      std::string("SELECT tokens_micro FROM rate_buckets WHERE subject = ?") + db.for_update(), {subject});
  if (rows.empty()) return;  // pruned meanwhile: an idle bucket is a full one
  const int64_t level = std::min(tpm * kMicroUnits, as_int(rows[0][0]) + refund_tokens * kMicroUnits);
  db.query("UPDATE rate_buckets SET tokens_micro = ? WHERE subject = ?", {level, subject});
}

std::optional<KeyRecord> key_for_update(SqlDb& db, const AdmitInput& in) {
  const std::string where = in.secret_hash ? " WHERE secret_hash = ?" : " WHERE id = ?";
  const SqlValue match = in.secret_hash ? *in.secret_hash : std::string(kAnonymousKeyId);
  const SqlRows rows = db.query("SELECT " MOXIE_KEY_COLUMNS " FROM api_keys" + where + db.for_update(), {match});
  if (rows.empty()) return std::nullopt;
  return key_from_row(rows[0]);
}

std::optional<Settlement> settle_if_open(SqlDb& db, const std::string& reservation_id, const PriceSheet& prices,
                                         const RequestUsage& usage, int64_t now_us) {
  const SqlRows rows = db.query(
      "DELETE FROM reservations WHERE id = ? "
      "RETURNING key_id, model, amount_nusd, tokens_reserved, bucket, bucket_tpm, request_id",
      {reservation_id});
  if (rows.empty()) return std::nullopt;
  const SqlRow& r = rows[0];
  const std::string key_id = as_text(r[0]), model = as_text(r[1]);
  const Nanodollars reserved = as_int(r[2]);
  Settlement s;
  s.priced_cost = cost_of(prices.price_for(model), usage.tokens);
  // The reservation is the most the key can be charged; a larger priced cost means the
  // server under-estimated the request, and the budget promise wins.
  s.cost = std::min(s.priced_cost, reserved);
  s.request_id = usage.request_id.empty() ? as_text(r[6]) : usage.request_id;
  db.query("UPDATE api_keys SET reserved_nusd = reserved_nusd - ?, spent_nusd = spent_nusd + ? WHERE id = ?",
           {reserved, s.cost, key_id});
  const int64_t unused_tokens = as_int(r[3]) - usage.tokens.prompt - usage.tokens.completion;
  if (unused_tokens > 0 && !is_null(r[4]) && !is_null(r[5])) refund_tokens(db, as_text(r[4]), as_int(r[5]), unused_tokens);
  db.query(
      "INSERT INTO usage (id, time_us, key_id, model, prompt_tokens, cached_tokens, completion_tokens, cost_nusd, "
      "latency_ms, status, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {reservation_id, now_us, key_id, model, usage.tokens.prompt, usage.tokens.cached, usage.tokens.completion, s.cost,
       usage.latency_ms >= 0 ? SqlValue{usage.latency_ms} : SqlValue{}, std::string(status_name(usage.status)),
       s.request_id});
  return s;
}

}  // namespace

const char* status_name(UsageStatus status) {
  switch (status) {
    case UsageStatus::completed: return "completed";
    case UsageStatus::cancelled: return "cancelled";
    case UsageStatus::failed: return "failed";
    case UsageStatus::interrupted: return "interrupted";
  }
  return "unknown";
}

Admission admit(Store& store, const AdmitInput& in) {
  if (in.prompt_tokens < 0 || in.max_completion_tokens < 0 || in.max_cost < 0)
    throw Error("admit: negative token count or cost");
  return store.write([&](SqlDb& db) -> Admission {
    const std::optional<KeyRecord> key = key_for_update(db, in);
    if (!key) return refused(invalid_key_error("no such key"));
    if (auto e = check_key(*key, in.model, in.now_us)) return refused(*e);
    if (auto e = check_budget(*key, in.max_cost)) return refused(*e);
    const bool anonymous = !in.secret_hash;
    const Limits limits = !in.apply_limits ? Limits{}
                          : anonymous      ? Limits{in.anonymous_rpm, in.anonymous_tpm}
                                           : Limits{key->limits.rpm, key->limits.tpm};
    const std::string subject = anonymous ? "anon:" + in.client : key->id;
    const int64_t tokens = checked_add(in.prompt_tokens, in.max_completion_tokens, "request tokens");
    if (auto e = take_from_buckets(db, subject, limits, tokens, in.now_us)) return refused(*e);

    Reservation r{generate_reservation_id(), key->id, key->name, in.model, in.request_id, in.max_cost,
                  limits.tpm ? tokens : 0};
    db.query("UPDATE api_keys SET reserved_nusd = reserved_nusd + ? WHERE id = ?", {in.max_cost, key->id});
    db.query(
        "INSERT INTO reservations (id, key_id, model, amount_nusd, prompt_tokens, tokens_reserved, bucket, "
        "bucket_tpm, instance, request_id, created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {r.id, r.key_id, r.model, r.max_cost, in.prompt_tokens, r.tokens_reserved,
         limits.tpm ? SqlValue{subject} : SqlValue{}, optional_int(limits.tpm), in.instance, in.request_id, in.now_us});
    return Admission{std::move(r), std::nullopt};
  });
}

std::optional<MeterError> check_api_key(Store& store, const std::string& secret_hash, int64_t now_us) {
  const SqlRows rows = store.read([&](SqlDb& db) {
    return db.query("SELECT " MOXIE_KEY_COLUMNS " FROM api_keys WHERE secret_hash = ?", {secret_hash});
  });
  if (rows.empty()) return invalid_key_error("no such key");
  return check_key_state(key_from_row(rows[0]), now_us);
}

Settlement settle(Store& store, const std::string& reservation_id, const PriceSheet& prices,
                  const RequestUsage& usage, int64_t now_us) {
  auto settled = store.write([&](SqlDb& db) { return settle_if_open(db, reservation_id, prices, usage, now_us); },
                             /*durable=*/true);
  if (!settled) throw Error("reservation '" + reservation_id + "' is not open (already settled, or recovered)");
  return *settled;
}

int recover_interrupted(Store& store, const std::string& instance, int64_t stale_before_us,
                        const PriceSheet& prices, int64_t now_us) {
  const SqlRows open = store.read([&](SqlDb& db) {
    return db.query("SELECT id, prompt_tokens FROM reservations WHERE instance = ? OR created_us < ?",
                    {instance, stale_before_us});
  });
  int settled = 0;
  for (const SqlRow& row : open) {
    RequestUsage usage;
    usage.tokens = TokenCounts{as_int(row[1]), 0, 0};
    usage.status = UsageStatus::interrupted;
    // Another replica recovering the same stale reservation may win; that is fine.
    if (store.write([&](SqlDb& db) { return settle_if_open(db, as_text(row[0]), prices, usage, now_us); }, true))
      ++settled;
  }
  // Buckets idle for a minute are full again; dropping them forgets nothing.
  store.write([&](SqlDb& db) {
    db.query("DELETE FROM rate_buckets WHERE updated_us < ?", {now_us - kMicrosPerMinute});
  });
  return settled;
}

}  // namespace moxie::metering
