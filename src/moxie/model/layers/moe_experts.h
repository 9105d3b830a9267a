#pragma once
// All routed experts of one MoE layer over a batch, as a few pool dispatches instead of
// three matmuls (each a dispatch and a barrier) per selected expert:
//
//   pack x once per token, gather the packed rows in expert order        [n_pairs][k_act]
//   job 1: for each (expert, row chunk): gate and up rows over all of that expert's rows,
//          then silu(gate) * up in place                                 [n_pairs][n_ff]
//   pack the hidden rows                                                  (one dispatch)
//   job 2: for each (expert, row chunk of n_embd): down                   [n_pairs][n_embd]
//   out[t] += w[t, j] * y[pair of (t, j)], pairs in ascending expert order
//
// Work items are pulled dynamically, so a decode step's eight experts spread over all
// threads and a prefill's hundred experts balance. Each output is computed by the same
// kernel calls on the same data as one matmul per expert would do (kernels' results do not
// depend on tiling), so results are bit-identical to the per-expert path.
#include <cstdint>

namespace moxie {

struct ForwardPass;
struct MoeWeights;

// The routed (token, slot) pairs grouped by expert: expert e's slots (t * k + j) are
// slots[start[e] .. start[e + 1]), in token order.
struct ExpertGroups {
  const int32_t* start;  // [n_expert + 1]
  const int32_t* slots;  // [n_tok * k]
  int64_t n_expert, k;
};

// out [n_tok][n_embd] = sum over each token's k routed experts of route_weights[t * k + j] *
// expert(x[t]) (out is overwritten). Returns false, touching nothing, when the expert weight
// types cannot share packed activations this way (the caller then runs experts one by one).
bool run_routed_experts(ForwardPass& p, const MoeWeights& w, const ExpertGroups& groups, const float* route_weights,
                        const float* x, float* out);

}  // namespace moxie
