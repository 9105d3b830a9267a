#pragma once
// The ledger's three transactions: admit (check a key, take from its rate buckets,
// reserve the request's maximum cost against its budget), settle (replace the
// reservation by the actual cost and write the usage row) and recover (settle
// reservations a killed server left open). Each is one database transaction, so
// concurrent requests in any number of threads, processes or replicas never spend
// more than a budget: spent + reserved <= budget holds at every commit, and the
// database itself enforces it with a CHECK constraint.
#include <cstdint>
#include <optional>
#include <string>

#include "moxie/server/metering/meter_error.h"
#include "moxie/server/metering/pricing.h"

namespace moxie::metering {

class Store;

struct AdmitInput {
  std::optional<std::string> secret_hash;  // SHA-256 hex of the bearer; none = anonymous
  bool apply_limits = true;                // false: --auth off, meter only
  std::optional<int64_t> anonymous_rpm;    // the free tier's limits
  std::optional<int64_t> anonymous_tpm;
  std::string client;                      // free-tier bucket: one per client (e.g. address)
  std::string model;
  Nanodollars max_cost = 0;                // the most this request can cost
  int64_t prompt_tokens = 0;
  int64_t max_completion_tokens = 0;
  std::string instance;                    // which server process holds the reservation
  std::string request_id;
  int64_t now_us = 0;
};

// What the server keeps between authorize and settle.
struct Reservation {
  std::string id;        // "res_..."
  std::string key_id;
  std::string key_name;
  std::string model;
  std::string request_id;
  Nanodollars max_cost = 0;
  int64_t tokens_reserved = 0;  // taken from the tokens/min bucket, refunded in part at settle
};

struct Admission {
  std::optional<Reservation> reservation;  // set when admitted
  std::optional<MeterError> error;         // set when refused
  bool admitted() const { return reservation.has_value(); }
};

enum class UsageStatus { completed, cancelled, failed, interrupted };
const char* status_name(UsageStatus status);

struct RequestUsage {
  TokenCounts tokens;
  int64_t latency_ms = -1;  // < 0: unknown (stored as NULL)
  UsageStatus status = UsageStatus::completed;
  std::string request_id;   // empty: keep the one given at admission
};

struct Settlement {
  Nanodollars cost = 0;           // billed; never more than the reservation
  Nanodollars priced_cost = 0;    // cost_of(price, tokens) before the cap
  std::string request_id;
};

Admission admit(Store& store, const AdmitInput& input);

// The key whose secret hashes to secret_hash, checked as admit() checks it before anything
// is reserved (unknown, revoked, expired: 401), in a read-only transaction. For routes that
// need a valid key but spend nothing (GET /v1/models).
std::optional<MeterError> check_api_key(Store& store, const std::string& secret_hash, int64_t now_us);

// Throws moxie::Error when the reservation is not open (settled before, or recovered).
Settlement settle(Store& store, const std::string& reservation_id, const PriceSheet& prices,
                  const RequestUsage& usage, int64_t now_us);

// Settles, as UsageStatus::interrupted, every open reservation held by `instance` (this
// server before it was killed) or created before stale_before_us (any replica that never
// came back). An interrupted request is billed its prompt tokens at the uncached input
// price and no completion tokens. Returns how many were settled.
int recover_interrupted(Store& store, const std::string& instance, int64_t stale_before_us,
                        const PriceSheet& prices, int64_t now_us);

}  // namespace moxie::metering
