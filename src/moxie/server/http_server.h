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
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "moxie/runtime/engine.h"

namespace moxie {
class LoadedModel;
}

namespace moxie::server {

class Metrics;

// One model served under an alias.
struct ModelSpec {
  std::string path;
  std::string alias;  // empty: the file name without .gguf
  EngineOptions engine;
  bool repack = true;  // ModelOptions::repack (moxie serve --no-repack turns it off)
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                         // 0: any free port (see port())
  size_t max_body_bytes = 8u << 20;        // larger bodies get 413
  int64_t shutdown_timeout_ms = 30'000;    // in-flight requests get this long on SIGTERM
  int http_threads = 0;                    // 0: enough for every slot and queue entry
  int64_t read_timeout_s = 30;             // slow clients are cut after this
};

// Where metering plugs in (src/moxie/server/meter_gate.h adapts metering::Meter, issue 7):
// authorize before a request is queued, settle once with its final record before the final
// usage is sent. Thread-safe implementations only.
struct GateRequest {
  std::string authorization;  // the Authorization header, empty when absent
  std::string model;
  int64_t prompt_tokens = 0;
  int64_t max_tokens = 0;
  std::string client;         // remote address
  std::string request_id;
};
// What is answered instead of running a refused request.
struct GateRefusal {
  int status = 0;             // 401, 402, 403, 429, 503
  std::string body;           // OpenAI error JSON
  int64_t retry_after_s = 0;  // > 0: sent as Retry-After
};
class RequestGate {
 public:
  virtual ~RequestGate() = default;
  // A refusal to answer instead of running the request, or nothing to admit it.
  virtual std::optional<GateRefusal> authorize(const GateRequest& request) = 0;
  // Called once for every admitted request, after its last token (status 200), failure
  // (5xx, 400) or the client leaving (499), and before the final usage is sent. Returns
  // the cost in nano-dollars that the usage reports, or nothing when no price is known.
  virtual std::optional<int64_t> settle(const GateRequest& request, const RequestRecord& record, int status) = 0;
  // For routes that spend nothing (GET /v1/models): a refusal (401) when the caller's key
  // is missing where one is required, or is malformed, unknown, revoked or expired.
  virtual std::optional<GateRefusal> authenticate(const std::string& /*authorization*/) { return std::nullopt; }
  // The model's price as a JSON object for /v1/models' "pricing"; empty when unknown.
  virtual std::string pricing_json(const std::string& /*model*/) const { return {}; }
};

// A plain GET route added from outside the server (the admin and usage endpoints), so
// that its handler needs no HTTP library: the query parameters in order, the answer.
struct RouteRequest {
  std::string authorization;
  std::vector<std::pair<std::string, std::string>> params;
  std::string client;  // remote address
};
struct RouteResponse {
  int status = 200;
  std::string body;           // JSON
  int64_t retry_after_s = 0;  // > 0: sent as Retry-After
};
using GetRoute = std::function<RouteResponse(const RouteRequest&)>;

class HttpServer {
 public:
  // Loads every model (throws moxie::Error naming the file) and starts their engines.
  HttpServer(const std::vector<ModelSpec>& models, const ServerOptions& options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void set_gate(RequestGate* gate) { gate_ = gate; }  // not owned; null: everything admitted
  // Adds GET `path` (literal) before serve(); a handler's exception becomes a 500 error body.
  void add_get_route(const std::string& path, GetRoute handler);

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
  int listen_fd_ = -1;  // owned by cpp-httplib
};

}  // namespace moxie::server
