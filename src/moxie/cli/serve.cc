// `moxie serve`: the OpenAI-compatible HTTP server (see docs/serving.md).
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <pthread.h>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include "moxie/cli/commands.h"
#include "moxie/core/error.h"
#include "moxie/server/default_model.h"
#include "moxie/server/http_server.h"

namespace moxie::cli {
namespace {

struct ServeArgs {
  std::string model;
  std::string alias;
  server::ServerOptions server;
  EngineOptions engine;
  int64_t prefix_cache_mib = 256;
  int64_t max_body_mib = 8;
  double shutdown_timeout_s = 30;
};

// SIGTERM and SIGINT are blocked in every thread and taken by one waiting thread, which
// starts the graceful shutdown; serve() then returns once in-flight requests are done.
sigset_t shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

int run_serve(ServeArgs& a) {
  std::string path = a.model;
  if (path.empty()) {
    path = server::kDefaultModelPath;
    if (!std::filesystem::exists(path))
      throw Error("serve: no model given (-m FILE.gguf) and the bundled default model " + path +
                  " is not there; pass -m, or create one with `moxie synth --arch qwen3moe --preset tiny -o " + path +
                  "`");
  }
  a.engine.prefix_cache_bytes = a.prefix_cache_mib << 20;
  a.server.max_body_bytes = size_t(a.max_body_mib) << 20;
  a.server.shutdown_timeout_ms = int64_t(a.shutdown_timeout_s * 1000);
  const sigset_t signals = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts: they inherit it
  std::signal(SIGPIPE, SIG_IGN);                  // a client that leaves must not kill the server

  server::HttpServer srv({{path, a.alias, a.engine}}, a.server);
  const int port = srv.bind();
  std::fprintf(stderr, "moxie: serving %s on http://%s:%d (parallel %d, ctx %s)\n", path.c_str(), a.server.host.c_str(),
               port, a.engine.n_parallel, a.engine.n_ctx > 0 ? std::to_string(a.engine.n_ctx).c_str() : "auto");
  std::atomic<bool> served{false};
  std::thread waiter([&srv, &served, signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (served) return;  // our own wake-up below: serve() ended by itself
    std::fprintf(stderr, "moxie: %s, shutting down\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    srv.shutdown();
  });
  srv.serve();
  srv.shutdown();
  served = true;
  pthread_kill(waiter.native_handle(), SIGTERM);  // wakes a waiter still in sigwait (blocked: stays pending otherwise)
  waiter.join();
  std::fprintf(stderr, "moxie: stopped\n");
  return 0;
}

}  // namespace

void register_serve(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  args->engine.n_ctx = 0;
  auto* cmd = app.add_subcommand("serve", "Serve a model over an OpenAI-compatible HTTP API");
  cmd->add_option("-m,--model", args->model, std::string("GGUF model file (default: ") + server::kDefaultModelPath + ")");
  cmd->add_option("--alias", args->alias, "model name in the API (default: the file name)");
  cmd->add_option("--host", args->server.host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", args->server.port, "port (0: any free one)")->capture_default_str()->check(CLI::Range(0, 65535));
  cmd->add_option("--parallel", args->engine.n_parallel, "sequences computed at once (KV cache slots)")
      ->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--ctx-size", args->engine.n_ctx, "tokens per sequence (default: min(4096, training context))")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 24));
  cmd->add_option("--queue", args->engine.max_queue, "requests waiting for a slot before 503")
      ->capture_default_str()->check(CLI::Range(int64_t(0), int64_t(100000)));
  cmd->add_option("--batch-tokens", args->engine.step_tokens, "most tokens in one forward pass")
      ->capture_default_str()->check(CLI::Range(int64_t(2), int64_t(1) << 20));
  cmd->add_option("--prefill-chunk", args->engine.prefill_chunk, "most prompt tokens of one sequence per pass")
      ->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  cmd->add_option("-t,--threads", args->engine.n_threads, "compute threads (0: all hardware threads)")
      ->capture_default_str()->check(CLI::Range(0, 4096));
  cmd->add_option("--prefix-cache-mib", args->prefix_cache_mib, "memory for reusable prompt prefixes (0: off)")
      ->capture_default_str()->check(CLI::Range(int64_t(0), int64_t(1) << 30));
  cmd->add_option("--max-body-mib", args->max_body_mib, "largest request body (413 above)")
      ->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(1024)));
  cmd->add_option("--shutdown-timeout", args->shutdown_timeout_s, "seconds in-flight requests get on SIGTERM")
      ->capture_default_str()->check(CLI::Range(0.0, 3600.0));
  cmd->callback([args] { set_action([args] { return run_serve(*args); }); });
}

}  // namespace moxie::cli
