// moxie perplexity -m FILE.gguf -f TEXT [-c 512] [--chunks N] [-b 512] [-t N] [--json]
// Perplexity of the model over a text file, computed as llama-perplexity does (see
// runtime/perplexity.h): windows of -c tokens, the second half of each scored. Prints the
// running estimate per window ("[1]12.3456,[2]...") and "Final estimate: PPL = x +/- y",
// with a progress bar on stderr. --json prints one object instead (token ids included).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "moxie/cli/commands.h"
#include "moxie/cli/generation_options.h"
#include "moxie/cli/progress_bar.h"
#include "moxie/core/error.h"
#include "moxie/core/thread_pool.h"
#include "moxie/model/model.h"
#include "moxie/runtime/loaded_model.h"
#include "moxie/runtime/perplexity.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie::cli {
namespace {

struct PerplexityArgs {
  ModelArgs model;
  std::string text_path;
  int64_t chunks = -1;
  int64_t batch = 512;
  bool json = false;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("perplexity: cannot open the text file '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void print_json(const PerplexityOptions& o, const std::vector<int32_t>& tokens, const PerplexityResult& r) {
  nlohmann::ordered_json windows = nlohmann::ordered_json::array();
  for (const PerplexityWindow& w : r.windows) {
    windows.push_back({{"nll_sum", w.nll_sum}, {"n_scored", w.n_scored}, {"running_ppl", w.running_ppl}});
  }
  const nlohmann::ordered_json out = {{"n_ctx", o.n_ctx},  {"bos_id", o.bos_id},         {"tokens", tokens},
                                      {"windows", windows}, {"n_scored", r.n_scored},     {"mean_nll", r.mean_nll},
                                      {"ppl", r.ppl},       {"ppl_stderr", r.ppl_stderr}};
  std::printf("%s\n", out.dump().c_str());
}

int run_perplexity(const PerplexityArgs& a) {
  const std::string text = read_text(a.text_path);
  LoadedModel m = load_model(a.model);
  const tokenizer::Tokenizer& tok = m.tokenizer();
  const std::vector<int32_t> tokens = m.encode_text(text);
  PerplexityOptions o;
  o.n_ctx = a.model.n_ctx > 0 ? a.model.n_ctx : 512;  // llama-perplexity's default window
  o.bos_id = tok.data().add_bos ? tok.bos_id() : -1;
  o.max_windows = a.chunks;
  o.batch = a.batch;
  o.kv_type = a.model.kv_type();
  ThreadPool pool(thread_count(a.model.threads));
  std::fprintf(stderr, "perplexity: %zu tokens, %lld windows of %lld tokens, %lld scored per window\n", tokens.size(),
               (long long)(int64_t(tokens.size()) / o.n_ctx), (long long)o.n_ctx,
               (long long)(o.n_ctx - 1 - o.n_ctx / 2));
  ProgressBar bar("perplexity", stderr);
  const auto t0 = std::chrono::steady_clock::now();
  const PerplexityResult r = compute_perplexity(
      m.model(), pool, tokens, o, [&](int64_t w, int64_t n_windows, const PerplexityWindow& pw) {
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        char detail[96];
        std::snprintf(detail, sizeof detail, "window %lld/%lld, ppl %.4f, %.0f s left", (long long)(w + 1),
                      (long long)n_windows, pw.running_ppl, s / double(w + 1) * double(n_windows - w - 1));
        bar.update(double(w + 1) / double(n_windows), detail);
      });
  bar.finish();
  if (a.json) {
    print_json(o, tokens, r);
    return 0;
  }
  for (size_t i = 0; i < r.windows.size(); ++i) std::printf("[%zu]%.4f,", i + 1, r.windows[i].running_ppl);
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_stderr);
  return 0;
}

}  // namespace

void register_perplexity(CLI::App& app) {
  auto* cmd = app.add_subcommand("perplexity", "Perplexity over a text file (llama-perplexity's method)");
  auto args = std::make_shared<PerplexityArgs>();
  add_model_options(*cmd, args->model, false);
  cmd->get_option("--ctx")->description("window size in tokens (default: 512)");
  cmd->add_option("-f,--file", args->text_path, "text file")->required();
  cmd->add_option("--chunks", args->chunks, "score at most this many windows (-1: all)")->capture_default_str();
  cmd->add_option("-b,--batch", args->batch, "tokens per forward pass")->capture_default_str();
  cmd->add_flag("--json", args->json, "print one JSON object (token ids, per-window sums, ppl)");
  cmd->callback([args] { set_action([args] { return run_perplexity(*args); }); });
}

}  // namespace moxie::cli
