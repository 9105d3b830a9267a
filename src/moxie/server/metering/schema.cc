// The metering schema, as numbered migrations in the SQL both databases accept.
// Amounts are BIGINT nano-dollars, times BIGINT microseconds since the Unix epoch (UTC).
#include <string>

#include "moxie/core/error.h"
#include "moxie/server/metering/store.h"

namespace moxie::metering {
namespace {

// Migration N brings the schema from version N-1 to N. Append, never edit.
constexpr const char* kMigrations[] = {
    // 1: keys, open reservations, the usage ledger, rate-limit buckets.
    R"sql(
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  secret_hash TEXT UNIQUE,
  created_us BIGINT NOT NULL,
  expires_us BIGINT,
  revoked_us BIGINT,
  budget_nusd BIGINT,
  spent_nusd BIGINT NOT NULL DEFAULT 0,
  reserved_nusd BIGINT NOT NULL DEFAULT 0,
  rpm BIGINT,
  tpm BIGINT,
  models TEXT NOT NULL DEFAULT '',
  CHECK (spent_nusd >= 0 AND reserved_nusd >= 0),
  CHECK (budget_nusd IS NULL OR spent_nusd + reserved_nusd <= budget_nusd)
);
INSERT INTO api_keys (id, name, secret_hash, created_us) VALUES ('anonymous', 'anonymous', NULL, 0);
CREATE TABLE reservations (
  id TEXT PRIMARY KEY,
  key_id TEXT NOT NULL REFERENCES api_keys(id),
  model TEXT NOT NULL,
  amount_nusd BIGINT NOT NULL,
  prompt_tokens BIGINT NOT NULL,
  tokens_reserved BIGINT NOT NULL,
  bucket TEXT,
  bucket_tpm BIGINT,
  instance TEXT NOT NULL,
  request_id TEXT NOT NULL,
  created_us BIGINT NOT NULL
);
CREATE INDEX reservations_instance ON reservations (instance, created_us);
CREATE TABLE usage (
  id TEXT PRIMARY KEY,
  time_us BIGINT NOT NULL,
  key_id TEXT NOT NULL REFERENCES api_keys(id),
  model TEXT NOT NULL,
  prompt_tokens BIGINT NOT NULL,
  cached_tokens BIGINT NOT NULL,
  completion_tokens BIGINT NOT NULL,
  cost_nusd BIGINT NOT NULL,
  latency_ms BIGINT,
  status TEXT NOT NULL,
  request_id TEXT NOT NULL
);
CREATE INDEX usage_time ON usage (time_us);
CREATE INDEX usage_key_time ON usage (key_id, time_us);
CREATE TABLE rate_buckets (
  subject TEXT PRIMARY KEY,
  requests_micro BIGINT NOT NULL,
  tokens_micro BIGINT NOT NULL,
  updated_us BIGINT NOT NULL
);
)sql",
};
constexpr int kLatestVersion = static_cast<int>(std::size(kMigrations));

}  // namespace

int migrate(SqlDb& db) {
  db.begin_write(/*durable=*/true);
  try {
    // Replicas starting together on PostgreSQL queue here instead of racing the DDL.
    if (db.dialect() == SqlDialect::postgres) db.query("SELECT pg_advisory_xact_lock(7007)", {});
    db.exec_script("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)");
    SqlRows rows = db.query("SELECT version FROM schema_version", {});
    int version = rows.empty() ? 0 : static_cast<int>(as_int(rows[0][0]));
    if (rows.empty()) db.query("INSERT INTO schema_version (version) VALUES (0)", {});
    if (version > kLatestVersion)
      throw Error("metering database has schema version " + std::to_string(version) +
                  ", newer than this moxie understands (" + std::to_string(kLatestVersion) + ")");
    for (; version < kLatestVersion; ++version) db.exec_script(kMigrations[version]);
    db.query("UPDATE schema_version SET version = ?", {SqlValue{int64_t{version}}});
    db.commit();
    return version;
  } catch (...) {
    db.rollback();
    throw;
  }
}

}  // namespace moxie::metering
