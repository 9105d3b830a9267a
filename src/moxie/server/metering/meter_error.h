#pragma once
// Why a request was refused, in the terms the HTTP server answers with: a status, the
// OpenAI error body ({"error": {"message", "type", "param", "code"}}) and Retry-After.
#include <cstdint>
#include <string>

namespace moxie::metering {

struct MeterError {
  int http_status = 0;      // 401, 403, 429, 402
  std::string type;         // OpenAI error type, e.g. "invalid_request_error"
  std::string code;         // e.g. "invalid_api_key", "rate_limit_exceeded"
  std::string message;      // for people
  int64_t retry_after_s = 0;  // > 0: send "Retry-After: <seconds>"

  // {"error":{"message":...,"type":...,"param":null,"code":...}}
  std::string to_openai_json() const;
};

MeterError missing_key_error();
MeterError invalid_key_error(const std::string& why);
MeterError model_not_allowed_error(const std::string& model);
MeterError rate_limited_error(const std::string& what, int64_t limit, int64_t retry_after_s);
MeterError request_too_large_error(int64_t tokens, int64_t tpm);
MeterError budget_exhausted_error(int64_t max_cost_nusd, int64_t remaining_nusd);

}  // namespace moxie::metering
