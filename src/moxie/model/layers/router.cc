#include "moxie/model/layers/router.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace moxie {
namespace {

constexpr double kExcluded = -std::numeric_limits<double>::infinity();

// Indices of the k largest values, largest first, the lower index first among equals.
void top_k_indices(const std::vector<double>& v, int64_t k, std::vector<int32_t>& out) {
  out.resize(v.size());
  std::iota(out.begin(), out.end(), 0);
  std::stable_sort(out.begin(), out.end(), [&](int32_t a, int32_t b) { return v[a] > v[b]; });
  out.resize(size_t(k));
}

void gate_probs(const RouterParams& p, const float* logits, std::vector<double>& probs) {
  probs.resize(size_t(p.n_expert));
  if (p.gating == Gating::sigmoid) {
    for (int64_t e = 0; e < p.n_expert; ++e) probs[e] = 1.0 / (1.0 + std::exp(-double(logits[e])));
    return;
  }
  const double max = *std::max_element(logits, logits + p.n_expert);
  double sum = 0;
  for (int64_t e = 0; e < p.n_expert; ++e) sum += probs[e] = std::exp(double(logits[e]) - max);
  for (double& x : probs) x /= sum;
}

// Excludes every expert outside the n_group_used best groups.
void limit_groups(const RouterParams& p, std::vector<double>& selection) {
  const int64_t per_group = p.n_expert / p.n_group;
  std::vector<double> group_score(static_cast<size_t>(p.n_group));
  std::vector<double> members(static_cast<size_t>(per_group));
  for (int64_t g = 0; g < p.n_group; ++g) {
    std::copy_n(selection.begin() + g * per_group, per_group, members.begin());
    std::sort(members.begin(), members.end(), std::greater<>());
    group_score[g] = p.group_score_top2 && per_group > 1 ? members[0] + members[1] : members[0];
  }
  std::vector<int32_t> kept;
  top_k_indices(group_score, p.n_group_used, kept);
  std::vector<bool> keep(static_cast<size_t>(p.n_group), false);
  for (int32_t g : kept) keep[g] = true;
  for (int64_t e = 0; e < p.n_expert; ++e) {
    if (!keep[e / per_group]) selection[e] = kExcluded;
  }
}

}  // namespace

RouterParams router_params(const MoeConfig& moe) {
  RouterParams p;
  p.n_expert = moe.n_expert;
  p.k = moe.n_expert_used;
  p.gating = moe.gating;
  p.norm_topk = moe.norm_topk;
  p.weights_scale = moe.weights_scale;
  p.n_group = moe.n_group;
  p.n_group_used = moe.n_group_used;
  p.group_score_top2 = moe.gating == Gating::sigmoid;
  return p;
}

void route_tokens(const RouterParams& p, const float* logits, int64_t n_tok, const float* selection_bias,
                  int32_t* ids, float* weights) {
  std::vector<double> probs, selection;
  std::vector<int32_t> chosen;
  for (int64_t t = 0; t < n_tok; ++t) {
    gate_probs(p, logits + t * p.n_expert, probs);
    selection = probs;
    if (selection_bias) {
      for (int64_t e = 0; e < p.n_expert; ++e) selection[e] += selection_bias[e];
    }
    if (p.n_group > 1) limit_groups(p, selection);
    top_k_indices(selection, p.k, chosen);
    double sum = 0;
    for (int32_t e : chosen) sum += probs[e];
    const double norm = p.norm_topk ? 1.0 / (sum + 1e-20) : 1.0;
    for (int64_t j = 0; j < p.k; ++j) {
      ids[t * p.k + j] = chosen[j];
      weights[t * p.k + j] = float(probs[chosen[j]] * norm * p.weights_scale);
    }
  }
}

}  // namespace moxie
