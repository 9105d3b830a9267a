#pragma once
// ApiError: an error answered in OpenAI's shape,
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
// with its HTTP status. Request parsing throws it; handlers turn it into the response.
#include <string>

#include "moxie/core/error.h"

namespace moxie::server {

class ApiError : public Error {
 public:
  ApiError(int status, std::string message, std::string param = {}, std::string code = {});
  int status() const { return status_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }
  // "invalid_request_error" for 4xx, "server_error" for 5xx.
  std::string type() const;
  std::string to_json() const;

 private:
  int status_;
  std::string param_;
  std::string code_;
};

// 400 naming the parameter: "'temperature' must be a number between 0 and 2".
ApiError invalid_param(const std::string& param, const std::string& what);

}  // namespace moxie::server
