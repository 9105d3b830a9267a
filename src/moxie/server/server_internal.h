#pragma once
// HttpServer's internals, shared by http_server.cc and generate_route.cc only (they are
// the only files that include cpp-httplib).
#include <httplib.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "moxie/runtime/engine.h"
#include "moxie/runtime/loaded_model.h"
#include "moxie/server/api_error.h"
#include "moxie/server/http_server.h"
#include "moxie/server/metrics.h"

namespace moxie::server {

struct HttpServer::Served {
  std::string alias;
  std::unique_ptr<LoadedModel> model;
  std::unique_ptr<Engine> engine;
  int64_t created = 0;          // Unix seconds when loaded
  std::mutex template_mu;       // LoadedModel parses its chat template lazily, once
};

struct HttpServer::Impl {
  HttpServer* owner = nullptr;
  ServerOptions options;
  httplib::Server http;
  std::vector<std::unique_ptr<Served>> models;
  Metrics metrics;
  std::atomic<bool> draining{false};
  std::atomic<uint64_t> next_request{1};
  bool bound = false;

  Served* find_model(const std::string& name);  // empty: the first; null when unknown
  void add_routes();
  void handle_generate(const httplib::Request& req, httplib::Response& res, bool chat);
  void handle_tokenize(const httplib::Request& req, httplib::Response& res);
  void handle_detokenize(const httplib::Request& req, httplib::Response& res);
  std::string render_metrics();
};

void send_json(httplib::Response& res, int status, const std::string& body);
void send_error(httplib::Response& res, const ApiError& e);

}  // namespace moxie::server
