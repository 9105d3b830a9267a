#pragma once
// HttpServer: the OpenAI-compatible HTTP front of `moxie serve`. Routes only parse,
// validate and enqueue; each served model has its own Engine doing the batching.
//
//   POST /v1/chat/completions, /v1/completions   (stream or not)
//   GET  /v1/models, /health, /metrics            POST /tokenize, /detokenize
//   GET  /  and the chat page's files
//
// Every error is OpenAI's error JSON with its status (400, 404, 413, 503 + Retry-After).
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "moxie/runtime/engine.h"

namespace moxie {
class LoadedModel;
}

namespace moxie::server {

class ApiError;
class Metrics;

// One model served under an alias.
struct ModelSpec {
  std::string path;
  std::string alias;  // empty: the file name without .gguf
  EngineOptions engine;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                         // 0: any free port (see port())
  size_t max_body_bytes = 8u << 20;        // larger bodies get 413
  int64_t shutdown_timeout_ms = 30'000;    // in-flight requests get this long on SIGTERM
  int http_threads = 0;                    // 0: enough for every slot and queue entry
  int64_t read_timeout_s = 30;             // slow clients are cut after this
};

// Where metering plugs in (src/moxie/server/metering's Meter, issue 7): authorize before a
// request is queued, settle once with its final record. Thread-safe implementations only.
struct GateRequest {
  std::string authorization;  // the Authorization header, empty when absent
  std::string model;
  int64_t prompt_tokens = 0;
  int64_t max_tokens = 0;
  std::string client;         // remote address
  std::string request_id;
};
class RequestGate {
 public:
  virtual ~RequestGate() = default;
  // An error to answer instead of running the request, or nothing to admit it.
  virtual std::optional<ApiError> authorize(const GateRequest& request) = 0;
  // Called once for every admitted request, after its last token (status 200) or failure.
  virtual void settle(const GateRequest& request, const RequestRecord& record, int status) = 0;
};

class HttpServer {
 public:
  // Loads every model (throws moxie::Error naming the file) and starts their engines.
  HttpServer(const std::vector<ModelSpec>& models, const ServerOptions& options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void set_gate(RequestGate* gate) { gate_ = gate; }  // not owned; null: everything admitted

  // Binds host:port; returns the port (useful with port 0). Throws moxie::Error on failure.
  int bind();
  // Serves until shutdown(); returns when every in-flight request has ended.
  void serve();
  // Graceful: refuse new generation requests (503), let running ones finish for up to
  // shutdown_timeout_ms (then cut them with an error event), stop listening. Any thread.
  void shutdown();

  int port() const { return port_; }

  // Defined in server_internal.h, for the server's own .cc files.
  struct Impl;
  struct Served;

 private:
  std::unique_ptr<Impl> impl_;
  RequestGate* gate_ = nullptr;
  int port_ = 0;
};

}  // namespace moxie::server
