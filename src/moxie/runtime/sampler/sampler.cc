#include "moxie/runtime/sampler/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "moxie/core/error.h"
#include "moxie/core/random.h"

namespace moxie {
namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw Error("sampling parameter " + what);
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
  std::span<const float> chain_logits = logits;
  if (mask) {
    masked_.assign(logits.begin(), logits.end());
    mask->apply(masked_);
    chain_logits = masked_;
  }
  candidates_.resize(logits.size());
  for (int32_t t = 0; t < n_vocab_; ++t) candidates_[t] = {t, chain_logits[t]};
  apply_bias_and_penalties(history);
  SampledToken out;
  if (params_.temperature <= 0.0f) {
    auto best = std::max_element(candidates_.begin(), candidates_.end(),
                                 [](const Candidate& a, const Candidate& b) { return a.logit < b.logit; });
    out.token = best->token;  // max_element keeps the first of equals: the lower token id
  } else {
    truncate();
    out.token = draw();
  }
  fill_logprobs(logits, out);
  return out;
}

void Sampler::apply_bias_and_penalties(std::span<const int32_t> history) {
  for (const auto& [token, bias] : params_.logit_bias) candidates_[token].logit += bias;
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
    float& logit = candidates_[t].logit;
    logit = logit > 0 ? logit / params_.repeat_penalty : logit * params_.repeat_penalty;
    logit -= params_.presence_penalty + params_.frequency_penalty * float(counts_[t]);
    counts_[t] = 0;  // each distinct token is penalised once; also leaves counts_ zeroed
  }
}

void Sampler::truncate() {
  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit != b.logit ? a.logit > b.logit : a.token < b.token;
  };
  size_t keep = candidates_.size();
  if (params_.top_k > 0 && size_t(params_.top_k) < keep) {
    keep = size_t(params_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  candidates_.resize(keep);
  if (!std::isfinite(candidates_[0].logit)) throw Error("sampler: every token's logit is -inf or NaN");
  // Probabilities at temperature 1 decide the nucleus and the min-p floor (temperature comes last).
  const double max = candidates_[0].logit;
  double sum = 0;
  for (const Candidate& c : candidates_) sum += std::exp(double(c.logit) - max);
  const double p_max = 1.0 / sum;  // the first candidate's probability
  double cumulative = 0;
  size_t n = 0;
  for (; n < candidates_.size(); ++n) {
    const double p = std::exp(double(candidates_[n].logit) - max) / sum;
    if (n > 0 && p < params_.min_p * p_max) break;
    cumulative += p;
    if (cumulative >= params_.top_p) {
      ++n;
      break;
    }
  }
  candidates_.resize(std::max<size_t>(n, 1));
}

double Sampler::next_uniform() { return uniform01(rng_state_); }

int32_t Sampler::draw() {
  const double max = candidates_[0].logit, inv_temp = 1.0 / params_.temperature;
  double sum = 0;
  std::vector<double> weights(candidates_.size());
  for (size_t i = 0; i < candidates_.size(); ++i) sum += weights[i] = std::exp((double(candidates_[i].logit) - max) * inv_temp);
  double u = next_uniform() * sum;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    u -= weights[i];
    if (u < 0) return candidates_[i].token;
  }
  return candidates_.back().token;
}

void Sampler::fill_logprobs(std::span<const float> logits, SampledToken& out) const {
  double max = -std::numeric_limits<double>::infinity();
  for (float l : logits) max = std::max(max, double(l));
  double sum = 0;
  for (float l : logits) sum += std::exp(double(l) - max);
  const double log_z = max + std::log(sum);
  out.logprob = float(double(logits[out.token]) - log_z);
  if (params_.n_top_logprobs == 0) return;
  std::vector<int32_t> ids(logits.size());
  for (int32_t t = 0; t < n_vocab_; ++t) ids[t] = t;
  const auto k = size_t(params_.n_top_logprobs);
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  });
  for (size_t i = 0; i < k; ++i) out.top.push_back({ids[i], float(double(logits[ids[i]]) - log_z)});
}

}  // namespace moxie
