#pragma once
// `moxie synth`: writes a valid GGUF of a given architecture with seeded random weights
// (small variance, so activations stay finite) and a real byte-level BPE tokenizer.
// Presets range from tiny test models to the exact per-layer shapes of Qwen3-30B-A3B and
// DeepSeek-V3 with few layers, for benchmarks.
#include <cstdint>
#include <string>
#include <vector>

#include "moxie/core/dtype.h"
#include "moxie/model/config.h"

namespace moxie {

struct SynthOptions {
  Arch arch = Arch::qwen3moe;
  std::string preset = "tiny";
  DType type = DType::F32;  // type of the matrices; norms and biases stay F32
  uint64_t seed = 1;
  int64_t n_layer = 0;      // 0: the preset's
  int64_t n_vocab = 0;      // 0: the preset's
  int n_threads = 1;
};

// Names accepted by --preset for an architecture.
std::vector<std::string> synth_presets(Arch arch);
// The preset's config (throws moxie::Error naming an unknown preset).
ModelConfig synth_config(const SynthOptions& o);
// Writes the model; returns the number of bytes of tensor data written.
uint64_t write_synth_model(const SynthOptions& o, const std::string& path);

// The type a matrix of row length ne0 gets: the requested one when ne0 fits its block,
// else Q8_0 when that fits, else F32 (as llama.cpp's quantizer falls back).
DType synth_matrix_type(DType requested, int64_t ne0);

}  // namespace moxie
