#include "moxie/server/http_server.h"

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "moxie/model/model.h"
#include "moxie/server/openai_request.h"
#include "moxie/server/openai_response.h"
#include "moxie/server/server_internal.h"
#include "moxie/server/web_assets.h"
#include "moxie/tokenizer/stream_decoder.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie::server {
namespace {

using nlohmann::json;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

constexpr int64_t kDefaultCtx = 4096;

}  // namespace

void send_json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) { send_json(res, e.status(), e.to_json()); }

HttpServer::Served* HttpServer::Impl::find_model(const std::string& name) {
  if (name.empty()) return models.front().get();
  for (auto& m : models)
    if (m->alias == name) return m.get();
  return nullptr;
}

HttpServer::HttpServer(const std::vector<ModelSpec>& specs, const ServerOptions& options)
    : impl_(std::make_unique<Impl>()) {
  if (specs.empty()) throw Error("serve: no model to serve");
  impl_->owner = this;
  impl_->options = options;
  int64_t sessions = 8;
  for (const ModelSpec& spec : specs) {
    auto s = std::make_unique<Served>();
    ModelOptions model_options;
    model_options.repack = spec.repack;
    s->model = std::make_unique<LoadedModel>(LoadedModel::load(spec.path, model_options));
    s->alias = spec.alias.empty() ? std::filesystem::path(spec.path).stem().string() : spec.alias;
    for (const auto& other : impl_->models)
      if (other->alias == s->alias) throw Error("serve: two models are named '" + s->alias + "' (give each an alias)");
    EngineOptions eo = spec.engine;
    const int64_t train = s->model->model().config().n_ctx_train;
    if (eo.n_ctx <= 0) eo.n_ctx = train > 0 ? std::min(kDefaultCtx, train) : kDefaultCtx;
    s->engine = std::make_unique<Engine>(s->model->model(), s->model->tokenizer(), eo);
    s->created = unix_now();
    sessions += eo.n_parallel + eo.max_queue;
    impl_->models.push_back(std::move(s));
  }
  const int threads = options.http_threads > 0 ? options.http_threads : int(std::min<int64_t>(sessions, 1024));
  impl_->http.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  impl_->http.set_payload_max_length(options.max_body_bytes);
  impl_->http.set_read_timeout(time_t(options.read_timeout_s), 0);
  // cpp-httplib's default options add SO_REUSEPORT, which lets a second server bind a port
  // already in use (even one the kernel picks for port 0) and silently take part of its
  // connections. Keep SO_REUSEADDR only, so a taken port is an error.
  impl_->http.set_socket_options([this](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd_ = sock;  // the listening socket, for bind() below
  });
  impl_->add_routes();
}

HttpServer::~HttpServer() {
  shutdown();
}

int HttpServer::bind() {
  const int port = impl_->options.port == 0 ? impl_->http.bind_to_any_port(impl_->options.host)
                                            : (impl_->http.bind_to_port(impl_->options.host, impl_->options.port)
                                                   ? impl_->options.port
                                                   : -1);
  if (port < 0)
    throw Error("serve: cannot listen on " + impl_->options.host + ":" + std::to_string(impl_->options.port) +
                " (address in use or not available)");
  // Debian's cpp-httplib listens with a backlog of 5, compiled in: a burst of clients
  // overflows it and some connections are dropped before any handler sees them. Listening
  // again on the same socket only raises the backlog.
  if (listen_fd_ >= 0) ::listen(listen_fd_, SOMAXCONN);
  impl_->bound = true;
  port_ = port;
  return port;
}

void HttpServer::serve() {
  if (!impl_->bound) bind();
  impl_->http.listen_after_bind();
}

void HttpServer::shutdown() {
  if (impl_->draining.exchange(true)) return;
  impl_->http.stop();  // no new connections; handlers in flight keep running
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(impl_->options.shutdown_timeout_ms);
  for (auto& m : impl_->models) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    m->engine->drain(std::max<int64_t>(0, left.count()));
  }
}

void HttpServer::add_get_route(const std::string& path, GetRoute handler) {
  impl_->http.Get(path, [this, path, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    RouteRequest r{req.get_header_value("Authorization"), {}, req.remote_addr};
    for (const auto& [name, value] : req.params) r.params.emplace_back(name, value);
    try {
      const RouteResponse answer = handler(r);
      if (answer.retry_after_s > 0) res.set_header("Retry-After", std::to_string(answer.retry_after_s));
      send_json(res, answer.status, answer.body);
    } catch (const std::exception& e) {
      send_error(res, ApiError(500, e.what()));
    }
    impl_->metrics.observe_status(path, res.status);
  });
}

std::string HttpServer::Impl::render_metrics() {
  std::map<std::string, EngineStats> stats;
  for (auto& m : models) stats[m->alias] = m->engine->stats();
  return metrics.render(stats);
}

void HttpServer::Impl::handle_tokenize(const httplib::Request& req, httplib::Response& res) {
  const json b = parse_json_object(req.body);
  Served* s = find_model(b.contains("model") && b["model"].is_string() ? b["model"].get<std::string>() : "");
  if (!s) throw ApiError(404, "the model does not exist", "model", "model_not_found");
  if (!b.contains("content") || !b["content"].is_string()) throw invalid_param("content", "must be a string");
  bool add_special = false;
  if (b.contains("add_special")) {
    if (!b["add_special"].is_boolean()) throw invalid_param("add_special", "must be a boolean");
    add_special = b["add_special"].get<bool>();
  }
  tokenizer::EncodeOptions eo;
  eo.add_special = add_special;
  send_json(res, 200, json{{"tokens", s->model->tokenizer().encode(b["content"].get<std::string>(), eo)}}.dump());
}

void HttpServer::Impl::handle_detokenize(const httplib::Request& req, httplib::Response& res) {
  const json b = parse_json_object(req.body);
  Served* s = find_model(b.contains("model") && b["model"].is_string() ? b["model"].get<std::string>() : "");
  if (!s) throw ApiError(404, "the model does not exist", "model", "model_not_found");
  const tokenizer::Tokenizer& tok = s->model->tokenizer();
  if (!b.contains("tokens") || !b["tokens"].is_array()) throw invalid_param("tokens", "must be an array of token ids");
  std::vector<int32_t> ids;
  for (const json& t : b["tokens"]) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= tok.n_vocab())
      throw invalid_param("tokens", "must hold token ids between 0 and " + std::to_string(tok.n_vocab() - 1));
    ids.push_back(t.get<int32_t>());
  }
  std::string text;
  tokenizer::append_valid_utf8(tok.decode(ids), false, &text);
  send_json(res, 200, json{{"content", text}}.dump());
}

void HttpServer::Impl::add_routes() {
  // Wraps a handler: ApiError and moxie::Error become OpenAI error bodies; counted in metrics.
  auto guarded = [this](const char* endpoint, auto fn) {
    return [this, endpoint, fn](const httplib::Request& req, httplib::Response& res) {
      try {
        fn(req, res);
      } catch (const ApiError& e) {
        send_error(res, e);
      } catch (const std::exception& e) {
        send_error(res, ApiError(400, e.what()));
      }
      metrics.observe_status(endpoint, res.status);
    };
  };
  http.Post("/v1/chat/completions", [this](const httplib::Request& q, httplib::Response& r) { handle_generate(q, r, true); });
  http.Post("/v1/completions", [this](const httplib::Request& q, httplib::Response& r) { handle_generate(q, r, false); });
  http.Post("/tokenize", guarded("tokenize", [this](const auto& q, auto& r) { handle_tokenize(q, r); }));
  http.Post("/detokenize", guarded("detokenize", [this](const auto& q, auto& r) { handle_detokenize(q, r); }));
  http.Get("/v1/models", guarded("models", [this](const httplib::Request& q, httplib::Response& r) {
    // Behind the same key check as generation, so a client (the chat page) learns that a
    // key is needed before its first message.
    if (owner->gate_) {
      if (std::optional<GateRefusal> refused = owner->gate_->authenticate(q.get_header_value("Authorization"))) {
        if (refused->retry_after_s > 0) r.set_header("Retry-After", std::to_string(refused->retry_after_s));
        send_json(r, refused->status, refused->body);
        return;
      }
    }
    json data = json::array();
    for (auto& m : models) {
      json entry = {{"id", m->alias}, {"object", "model"}, {"created", m->created}, {"owned_by", "moxie"},
                    {"context_length", m->engine->options().n_ctx}};
      const std::string pricing = owner->gate_ ? owner->gate_->pricing_json(m->alias) : std::string();
      if (!pricing.empty()) entry["pricing"] = json::parse(pricing);
      data.push_back(std::move(entry));
    }
    send_json(r, 200, json{{"object", "list"}, {"data", data}}.dump());
  }));
  http.Get("/health", [this](const httplib::Request&, httplib::Response& r) {
    send_json(r, draining ? 503 : 200, json{{"status", draining ? "shutting_down" : "ok"}}.dump());
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& r) {
    r.set_content(render_metrics(), "text/plain; version=0.0.4");
  });
  auto page = [](const httplib::Request& req, httplib::Response& res) {
    WebResponse w = serve_web_asset(req.method, req.target, req.get_header_value("If-None-Match"));
    res.status = w.status;
    for (const WebHeader& h : w.headers) res.set_header(std::string(h.name), std::string(h.value));
    res.body = std::string(w.body);
  };
  http.Get("/", page);
  http.Get(R"(/[A-Za-z0-9._-]+)", page);
  // Errors httplib raises itself (413, 404 for unknown routes, 400 for broken HTTP) get OpenAI's shape too.
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string what = res.status == 413 ? "the request body is too large"
                             : res.status == 404 ? "no route for " + req.method + " " + req.path
                                                 : "the request could not be read";
    send_error(res, ApiError(res.status, what, {}, res.status == 413 ? "request_too_large" : ""));
  });
}

}  // namespace moxie::server
