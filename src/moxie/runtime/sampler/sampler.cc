#include "moxie/runtime/sampler/sampler.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <string>

#include "moxie/core/error.h"
#include "moxie/core/random.h"
#include "moxie/kernels/api.h"

namespace moxie {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// The draw sums its weights per block, then walks one block element by element.
constexpr int64_t kDrawBlock = 1024;
// Below this many candidates the nucleus search sorts instead of selecting further.
constexpr size_t kSortBelow = 32;

void require(bool ok, const std::string& what) {
  if (!ok) throw Error("sampling parameter " + what);
}

// The ranking every truncation keeps a prefix of: higher logit first, lower id first on ties.
template <class C>
bool ranks_before(const C& a, const C& b) {
  return a.logit != b.logit ? a.logit > b.logit : a.token < b.token;
}

// top-p: the length m of the shortest prefix of the ranking whose probabilities p sum to at
// least `mass`; reorders pool so that pool[0, m) holds it. Quickselect on the running mass,
// expected O(n): [0, lo) always ranks above [lo, hi), and [hi, n) below.
template <class C>
size_t nucleus_size(std::vector<C>& pool, double mass) {
  size_t lo = 0, hi = pool.size();
  double above = 0;  // the probability of pool[0, lo)
  while (hi - lo > kSortBelow) {
    const size_t mid = lo + (hi - lo) / 2;
    std::nth_element(pool.begin() + lo, pool.begin() + mid, pool.begin() + hi, ranks_before<C>);
    double upper = 0;
    for (size_t i = lo; i < mid; ++i) upper += pool[i].p;
    if (above + upper >= mass) {
      hi = mid;  // the prefix ends inside [lo, mid]
    } else {
      above += upper;
      lo = mid;
    }
  }
  std::sort(pool.begin() + lo, pool.begin() + hi, ranks_before<C>);
  for (size_t i = lo; i < hi; ++i) {
    above += pool[i].p;
    if (above >= mass) return i + 1;
  }
  return hi;  // rounding left the mass just short: keep everything up to hi
}

// Eight independent float accumulators, so the sum is not one long dependency chain.
double sum_floats(const float* x, int64_t n) {
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += x[i + j];
  double sum = 0;
  for (; i < n; ++i) sum += x[i];
  for (float a : acc) sum += a;
  return sum;
}

// The first index whose running sum of w exceeds u * sum(w), u in [0, 1); -1 when every
// weight is zero. Rounding between the block sums and the element walk can only carry the
// walk a few elements on, and at worst it returns the last positive weight.
int64_t walk_weights(const float* w, int64_t n, double u, std::vector<double>& block_sums) {
  const int64_t n_blocks = (n + kDrawBlock - 1) / kDrawBlock;
  block_sums.resize(size_t(n_blocks));
  double total = 0;
  for (int64_t b = 0; b < n_blocks; ++b)
    total += block_sums[size_t(b)] = sum_floats(w + b * kDrawBlock, std::min(kDrawBlock, n - b * kDrawBlock));
  if (!(total > 0)) return -1;
  double target = u * total;
  int64_t start = 0;
  for (int64_t b = 0; b + 1 < n_blocks && target >= block_sums[size_t(b)]; ++b) {
    target -= block_sums[size_t(b)];
    start += kDrawBlock;
  }
  int64_t last_positive = -1;
  for (int64_t i = start; i < n; ++i) {
    if (!(w[i] > 0)) continue;
    last_positive = i;
    target -= w[i];
    if (target < 0) return i;
  }
  for (int64_t i = start - 1; last_positive < 0 && i >= 0; --i)
    if (w[i] > 0) last_positive = i;
  return last_positive;
}

}  // namespace

Sampler::Sampler(const SamplingParams& p, int32_t n_vocab)
    : params_(p), n_vocab_(n_vocab), rng_state_(p.seed), counts_(size_t(n_vocab > 0 ? n_vocab : 0), 0) {
  require(n_vocab > 0, "n_vocab must be positive");
  require(std::isfinite(p.temperature) && p.temperature >= 0.0f, "temperature must be >= 0");
  require(p.top_k >= 0, "top_k must be >= 0");
  require(p.top_p > 0.0f && p.top_p <= 1.0f, "top_p must be in (0, 1]");
  require(p.min_p >= 0.0f && p.min_p <= 1.0f, "min_p must be in [0, 1]");
  require(std::isfinite(p.repeat_penalty) && p.repeat_penalty > 0.0f, "repeat_penalty must be > 0");
  require(p.repeat_last_n >= -1, "repeat_last_n must be >= -1");
  require(std::isfinite(p.presence_penalty), "presence_penalty must be finite");
  require(std::isfinite(p.frequency_penalty), "frequency_penalty must be finite");
  require(p.n_top_logprobs >= 0 && p.n_top_logprobs <= n_vocab, "top_logprobs must be in [0, n_vocab]");
  for (const auto& [token, bias] : p.logit_bias) {
    require(token >= 0 && token < n_vocab, "logit_bias names token " + std::to_string(token) + " outside the vocabulary");
    require(!std::isnan(bias), "logit_bias for token " + std::to_string(token) + " is NaN");
  }
}

SampledToken Sampler::sample(std::span<const float> logits, std::span<const int32_t> history, LogitMask* mask) {
  if (int64_t(logits.size()) != n_vocab_) {
    throw Error("sampler: got " + std::to_string(logits.size()) + " logits for a vocabulary of " + std::to_string(n_vocab_));
  }
  const bool penalise = (params_.repeat_penalty != 1.0f || params_.presence_penalty != 0.0f ||
                         params_.frequency_penalty != 0.0f) && !history.empty();
  const bool raw = !mask && params_.logit_bias.empty() && !penalise;  // the chain edits nothing
  if (raw) {
    chain_ = logits;  // read in place: every reader below treats NaN as never drawn
  } else {
    prepare(logits, history, mask);
    chain_ = work_;
  }
  const int64_t best = kernels::active().argmax(chain_.data(), n_vocab_);  // the first of equals (NaN skipped)
  SampledToken out;
  const float max = chain_[size_t(best)];
  std::optional<double> log_z;
  if (params_.temperature <= 0.0f || max == std::numeric_limits<float>::infinity()) {
    out.token = int32_t(best);  // greedy, or a bias of +inf forcing a token
  } else {
    if (!std::isfinite(max)) throw Error("sampler: every token's logit is -inf or NaN");
    Candidate last_kept{};
    const bool cut = find_cut(best, &last_kept);
    out.token = draw(max, cut ? &last_kept : nullptr);
    // The chain changed nothing (the OpenAI defaults): the draw's probabilities are the raw
    // softmax, whose value at the top token gives the logprobs' normaliser for free.
    if (raw && !cut && params_.temperature == 1.0f) log_z = double(max) - std::log(double(scratch_[size_t(best)]));
  }
  fill_logprobs(logits, out, log_z);
  return out;
}

// work_ = the logits the chain sees: NaN as -inf (never drawn), masked, biased, penalised.
void Sampler::prepare(std::span<const float> logits, std::span<const int32_t> history, LogitMask* mask) {
  work_.resize(logits.size());
  for (size_t t = 0; t < logits.size(); ++t) work_[t] = std::isnan(logits[t]) ? kNegInf : logits[t];
  if (mask) mask->apply(work_);
  apply_bias_and_penalties(history);
}

void Sampler::apply_bias_and_penalties(std::span<const int32_t> history) {
  for (const auto& [token, bias] : params_.logit_bias) work_[size_t(token)] += bias;
  const bool penalise = params_.repeat_penalty != 1.0f || params_.presence_penalty != 0.0f ||
                        params_.frequency_penalty != 0.0f;
  if (!penalise || history.empty()) return;
  size_t window = history.size();
  if (params_.repeat_last_n >= 0) window = std::min(window, size_t(params_.repeat_last_n));
  const auto recent = history.subspan(history.size() - window);
  for (int32_t t : recent) {
    if (t >= 0 && t < n_vocab_) counts_[t]++;
  }
  for (int32_t t : recent) {
    if (t < 0 || t >= n_vocab_ || counts_[t] == 0) continue;
    float& logit = work_[size_t(t)];
    logit = logit > 0 ? logit / params_.repeat_penalty : logit * params_.repeat_penalty;
    logit -= params_.presence_penalty + params_.frequency_penalty * float(counts_[t]);
    counts_[t] = 0;  // each distinct token is penalised once; also leaves counts_ zeroed
  }
}

// top-k, then min-p and top-p on the probabilities at temperature 1 within what top-k kept
// (temperature comes last in the chain). Each keeps a prefix of the ranking, so the result
// is one prefix, described by its lowest-ranked token.
bool Sampler::find_cut(int64_t best, Candidate* last_kept) {
  const bool top_k = params_.top_k > 0 && params_.top_k < n_vocab_;
  if (!top_k && params_.top_p >= 1.0f && params_.min_p <= 0.0f) return false;
  if (top_k) {
    pool_top_k();
  } else {
    pool_by_probability(best);
  }
  if (params_.min_p > 0.0f) {  // keep p >= min_p * p_max; the top token always stays (min_p <= 1)
    float p_max = 0;
    for (const Candidate& c : candidates_) p_max = std::max(p_max, c.p);
    const double floor = double(params_.min_p) * double(p_max);
    std::erase_if(candidates_, [&](const Candidate& c) { return double(c.p) < floor; });
  }
  if (params_.top_p < 1.0f) candidates_.resize(nucleus_size(candidates_, double(params_.top_p)));
  *last_kept = *std::max_element(candidates_.begin(), candidates_.end(), ranks_before<Candidate>);
  return true;
}

// The top_k best-ranked finite tokens, by one pass with a heap whose front is the worst kept
// (a later token with an equal logit ranks below it: only a larger logit displaces it).
void Sampler::pool_top_k() {
  const size_t k = size_t(params_.top_k);
  candidates_.clear();
  for (int32_t t = 0; t < n_vocab_; ++t) {
    const float l = chain_[size_t(t)];
    if (!(l > kNegInf)) continue;
    if (candidates_.size() < k) {
      candidates_.push_back({t, l, 0.0f});
      std::push_heap(candidates_.begin(), candidates_.end(), ranks_before<Candidate>);
    } else if (l > candidates_.front().logit) {
      std::pop_heap(candidates_.begin(), candidates_.end(), ranks_before<Candidate>);
      candidates_.back() = {t, l, 0.0f};
      std::push_heap(candidates_.begin(), candidates_.end(), ranks_before<Candidate>);
    }
  }
  scratch_.resize(candidates_.size());
  for (size_t i = 0; i < candidates_.size(); ++i) scratch_[i] = candidates_[i].logit;
  kernels::active().softmax(scratch_.data(), int64_t(scratch_.size()));
  for (size_t i = 0; i < candidates_.size(); ++i) candidates_[i].p = scratch_[i];
}

// Without top-k the pool is the whole vocabulary, but only tokens above a probability floor
// can be kept: min-p's, and for top-p (1 - top_p) / n_vocab, since the tokens below that
// hold at most 1 - top_p together, so the nucleus lies entirely above it. On a trained
// model's peaked logits that leaves a few hundred candidates instead of 151,936.
void Sampler::pool_by_probability(int64_t best) {
  scratch_.resize(size_t(n_vocab_));
  for (size_t t = 0; t < scratch_.size(); ++t) scratch_[t] = std::isnan(chain_[t]) ? kNegInf : chain_[t];
  kernels::active().softmax(scratch_.data(), n_vocab_);
  double floor = double(params_.min_p) * double(scratch_[size_t(best)]);
  if (params_.top_p < 1.0f) floor = std::max(floor, (1.0 - double(params_.top_p)) / double(n_vocab_));
  candidates_.clear();
  for (int32_t t = 0; t < n_vocab_; ++t) {
    const float l = chain_[size_t(t)];
    if (l > kNegInf && double(scratch_[size_t(t)]) >= floor) candidates_.push_back({t, l, scratch_[size_t(t)]});
  }
}

// A seeded draw from softmax((logit - max) / temperature) over the kept tokens, walked in
// token-id order (so the result depends on the kept set and the seed, not on how the set
// was found).
int32_t Sampler::draw(float max, const Candidate* last_kept) {
  const float lowest_logit = last_kept ? last_kept->logit : -FLT_MAX;
  const int32_t lowest_token = last_kept ? last_kept->token : std::numeric_limits<int32_t>::max();
  const float inv_temp = 1.0f / params_.temperature;
  scratch_.resize(size_t(n_vocab_));
  for (int32_t t = 0; t < n_vocab_; ++t) {
    const float l = chain_[size_t(t)];
    const bool kept = l > lowest_logit || (l == lowest_logit && t <= lowest_token);  // false for -inf
    scratch_[size_t(t)] = kept ? (l - max) * inv_temp : kNegInf;
  }
  kernels::active().softmax(scratch_.data(), n_vocab_);
  const int64_t token = walk_weights(scratch_.data(), n_vocab_, uniform01(rng_state_), block_sums_);
  if (token < 0) throw Error("sampler: every token's logit is -inf or NaN");
  return int32_t(token);
}

// Logprobs come from the raw logits: log_z = max - log(p_max), with p_max = 1 / sum(exp(l - max))
// read back from the softmax (it is at least 1 / n_vocab, so it never underflows).
void Sampler::fill_logprobs(std::span<const float> logits, SampledToken& out, std::optional<double> known_log_z) {
  if (!known_log_z) {
    scratch_.resize(logits.size());
    for (size_t t = 0; t < logits.size(); ++t) scratch_[t] = std::isnan(logits[t]) ? kNegInf : logits[t];
    const kernels::KernelTable& k = kernels::active();
    const int64_t best = k.argmax(scratch_.data(), n_vocab_);
    const double max = scratch_[size_t(best)];
    k.softmax(scratch_.data(), n_vocab_);
    known_log_z = max - std::log(double(scratch_[size_t(best)]));
  }
  const double log_z = *known_log_z;
  out.logprob = float(double(logits[size_t(out.token)]) - log_z);
  if (params_.n_top_logprobs == 0) return;
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  const auto n_top = size_t(params_.n_top_logprobs);
  std::partial_sort(ids.begin(), ids.begin() + n_top, ids.end(), [&](int32_t a, int32_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  });
  for (size_t i = 0; i < n_top; ++i) out.top.push_back({ids[i], float(double(logits[ids[i]]) - log_z)});
}

}  // namespace moxie
