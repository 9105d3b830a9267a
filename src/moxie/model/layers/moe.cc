#include "moxie/model/layers/moe.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "moxie/kernels/api.h"
#include "moxie/kernels/matmul.h"
#include "moxie/model/expert_stats.h"
#include "moxie/model/forward_pass.h"
#include "moxie/model/layers/linear.h"
#include "moxie/model/layers/moe_experts.h"
#include "moxie/model/weights.h"

namespace moxie {
namespace {

enum IntSlot { kRouteIds = 0, kGroupStart = 1, kGroupSlots = 2 };

// Counting sort of the routed (token, slot) pairs by expert: expert e's slots (index
// t * k + j into ids/weights) are slots[start[e] .. start[e + 1]), in token order.
void group_by_expert(const std::vector<int32_t>& ids, int64_t n_expert, std::vector<int32_t>& start,
                     std::vector<int32_t>& slots) {
  start.assign(size_t(n_expert + 1), 0);
  for (int32_t e : ids) ++start[size_t(e) + 1];
  for (int64_t e = 0; e < n_expert; ++e) start[size_t(e + 1)] += start[size_t(e)];
  slots.resize(ids.size());
  std::vector<int32_t> fill(start.begin(), start.end() - 1);
  for (size_t s = 0; s < ids.size(); ++s) slots[size_t(fill[size_t(ids[s])]++)] = int32_t(s);
}

// Runs expert e over its n_rows routed slots and scatter-adds the weighted results.
void run_expert(ForwardPass& p, const MoeWeights& w, int64_t e, const int32_t* slots, int64_t n_rows, int64_t k,
                const float* route_weights, const float* x, float* out) {
  const int64_t n_embd = p.config.n_embd;
  float* in = p.ws().get(Buf::expert_in, n_rows * n_embd);
  float* y = p.ws().get(Buf::expert_out, n_rows * n_embd);
  for (int64_t i = 0; i < n_rows; ++i) {
    std::memcpy(in + i * n_embd, x + (slots[i] / k) * n_embd, size_t(n_embd) * sizeof(float));
  }
  const SwigluWeights expert{kernels::expert_matrix(w.gate_exps, e), kernels::expert_matrix(w.up_exps, e),
                             kernels::expert_matrix(w.down_exps, e)};
  ffn_swiglu(p, expert, in, n_rows, y);
  for (int64_t i = 0; i < n_rows; ++i) {
    p.kt.axpy(route_weights[slots[i]], y + i * n_embd, out + (slots[i] / k) * n_embd, n_embd);
  }
}

// out += shared expert(x), gated per token by sigmoid(x . shared_gate) when there is a gate.
void add_shared_expert(ForwardPass& p, const MoeWeights& w, const float* x, float* out) {
  const int64_t n_embd = p.config.n_embd;
  float* y = p.ws().get(Buf::shared_out, p.n_tok * n_embd);
  ffn_swiglu(p, w.shared, x, p.n_tok, y);
  for (int64_t t = 0; t < p.n_tok; ++t) {
    float scale = 1.0f;
    if (w.shared_gate) scale = 1.0f / (1.0f + std::exp(-p.kt.dot_f32(w.shared_gate, x + t * n_embd, n_embd)));
    p.kt.axpy(scale, y + t * n_embd, out + t * n_embd, n_embd);
  }
}

}  // namespace

MoeWeights load_moe_weights(WeightLoader& w, int64_t il, const MoeFeatures& f) {
  MoeWeights m;
  m.router = w.matrix(il, "ffn_gate_inp");
  if (f.selection_bias) m.selection_bias = w.bias(il, "exp_probs_b");
  m.gate_exps = w.matrix(il, "ffn_gate_exps");
  m.up_exps = w.matrix(il, "ffn_up_exps");
  m.down_exps = w.matrix(il, "ffn_down_exps");
  if (f.shared_expert) {
    m.has_shared = true;
    m.shared = load_swiglu_weights(w, il, "_shexp");
  }
  if (f.shared_gate) m.shared_gate = w.vector(il, "ffn_gate_inp_shexp");
  return m;
}

void moe_ffn(ForwardPass& p, int64_t il, const MoeWeights& w, const RouterParams& router, const float* x,
             float* out) {
  const int64_t n_embd = p.config.n_embd, k = router.k, n_expert = router.n_expert;
  float* logits = p.ws().get(Buf::router_logits, p.n_tok * n_expert);
  linear(p, w.router, x, p.n_tok, logits);
  std::vector<int32_t>& ids = p.ws().ints(kRouteIds);
  ids.resize(size_t(p.n_tok * k));
  float* weights = p.ws().get(Buf::route_weights, p.n_tok * k);
  route_tokens(router, logits, p.n_tok, w.selection_bias, ids.data(), weights);
  p.trace("ffn_moe_weights", il, weights, k);
  if (p.ctx.trace) {  // expert ids as floats, for diffs against the reference's routing
    for (size_t i = 0; i < ids.size(); ++i) logits[i] = float(ids[i]);
    p.trace("ffn_moe_experts", il, logits, k);
  }

  std::vector<int32_t>& start = p.ws().ints(kGroupStart);
  std::vector<int32_t>& slots = p.ws().ints(kGroupSlots);
  group_by_expert(ids, n_expert, start, slots);
  const ExpertGroups groups{start.data(), slots.data(), n_expert, k};
  if (!run_routed_experts(p, w, groups, weights, x, out)) {
    // Expert types that cannot share packed activations: one expert at a time.
    std::memset(out, 0, size_t(p.n_tok * n_embd) * sizeof(float));
    for (int64_t e = 0; e < n_expert; ++e) {
      const int64_t n_rows = start[size_t(e + 1)] - start[size_t(e)];
      if (n_rows > 0) run_expert(p, w, e, slots.data() + start[size_t(e)], n_rows, k, weights, x, out);
    }
  }
  for (int64_t e = 0; p.ctx.expert_stats && e < n_expert; ++e) {
    const int64_t n_rows = start[size_t(e + 1)] - start[size_t(e)];
    if (n_rows > 0) p.ctx.expert_stats->add(il, e, n_rows);
  }
  if (w.has_shared) add_shared_expert(p, w, x, out);
}

}  // namespace moxie
