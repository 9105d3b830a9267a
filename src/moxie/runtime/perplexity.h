#pragma once
// Perplexity over a token stream, the way llama.cpp's llama-perplexity computes it, so the
// figures can be compared directly:
//
//   the tokens are cut into n_window = floor(n_tokens / n_ctx) windows of n_ctx tokens
//   (a shorter tail is dropped); each window runs from an empty cache, with its first
//   token replaced by BOS when bos_id >= 0 (llama.cpp does so when the vocabulary adds
//   BOS). In window w, starting at token s = w * n_ctx, the positions
//   j = n_ctx/2 .. n_ctx-2 are scored: nll_j = -log softmax(logits_j)[tokens[s + j + 1]],
//   so every scored token has at least n_ctx/2 tokens of context; that is
//   n_ctx - 1 - n_ctx/2 tokens per window.
//
//   ppl    = exp(mean nll over all scored tokens)
//   stderr = ppl * sqrt((mean(nll^2) - mean(nll)^2) / (count - 1))   (llama.cpp's "+/-")
//
// log softmax is computed in double precision from the f32 logits.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "moxie/core/dtype.h"

namespace moxie {

class Model;
class ThreadPool;

struct PerplexityOptions {
  int64_t n_ctx = 512;       // window size, >= 2
  int32_t bos_id = -1;       // >= 0: the first token of each window becomes BOS
  int64_t max_windows = -1;  // -1: all
  int64_t batch = 512;       // tokens per forward pass
  DType kv_type = DType::F32;  // KV cache elements (Model::kv_shape)
};

struct PerplexityWindow {
  double nll_sum = 0;   // over this window's scored tokens
  int64_t n_scored = 0;
  double running_ppl = 0;  // exp(mean nll) over all windows so far, as llama.cpp prints [i]x
};

struct PerplexityResult {
  std::vector<PerplexityWindow> windows;
  int64_t n_scored = 0;
  double mean_nll = 0;
  double ppl = 0;
  double ppl_stderr = 0;  // 0 when fewer than 2 tokens were scored
};

// Throws moxie::Error when the text is shorter than 2 windows (as llama-perplexity
// requires) or an option is out of range. on_window is called after each window.
PerplexityResult compute_perplexity(const Model& model, ThreadPool& pool, std::span<const int32_t> tokens,
                                    const PerplexityOptions& options,
                                    const std::function<void(int64_t window, int64_t n_windows,
                                                             const PerplexityWindow&)>& on_window = {});

// -log softmax(logits)[target], in double precision.
double negative_log_likelihood(std::span<const float> logits, int32_t target);

}  // namespace moxie
