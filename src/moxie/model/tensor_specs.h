#pragma once
// The one table of tensor names and shapes per architecture, with the names and GGUF
// shapes (ne order: ne[0] innermost) that llama.cpp's converter writes. The weight loader
// checks files against it and `moxie synth` writes files from it.
#include <cstdint>
#include <string>
#include <vector>

#include "moxie/model/config.h"

namespace moxie {

// What a tensor is, so a generator can pick plausible values and a quantizer a type.
enum class TensorKind {
  embedding,  // token_embd
  matrix,     // a projection [in -> out] (also stacked experts)
  norm,       // RMSNorm weight, initialised near 1
  bias,       // additive bias
  router,     // expert router logits projection
};

struct TensorSpec {
  std::string name;        // e.g. "blk.3.ffn_gate_exps.weight"
  std::vector<int64_t> ne; // GGUF order
  TensorKind kind;
  bool required = true;    // optional ones: output.weight (tied to token_embd when absent)
};

// "blk.{layer}.{base}.{suffix}"
std::string layer_tensor_name(int64_t layer, const char* base, const char* suffix = "weight");

// Every tensor of a model with this config, in the order the converter writes them.
std::vector<TensorSpec> tensor_specs(const ModelConfig& c);

}  // namespace moxie
