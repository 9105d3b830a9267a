// `moxie eval --config run.toml`: models x tasks, side-by-side table, results JSON, chart.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "moxie/cli/commands.h"
#include "moxie/cli/progress_bar.h"
#include "moxie/core/error.h"
#include "moxie/eval/run_config.h"
#include "moxie/eval/run_eval.h"

namespace moxie::cli {
namespace {

std::string duration_text(double s) {
  if (s < 0) return "?";
  const long t = long(s + 0.5);
  char buf[32];
  if (t >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  }
  return buf;
}

int run_eval_command(const std::string& config_path, int threads) {
  eval::RunConfig config = eval::load_run_config(config_path);
  if (threads > 0) config.threads = threads;
  ProgressBar bar("eval");
  const eval::EvalOutcome o = eval::run_eval(config, [&](const eval::Progress& p) {
    bar.update(p.total ? double(p.done) / double(p.total) : 1.0,
               std::to_string(p.done) + "/" + std::to_string(p.total) + " " + p.model + " " + p.task +
                   "  ETA " + duration_text(p.eta_s));
  });
  bar.finish();
  std::cout << o.table;
  std::cout << "results: " << o.results_path << "\n";
  if (o.chart_path.empty()) {
    std::cerr << "chart not drawn: " << o.chart_error << "\n";
  } else {
    std::cout << "chart: " << o.chart_path << "\n";
  }
  return 0;
}

}  // namespace

void register_eval(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("eval", "Compare models on tasks: scores, tokens, speed and cost (see docs/eval.md)");
  static std::string config_path;
  static int threads = 0;
  sub->add_option("--config", config_path, "run config (TOML): [[models]] and [[tasks]]")->required();
  sub->add_option("--threads", threads, "threads for local models (overrides the config; 0: keep)");
  sub->callback([] { set_action([] { return run_eval_command(config_path, threads); }); });
}

}  // namespace moxie::cli
