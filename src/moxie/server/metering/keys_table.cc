#include "moxie/server/metering/keys_table.h"

#include <algorithm>

#include "moxie/core/error.h"
#include "moxie/server/metering/api_key.h"
#include "moxie/server/metering/store.h"

namespace moxie::metering {
namespace {

SqlValue optional_int(const std::optional<int64_t>& v) { return v ? SqlValue{*v} : SqlValue{}; }
std::optional<int64_t> int_or_none(const SqlValue& v) {
  return is_null(v) ? std::nullopt : std::optional<int64_t>(as_int(v));
}

void validate(const std::string& name, const KeyLimits& limits) {
  if (name.empty() || name.size() > 128) throw Error("key name must be 1 to 128 bytes long");
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f) throw Error("key name must not contain control characters");
  if (name == kAnonymousKeyId) throw Error("key name 'anonymous' is reserved for the free tier");
  if (limits.budget && *limits.budget < 0) throw Error("--budget must not be negative");
  for (const auto& [flag, limit] : {std::pair{"--rpm", limits.rpm}, std::pair{"--tpm", limits.tpm}}) {
    if (limit && (*limit < 1 || *limit > kMaxPerMinuteLimit))
      throw Error(std::string(flag) + " must be between 1 and " + std::to_string(kMaxPerMinuteLimit));
  }
  for (const auto& m : limits.models)
    if (m.empty() || m.find(',') != std::string::npos) throw Error("--models: empty model name or stray ','");
}

// SELECT ... WHERE id = ? OR name = ?: ids and names never collide (ids have the
// "key_" prefix that names may also have, so ids are tried first).
std::optional<KeyRecord> lookup(SqlDb& db, const std::string& id_or_name) {
  for (const char* sql : {"SELECT " MOXIE_KEY_COLUMNS " FROM api_keys WHERE id = ?",
                          "SELECT " MOXIE_KEY_COLUMNS " FROM api_keys WHERE name = ?"}) {
    SqlRows rows = db.query(sql, {id_or_name});
    if (!rows.empty()) return key_from_row(rows[0]);
  }
  return std::nullopt;
}

KeyRecord lookup_or_throw(SqlDb& db, const std::string& id_or_name) {
  auto key = lookup(db, id_or_name);
  if (!key) throw Error("no API key with id or name '" + id_or_name + "'");
  return *key;
}
}  // namespace

KeyRecord key_from_row(const SqlRow& row) {
  KeyRecord k;
  k.id = as_text(row.at(0));
  k.name = as_text(row.at(1));
  k.created_us = as_int(row.at(2));
  k.limits.expires_us = int_or_none(row.at(3));
  k.revoked_us = int_or_none(row.at(4));
  k.limits.budget = int_or_none(row.at(5));
  k.spent = as_int(row.at(6));
  k.reserved = as_int(row.at(7));
  k.limits.rpm = int_or_none(row.at(8));
  k.limits.tpm = int_or_none(row.at(9));
  k.limits.models = split_models(as_text(row.at(10)));
  return k;
}

std::vector<std::string> split_models(const std::string& comma_list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= comma_list.size() && !comma_list.empty()) {
    const size_t comma = std::min(comma_list.find(',', start), comma_list.size());
    out.push_back(comma_list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::string join_models(const std::vector<std::string>& models) {
  std::string out;
  for (size_t i = 0; i < models.size(); ++i) out += (i ? "," : "") + models[i];
  return out;
}

bool model_allowed(const std::vector<std::string>& allowed, const std::string& model) {
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), model) != allowed.end();
}

CreatedKey create_key(Store& store, const std::string& name, const KeyLimits& limits, int64_t now_us) {
  validate(name, limits);
  CreatedKey created;
  created.secret = generate_secret();
  created.record = KeyRecord{generate_key_id(), name, now_us, std::nullopt, limits, 0, 0};
  store.write([&](SqlDb& db) {
    if (!db.query("SELECT id FROM api_keys WHERE name = ?", {name}).empty())
      throw Error("an API key named '" + name + "' already exists (revoked keys keep their names)");
    db.query(
        "INSERT INTO api_keys (id, name, secret_hash, created_us, expires_us, budget_nusd, rpm, tpm, models) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {created.record.id, name, sha256_hex(created.secret), now_us, optional_int(limits.expires_us),
         optional_int(limits.budget), optional_int(limits.rpm), optional_int(limits.tpm), join_models(limits.models)});
  });
  return created;
}

std::vector<KeyRecord> list_keys(Store& store, bool include_revoked) {
  return store.read([&](SqlDb& db) {
    SqlRows rows = db.query("SELECT " MOXIE_KEY_COLUMNS " FROM api_keys WHERE id <> ? ORDER BY created_us, id",
                            {std::string(kAnonymousKeyId)});
    std::vector<KeyRecord> keys;
    for (const auto& row : rows) {
      KeyRecord k = key_from_row(row);
      if (include_revoked || !k.revoked_us) keys.push_back(std::move(k));
    }
    return keys;
  });
}

KeyRecord find_key(Store& store, const std::string& id_or_name) {
  return store.read([&](SqlDb& db) { return lookup_or_throw(db, id_or_name); });
}

KeyRecord revoke_key(Store& store, const std::string& id_or_name, int64_t now_us) {
  return store.write([&](SqlDb& db) {
    KeyRecord k = lookup_or_throw(db, id_or_name);
    if (k.id == kAnonymousKeyId) throw Error("the anonymous free tier is not a key; use --auth required");
    if (k.revoked_us) throw Error("API key '" + k.name + "' (" + k.id + ") is already revoked");
    db.query("UPDATE api_keys SET revoked_us = ? WHERE id = ?", {now_us, k.id});
    k.revoked_us = now_us;
    return k;
  });
}

CreatedKey rotate_key(Store& store, const std::string& id_or_name) {
  CreatedKey created;
  created.secret = generate_secret();
  created.record = store.write([&](SqlDb& db) {
    KeyRecord k = lookup_or_throw(db, id_or_name);
    if (k.id == kAnonymousKeyId) throw Error("the anonymous free tier has no secret to rotate");
    if (k.revoked_us) throw Error("API key '" + k.name + "' is revoked; create a new one");
    db.query("UPDATE api_keys SET secret_hash = ? WHERE id = ?", {sha256_hex(created.secret), k.id});
    return k;
  });
  return created;
}

}  // namespace moxie::metering
