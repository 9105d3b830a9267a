#pragma once
// Meter: what the HTTP server calls on every request.
//
//   Admission a = meter.authorize({auth_header, model, prompt_tokens, max_tokens, client_ip, id});
//   if (!a.admitted()) -> answer a.error->http_status with a.error->to_openai_json()
//                         (and Retry-After when retry_after_s > 0)
//   ... generate ...
//   Settlement s = meter.settle(*a.reservation, {tokens, latency_ms, status});  // durable
//   ... then send the final usage (s.cost) to the client.
//
// Call recover() once at start-up (it settles what a killed predecessor left open) and
// every few minutes after (for replicas that never came back). Thread-safe: the store
// pools connections and every step is one database transaction.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "moxie/server/metering/ledger.h"
#include "moxie/server/metering/pricing.h"

namespace moxie::metering {

class Store;

// required: every request needs a key. optional: requests without a key use the
// anonymous free tier (its own limits); a key that is given must be valid. off: keys
// are ignored, nothing is limited, every request is still metered (as "anonymous").
enum class AuthMode { required, optional, off };
AuthMode parse_auth_mode(std::string_view text);  // throws moxie::Error naming --auth
const char* auth_mode_name(AuthMode mode);

struct MeterOptions {
  AuthMode auth = AuthMode::required;
  std::optional<int64_t> free_tier_rpm = 10;     // per client, with --auth optional
  std::optional<int64_t> free_tier_tpm = 20'000;
  // Names this server among replicas sharing a database; give each replica its own,
  // stable across restarts, so a restarted replica recovers exactly its own requests.
  std::string instance = "local";
  // Open reservations older than this are recovered by any replica (their owner died
  // and did not come back). Must exceed the longest request.
  int64_t stale_reservation_s = 3600;
  // Microseconds since the Unix epoch; tests substitute their own clock.
  std::function<int64_t()> clock;
};

struct AuthorizeRequest {
  std::string_view authorization;  // the Authorization header's value; empty when absent
  std::string model;
  int64_t prompt_tokens = 0;
  int64_t max_completion_tokens = 0;  // the request's max_tokens (or the context limit)
  std::string client;                 // free-tier bucket key, e.g. the client address
  std::string request_id;             // e.g. "chatcmpl-..."
};

class Meter {
 public:
  Meter(Store& store, PriceSheet prices, MeterOptions options);

  Admission authorize(const AuthorizeRequest& request);
  // For routes that spend nothing: the refusal authorize() would give for this
  // Authorization header alone (a missing key under `required`; a malformed, unknown,
  // revoked or expired one under `required` and `optional`), or nothing. No rate limit.
  std::optional<MeterError> authenticate(std::string_view authorization) const;
  // Durable when it returns. Throws moxie::Error for a reservation that is not open.
  Settlement settle(const Reservation& reservation, const RequestUsage& usage);
  int recover();

  Nanodollars max_cost(const std::string& model, int64_t prompt_tokens, int64_t max_completion_tokens) const;
  const PriceSheet& prices() const { return prices_; }
  const MeterOptions& options() const { return options_; }
  int64_t now_us() const;

 private:
  Store& store_;
  PriceSheet prices_;
  MeterOptions options_;
};

int64_t system_now_us();

}  // namespace moxie::metering
