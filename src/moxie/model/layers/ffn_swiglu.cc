#include "moxie/model/layers/ffn_swiglu.h"

#include <string>

#include "moxie/kernels/api.h"
#include "moxie/model/forward_pass.h"
#include "moxie/model/layers/linear.h"
#include "moxie/model/weights.h"

namespace moxie {

SwigluWeights load_swiglu_weights(WeightLoader& w, int64_t il, const char* suffix) {
  const std::string s(suffix);
  return {w.matrix(il, ("ffn_gate" + s).c_str()), w.matrix(il, ("ffn_up" + s).c_str()),
          w.matrix(il, ("ffn_down" + s).c_str())};
}

void ffn_swiglu(ForwardPass& p, const SwigluWeights& w, const float* x, int64_t n_rows, float* out) {
  const int64_t n_ff = w.gate.ne[1];
  float* gate = p.ws().get(Buf::hidden_gate, n_rows * n_ff);
  float* up = p.ws().get(Buf::hidden_up, n_rows * n_ff);
  linear_shared_input(p, {{w.gate, gate}, {w.up, up}}, x, n_rows);
  p.kt.swiglu(gate, up, gate, n_rows * n_ff);
  linear(p, w.down, gate, n_rows, out);
}

}  // namespace moxie
