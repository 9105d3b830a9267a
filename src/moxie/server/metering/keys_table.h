#pragma once
// API keys in the store: create (the secret is returned once, only its SHA-256 is
// kept), list, find, revoke, rotate. Keys are named by their public id or their name.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "moxie/server/metering/money.h"
#include "moxie/server/metering/sql.h"

namespace moxie::metering {

class Store;

inline constexpr const char* kAnonymousKeyId = "anonymous";
inline constexpr int64_t kMaxPerMinuteLimit = 1'000'000'000;

struct KeyLimits {
  std::optional<Nanodollars> budget;   // lifetime spending cap; none = unlimited
  std::optional<int64_t> rpm;          // requests per minute; none = unlimited
  std::optional<int64_t> tpm;          // prompt + completion tokens per minute
  std::vector<std::string> models;     // allowed models; empty = all
  std::optional<int64_t> expires_us;   // none = never
};

struct KeyRecord {
  std::string id;    // "key_..." (or "anonymous" for the free tier)
  std::string name;
  int64_t created_us = 0;
  std::optional<int64_t> revoked_us;
  KeyLimits limits;
  Nanodollars spent = 0;     // settled
  Nanodollars reserved = 0;  // held by requests in flight
};

struct CreatedKey {
  KeyRecord record;
  std::string secret;  // "mx-...": shown to the user once, never stored
};

// Throws moxie::Error for an empty or over-long name (1..128 bytes), a name already
// used, or limits out of range.
CreatedKey create_key(Store& store, const std::string& name, const KeyLimits& limits, int64_t now_us);
std::vector<KeyRecord> list_keys(Store& store, bool include_revoked);
// By id or name; throws moxie::Error naming `id_or_name` when no key matches.
KeyRecord find_key(Store& store, const std::string& id_or_name);
// Revoked keys fail authentication from the next request on. Revoking twice is an error.
KeyRecord revoke_key(Store& store, const std::string& id_or_name, int64_t now_us);
// A new secret for the same key (same id, budget, spending); the old secret stops working.
CreatedKey rotate_key(Store& store, const std::string& id_or_name);

// "a,b" <-> {"a","b"}: how the allowed-models list is stored and given on the command line.
std::vector<std::string> split_models(const std::string& comma_list);
std::string join_models(const std::vector<std::string>& models);

// Whether `model` is in the list (an empty list allows all).
bool model_allowed(const std::vector<std::string>& allowed, const std::string& model);

// The api_keys columns key_from_row reads, in order, for SELECTs elsewhere (ledger.cc).
#define MOXIE_KEY_COLUMNS \
  "id, name, created_us, expires_us, revoked_us, budget_nusd, spent_nusd, reserved_nusd, rpm, tpm, models"
KeyRecord key_from_row(const SqlRow& row);
}  // namespace moxie::metering
