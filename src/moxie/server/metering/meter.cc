#include "moxie/server/metering/meter.h"

#include <chrono>

#include "moxie/core/error.h"
#include "moxie/server/metering/api_key.h"
#include "moxie/server/metering/store.h"

namespace moxie::metering {

AuthMode parse_auth_mode(std::string_view text) {
  if (text == "required") return AuthMode::required;
  if (text == "optional") return AuthMode::optional;
  if (text == "off") return AuthMode::off;
  throw Error("--auth: expected required, optional or off, got '" + std::string(text) + "'");
}

const char* auth_mode_name(AuthMode mode) {
  switch (mode) {
    case AuthMode::required: return "required";
    case AuthMode::optional: return "optional";
    case AuthMode::off: return "off";
  }
  return "unknown";
}

int64_t system_now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

Meter::Meter(Store& store, PriceSheet prices, MeterOptions options)
    : store_(store), prices_(std::move(prices)), options_(std::move(options)) {
  if (options_.instance.empty()) throw Error("metering: the instance name must not be empty");
  if (options_.stale_reservation_s <= 0) throw Error("metering: stale_reservation_s must be positive");
}

int64_t Meter::now_us() const { return options_.clock ? options_.clock() : system_now_us(); }

Nanodollars Meter::max_cost(const std::string& model, int64_t prompt_tokens, int64_t max_completion_tokens) const {
  return max_cost_of(prices_.price_for(model), prompt_tokens, max_completion_tokens);
}

Admission Meter::authorize(const AuthorizeRequest& request) {
  AdmitInput in;
  if (options_.auth != AuthMode::off) {
    std::string token;
    try {
      token = bearer_token(request.authorization);
    } catch (const Error&) {
      return Admission{std::nullopt, invalid_key_error("the Authorization header is not 'Bearer <key>'")};
    }
    if (!token.empty()) {
      in.secret_hash = sha256_hex(token);
    } else if (options_.auth == AuthMode::required) {
      return Admission{std::nullopt, missing_key_error()};
    }
  }
  in.apply_limits = options_.auth != AuthMode::off;
  in.anonymous_rpm = options_.free_tier_rpm;
  in.anonymous_tpm = options_.free_tier_tpm;
  in.client = request.client;
  in.model = request.model;
  in.prompt_tokens = request.prompt_tokens;
  in.max_completion_tokens = request.max_completion_tokens;
  in.max_cost = max_cost(request.model, request.prompt_tokens, request.max_completion_tokens);
  in.instance = options_.instance;
  in.request_id = request.request_id;
  in.now_us = now_us();
  return admit(store_, in);
}

std::optional<MeterError> Meter::authenticate(std::string_view authorization) const {
  if (options_.auth == AuthMode::off) return std::nullopt;
  std::string token;
  try {
    token = bearer_token(authorization);
  } catch (const Error&) {
    return invalid_key_error("the Authorization header is not 'Bearer <key>'");
  }
  if (token.empty()) return options_.auth == AuthMode::required ? std::optional(missing_key_error()) : std::nullopt;
  return check_api_key(store_, sha256_hex(token), now_us());
}

Settlement Meter::settle(const Reservation& reservation, const RequestUsage& usage) {
  return metering::settle(store_, reservation.id, prices_, usage, now_us());
}

int Meter::recover() {
  const int64_t now = now_us();
  return recover_interrupted(store_, options_.instance, now - options_.stale_reservation_s * 1'000'000, prices_, now);
}

}  // namespace moxie::metering
