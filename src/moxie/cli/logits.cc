// moxie logits MODEL.gguf (--tokens 1,2,3 | --prompt TEXT) [--out F.f32] [--all]
//              [--expert-stats] [--ctx N] [-t N]
// Runs one forward pass over the prompt and prints, per position, the greedy next token;
// for the last position the top logits too. --out writes the logits as raw little-endian
// float32 [n_positions][n_vocab] (all positions with --all, else the last one), the format
// tools/ref's `python -m models --out X.f32` writes, for diffing against the reference.
// --expert-stats prints how many tokens each routed expert of each layer processed.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "moxie/cli/commands.h"
#include "moxie/core/cpu_features.h"
#include "moxie/core/error.h"
#include "moxie/core/thread_pool.h"
#include "moxie/model/expert_stats.h"
#include "moxie/model/model.h"
#include "moxie/tokenizer/gguf_tokenizer.h"
#include "moxie/tokenizer/tokenizer.h"

namespace moxie::cli {
namespace {

struct LogitsArgs {
  std::string model, tokens, prompt, out;
  bool all = false, expert_stats = false;
  int64_t ctx = 0;
  int threads = 0;
};

std::vector<int32_t> parse_tokens(const std::string& text) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    if (!item.empty()) {
      size_t used = 0;
      long long v = 0;
      try {
        v = std::stoll(item, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != item.size() || v < 0 || v > INT32_MAX) throw Error("logits: --tokens: \"" + item + "\" is not a token id");
      ids.push_back(int32_t(v));
    }
    start = comma + 1;
  }
  if (ids.empty()) throw Error("logits: --tokens is empty");
  return ids;
}

std::vector<int32_t> prompt_ids(const LogitsArgs& a, const Model& m) {
  if (!a.tokens.empty()) return parse_tokens(a.tokens);
  const tokenizer::Tokenizer tok(tokenizer::load_gguf_tokenizer(m.file()));
  std::vector<int32_t> ids = tok.encode(a.prompt);
  if (ids.empty()) throw Error("logits: the prompt encodes to no tokens");
  return ids;
}

void print_top(const float* logits, int64_t n_vocab, int n_top) {
  std::vector<int32_t> order(static_cast<size_t>(n_vocab));
  std::iota(order.begin(), order.end(), 0);
  n_top = int(std::min<int64_t>(n_top, n_vocab));
  std::partial_sort(order.begin(), order.begin() + n_top, order.end(),
                    [&](int32_t x, int32_t y) { return logits[x] > logits[y] || (logits[x] == logits[y] && x < y); });
  std::printf("top %d of the last position:", n_top);
  for (int i = 0; i < n_top; ++i) std::printf(" %d (%.5f)", order[size_t(i)], double(logits[order[size_t(i)]]));
  std::printf("\n");
}

void write_f32(const std::string& path, const std::vector<float>& data) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw Error("logits: cannot write " + path);
  const size_t n = std::fwrite(data.data(), sizeof(float), data.size(), f);
  const bool ok = std::fclose(f) == 0 && n == data.size();
  if (!ok) throw Error("logits: writing " + path + " failed");
}

int run_logits(const LogitsArgs& a) {
  if (a.tokens.empty() == a.prompt.empty()) throw Error("logits: give exactly one of --tokens and --prompt");
  const std::unique_ptr<Model> model = Model::open(a.model);
  const ModelConfig& c = model->config();
  const std::vector<int32_t> ids = prompt_ids(a, *model);
  KvCache kv = model->make_kv_cache(1, a.ctx > 0 ? a.ctx : std::min<int64_t>(c.n_ctx_train, int64_t(ids.size())));
  ThreadPool pool(a.threads > 0 ? a.threads : physical_core_count());
  ForwardContext ctx(pool);
  ExpertStats stats(c.n_layer, std::max<int64_t>(c.moe.n_expert, 1));
  if (a.expert_stats) ctx.expert_stats = &stats;

  Batch batch;
  for (size_t i = 0; i < ids.size(); ++i) batch.add(ids[i], 0, int64_t(i), true);
  std::vector<float> logits(size_t(batch.n_logits() * c.n_vocab));
  model->forward(batch, kv, ctx, logits.data());

  std::printf("argmax:");
  for (size_t i = 0; i < ids.size(); ++i) {
    const float* row = logits.data() + i * size_t(c.n_vocab);
    std::printf("%s%lld", i ? "," : " ", (long long)(std::max_element(row, row + c.n_vocab) - row));
  }
  std::printf("\n");
  const float* last = logits.data() + (ids.size() - 1) * size_t(c.n_vocab);
  print_top(last, c.n_vocab, 5);
  if (a.expert_stats) {
    if (c.is_moe()) {
      std::printf("expert hits (tokens per expert):\n%s", stats.to_text().c_str());
    } else {
      std::printf("expert hits: none (%s is a dense model)\n", arch_name(c.arch));
    }
  }
  if (!a.out.empty()) {
    write_f32(a.out, a.all ? logits : std::vector<float>(last, last + c.n_vocab));
  }
  return 0;
}

}  // namespace

void register_logits(CLI::App& app) {
  auto* cmd = app.add_subcommand("logits", "Run one forward pass over a prompt and print or save the logits");
  auto args = std::make_shared<LogitsArgs>();
  cmd->add_option("model", args->model, "GGUF model file")->required();
  cmd->add_option("--tokens", args->tokens, "comma-separated token ids");
  cmd->add_option("--prompt", args->prompt, "text, encoded with the model's tokenizer");
  cmd->add_option("--out", args->out, "write logits as raw float32 (the last position, or all with --all)");
  cmd->add_flag("--all", args->all, "--out writes every position's logits");
  cmd->add_flag("--expert-stats", args->expert_stats, "print per-layer expert hit counts");
  cmd->add_option("--ctx", args->ctx, "KV cache tokens (default: the prompt length)");
  cmd->add_option("-t,--threads", args->threads, "threads (default: physical cores)");
  cmd->callback([args] { set_action([args] { return run_logits(*args); }); });
}

}  // namespace moxie::cli
