#include "moxie/runtime/perplexity.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "moxie/core/error.h"
#include "moxie/model/model.h"

namespace moxie {
namespace {

void check_options(const Model& model, std::span<const int32_t> tokens, const PerplexityOptions& o) {
  if (o.n_ctx < 2) throw Error("perplexity: the window (--ctx) must be at least 2 tokens, got " + std::to_string(o.n_ctx));
  if (o.batch < 1) throw Error("perplexity: the batch must be at least 1 token, got " + std::to_string(o.batch));
  if (o.max_windows == 0 || o.max_windows < -1) {
    throw Error("perplexity: the number of windows must be positive, got " + std::to_string(o.max_windows));
  }
  if (int64_t(tokens.size()) < 2 * o.n_ctx) {
    throw Error("perplexity: the text has " + std::to_string(tokens.size()) + " tokens; at least 2 windows of " +
                std::to_string(o.n_ctx) + " tokens (" + std::to_string(2 * o.n_ctx) +
                ") are needed (use a longer text or a smaller --ctx)");
  }
  if (o.bos_id >= model.config().n_vocab) throw Error("perplexity: BOS id " + std::to_string(o.bos_id) + " is out of range");
}

struct NllSums {
  double sum = 0;     // of the scored tokens' nll
  double sum_sq = 0;  // of their squares, for the standard error
};

// Runs one window from an empty cache and scores its second half.
NllSums window_nll(const Model& model, KvCache& kv, ForwardContext& ctx, std::span<const int32_t> window,
                  const PerplexityOptions& o, std::vector<float>& logits) {
  const int64_t n_ctx = o.n_ctx, first = n_ctx / 2, n_vocab = model.config().n_vocab;
  kv.reset(0);
  Batch batch;
  NllSums nll;
  for (int64_t begin = 0; begin < n_ctx; begin += o.batch) {
    const int64_t end = std::min(n_ctx, begin + o.batch);
    batch.clear();
    for (int64_t j = begin; j < end; ++j) {
      const int32_t token = (j == 0 && o.bos_id >= 0) ? o.bos_id : window[size_t(j)];
      batch.add(token, 0, j, j >= first && j < n_ctx - 1);
    }
    logits.resize(size_t(std::max<int64_t>(batch.n_logits(), 1) * n_vocab));
    model.forward(batch, kv, ctx, logits.data());
    int64_t row = 0;
    for (int64_t j = std::max(begin, first); j < std::min(end, n_ctx - 1); ++j, ++row) {
      const double v = negative_log_likelihood(
          std::span<const float>(logits.data() + row * n_vocab, size_t(n_vocab)), window[size_t(j + 1)]);
      nll.sum += v;
      nll.sum_sq += v * v;
    }
  }
  return nll;
}

}  // namespace

double negative_log_likelihood(std::span<const float> logits, int32_t target) {
  if (target < 0 || size_t(target) >= logits.size()) {
    throw Error("perplexity: token " + std::to_string(target) + " is outside the model's " +
                std::to_string(logits.size()) + " logits");
  }
  const double max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(double(l) - max);
  return -(double(logits[size_t(target)]) - max - std::log(sum));
}

PerplexityResult compute_perplexity(const Model& model, ThreadPool& pool, std::span<const int32_t> tokens,
                                    const PerplexityOptions& o,
                                    const std::function<void(int64_t, int64_t, const PerplexityWindow&)>& on_window) {
  check_options(model, tokens, o);
  int64_t n_windows = int64_t(tokens.size()) / o.n_ctx;
  if (o.max_windows > 0) n_windows = std::min(n_windows, o.max_windows);
  KvCache kv = model.make_kv_cache(1, o.n_ctx, o.kv_type);
  ForwardContext ctx(pool);
  std::vector<float> logits;
  PerplexityResult r;
  double nll_total = 0, nll2_total = 0;  // sum of nll and of nll^2 over scored tokens
  for (int64_t w = 0; w < n_windows; ++w) {
    const std::span<const int32_t> window = tokens.subspan(size_t(w * o.n_ctx), size_t(o.n_ctx));
    PerplexityWindow pw;
    pw.n_scored = o.n_ctx - 1 - o.n_ctx / 2;
    const NllSums nll = window_nll(model, kv, ctx, window, o, logits);
    pw.nll_sum = nll.sum;
    nll_total += nll.sum;
    nll2_total += nll.sum_sq;
    r.n_scored += pw.n_scored;
    pw.running_ppl = std::exp(nll_total / double(r.n_scored));
    r.windows.push_back(pw);
    if (on_window) on_window(w, n_windows, pw);
  }
  r.mean_nll = nll_total / double(r.n_scored);
  r.ppl = std::exp(r.mean_nll);
  const double variance = nll2_total / double(r.n_scored) - r.mean_nll * r.mean_nll;
  if (r.n_scored > 1 && variance > 0) r.ppl_stderr = r.ppl * std::sqrt(variance / double(r.n_scored - 1));
  return r;
}

}  // namespace moxie
