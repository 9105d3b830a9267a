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
#include "moxie/cli/generation_options.h"
#include "moxie/core/error.h"
#include "moxie/server/admin_routes.h"
#include "moxie/server/default_model.h"
#include "moxie/server/http_server.h"
#include "moxie/server/meter_gate.h"
#include "moxie/server/metering/meter.h"
#include "moxie/server/metering/store.h"
#include "moxie/server/model_config_file.h"

namespace moxie::cli {
namespace {

struct ServeArgs {
  std::string model;
  std::string alias;
  server::ServerOptions server;
  EngineOptions engine;
  int64_t prefix_cache_mib = 256;
  std::string cache_type = "f16";
  bool repack = true;
  int64_t max_body_mib = 8;
  double shutdown_timeout_s = 30;
  // Metering (docs/operations.md).
  std::string config;  // models.toml
  std::string db;
  std::string auth = "off";
  std::string prices;
  std::string instance = "local";
  bool db_fsync = false;
  int64_t free_rpm = 10;
  int64_t free_tpm = 20'000;
  std::string admin_key;
  int64_t recover_interval_s = 300;
};

// The models to serve, from --config or -m, and the price sheet: --prices first, then
// the prices models.toml gives (which win for their model).
std::vector<server::ModelSpec> served_models(const ServeArgs& a, metering::PriceSheet* prices) {
  if (!a.prices.empty()) *prices = metering::PriceSheet::from_file(a.prices);
  if (a.config.empty()) {
    std::string path = a.model;
    if (path.empty()) {
      path = server::default_model_path();
      if (!std::filesystem::exists(path))
        throw Error("serve: no model given (-m FILE.gguf) and the bundled default model " + path +
                    " is not there; pass -m, or create one with `moxie synth --arch qwen3moe --preset tiny -o " + path +
                    "`");
    }
    return {{path, a.alias, a.engine, a.repack}};
  }
  if (!a.model.empty() || !a.alias.empty()) throw Error("serve: give either --config or -m/--alias, not both");
  std::vector<server::ModelSpec> specs;
  for (server::ConfiguredModel& m : server::load_model_config(a.config, a.engine)) {
    m.spec.repack = a.repack;
    if (m.price) prices->set(m.spec.alias, *m.price);
    specs.push_back(std::move(m.spec));
  }
  return specs;
}

metering::MeterOptions meter_options(const ServeArgs& a) {
  metering::MeterOptions o;
  o.auth = metering::parse_auth_mode(a.auth);
  o.free_tier_rpm = a.free_rpm;
  o.free_tier_tpm = a.free_tpm;
  o.instance = a.instance;
  if (o.instance.empty()) throw Error("--instance must not be empty");
  return o;
}

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
  a.engine.prefix_cache_bytes = a.prefix_cache_mib << 20;
  a.engine.kv_type = kv_type_from_name(a.cache_type);
  a.server.max_body_bytes = size_t(a.max_body_mib) << 20;
  a.server.shutdown_timeout_ms = int64_t(a.shutdown_timeout_s * 1000);
  const sigset_t signals = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts: they inherit it
  std::signal(SIGPIPE, SIG_IGN);                  // a client that leaves must not kill the server

  metering::PriceSheet prices;
  const std::vector<server::ModelSpec> specs = served_models(a, &prices);
  const std::string db_url = a.db.empty() ? metering::default_database_url() : a.db;
  metering::StoreOptions store_options;
  store_options.sqlite.fsync_settlements = a.db_fsync;
  metering::Store store(db_url, store_options);
  metering::Meter meter(store, std::move(prices), meter_options(a));
  const int recovered = meter.recover();  // what a killed predecessor of this --instance left open
  server::MeterGate gate(meter);
  server::StaleRecovery stale_recovery(store, meter.prices(), meter.options().stale_reservation_s, a.recover_interval_s);

  server::HttpServer srv(specs, a.server);
  srv.set_gate(&gate);
  server::add_admin_routes(srv, store, {a.admin_key, {}});
  const int port = srv.bind();
  for (const server::ModelSpec& m : specs)
    std::fprintf(stderr, "moxie: model %s (parallel %d, ctx %s)\n", m.path.c_str(), m.engine.n_parallel,
                 m.engine.n_ctx > 0 ? std::to_string(m.engine.n_ctx).c_str() : "auto");
  std::fprintf(stderr, "moxie: metering into %s (auth %s, instance %s); recovered %d interrupted request(s)\n",
               metering::is_postgres_url(db_url) ? "PostgreSQL" : db_url.c_str(), a.auth.c_str(), a.instance.c_str(),
               recovered);
  if (a.auth == "off" && a.server.host != "127.0.0.1" && a.server.host != "localhost" && a.server.host != "::1")
    std::fprintf(stderr, "moxie: warning: --auth off on %s: anyone who can reach it may use it\n", a.server.host.c_str());
  std::fprintf(stderr, "moxie: serving on http://%s:%d\n", a.server.host.c_str(), port);
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
  cmd->add_flag("--repack,!--no-repack", args->repack,
                "copy Q4_K/Q8_0 matrices into the AVX-512 kernels' interleaved layout at load, when they fit in RAM "
                "(default: on; off keeps every weight in place in the file mapping)");
  add_cache_type_option(*cmd, args->cache_type);
  cmd->add_option("--prefix-cache-mib", args->prefix_cache_mib, "memory for reusable prompt prefixes (0: off)")
      ->capture_default_str()->check(CLI::Range(int64_t(0), int64_t(1) << 30));
  cmd->add_option("--max-body-mib", args->max_body_mib, "largest request body (413 above)")
      ->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(1024)));
  cmd->add_option("--shutdown-timeout", args->shutdown_timeout_s, "seconds in-flight requests get on SIGTERM")
      ->capture_default_str()->check(CLI::Range(0.0, 3600.0));
  cmd->add_option("--config", args->config, "models.toml: several models with aliases, sizes and prices");
  cmd->add_option("--db", args->db, "metering database: SQLite file or postgresql:// URL (default: as `moxie keys`)");
  cmd->add_option("--auth", args->auth, "API keys: required, optional (free tier without) or off (metered, unlimited)")
      ->capture_default_str();
  cmd->add_option("--prices", args->prices, "JSON price sheet (docs/operations.md)");
  cmd->add_option("--instance", args->instance, "this server's name among replicas sharing --db")->capture_default_str();
  cmd->add_flag("--db-fsync", args->db_fsync, "fsync every settlement (SQLite: survives power loss)");
  cmd->add_option("--free-rpm", args->free_rpm, "free tier (--auth optional): requests per minute per client")
      ->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(1'000'000'000)));
  cmd->add_option("--free-tpm", args->free_tpm, "free tier: tokens per minute per client")
      ->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(1'000'000'000)));
  cmd->add_option("--admin-key", args->admin_key, "secret for /v1/admin/* (default: $MOXIE_ADMIN_KEY; none: off)")
      ->envname("MOXIE_ADMIN_KEY");
  cmd->add_option("--recover-interval", args->recover_interval_s, "seconds between recoveries of stale reservations")
      ->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(86400)));
  cmd->callback([args] { set_action([args] { return run_serve(*args); }); });
}

}  // namespace moxie::cli
