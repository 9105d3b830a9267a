#include "moxie/server/metering/meter_error.h"

#include <nlohmann/json.hpp>

#include "moxie/server/metering/money.h"

namespace moxie::metering {

std::string MeterError::to_openai_json() const {
  nlohmann::json body = {{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}};
  return body.dump();
}

MeterError missing_key_error() {
  return {401, "invalid_request_error", "missing_api_key",
          "You didn't provide an API key. Send it as 'Authorization: Bearer mx-...'.", 0};
}

MeterError invalid_key_error(const std::string& why) {
  return {401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided: " + why + ".", 0};
}

MeterError model_not_allowed_error(const std::string& model) {
  return {403, "permission_error", "model_not_allowed", "This API key may not use the model '" + model + "'.", 0};
}

MeterError rate_limited_error(const std::string& what, int64_t limit, int64_t retry_after_s) {
  return {429, what == "requests" ? "requests" : "tokens", "rate_limit_exceeded",
          "Rate limit reached: " + std::to_string(limit) + " " + what + " per minute. Try again in " +
              std::to_string(retry_after_s) + " s.",
          retry_after_s};
}

MeterError request_too_large_error(int64_t tokens, int64_t tpm) {
  // Waiting cannot help, so no Retry-After: the client must ask for fewer tokens.
  return {429, "tokens", "rate_limit_exceeded",
          "Request too large: it may use " + std::to_string(tokens) + " tokens (prompt + max_tokens) but the limit is " +
              std::to_string(tpm) + " tokens per minute. Lower max_tokens or shorten the prompt.",
          0};
}

MeterError budget_exhausted_error(int64_t max_cost_nusd, int64_t remaining_nusd) {
  // 402, not 429: clients retry 429s, and waiting does not refill a budget.
  return {402, "insufficient_quota", "insufficient_quota",
          "Budget exhausted: this request may cost up to $" + format_usd(max_cost_nusd) + " but $" +
              format_usd(remaining_nusd) + " of the key's budget is left. Lower max_tokens or raise the budget.",
          0};
}

}  // namespace moxie::metering
