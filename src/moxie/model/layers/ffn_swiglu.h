#pragma once
// The SwiGLU feed-forward block: out = down( silu(gate x) * (up x) ). Used as the dense FFN
// and as a shared expert.
#include <cstdint>

#include "moxie/core/tensor.h"

namespace moxie {

struct ForwardPass;
class WeightLoader;

struct SwigluWeights {
  TensorView gate, up;  // [n_embd -> n_ff]
  TensorView down;      // [n_ff -> n_embd]
};

// "blk.{il}.ffn_gate{suffix}.weight", ..._up, ..._down; suffix "" (dense) or "_shexp".
SwigluWeights load_swiglu_weights(WeightLoader& w, int64_t il, const char* suffix = "");

// out [n_rows][n_embd] for x [n_rows][n_embd].
void ffn_swiglu(ForwardPass& p, const SwigluWeights& w, const float* x, int64_t n_rows, float* out);

}  // namespace moxie
