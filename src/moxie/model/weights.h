#pragma once
// WeightLoader: hands out zero-copy views of a GGUF file's tensors, checked against the
// tensor-spec table (tensor_specs.h) for the model's config. Every failure is a
// moxie::Error naming the file and the tensor: missing, wrong shape, a type moxie cannot
// multiply, a norm/bias that is not F32. After loading, check_all_used() refuses files
// that carry tensors the forward would ignore (a feature moxie does not support, e.g.
// Llama 3.1's rope_freqs.weight), instead of silently computing something else.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "moxie/core/tensor.h"
#include "moxie/model/tensor_specs.h"

namespace moxie {

class GgufFile;
class RepackedWeights;
namespace kernels {
struct KernelTable;
}

class WeightLoader {
 public:
  // repack: where matrices with a faster layout are copied to (nullptr: all used in place).
  WeightLoader(const GgufFile& file, const ModelConfig& config, const kernels::KernelTable& kt,
               RepackedWeights* repack = nullptr);

  // A projection or stacked expert tensor used through matmul: its type must have a kernel.
  // With a RepackedWeights, a matrix it can re-lay out comes back as its repacked copy, which
  // only matmul and a kernel's gemm read (never dequantize or index rows of it by hand).
  TensorView matrix(const std::string& name);
  // A matrix computed at load from the file's tensors (e.g. a transposed copy), already checked
  // to have a kernel: its repacked copy when one applies, else w itself (whose memory the
  // caller keeps alive).
  TensorView derived_matrix(const TensorView& w);
  // A norm weight or bias: F32, read directly as floats.
  const float* vector(const std::string& name);
  // Any type that dequantize_row converts (the token embedding).
  TensorView table(const std::string& name);
  // Optional tensors (output.weight): nullptr data when the file does not have it.
  TensorView optional_matrix(const std::string& name);

  // Layer shorthands: "blk.{il}.{base}.weight" / ".bias".
  TensorView matrix(int64_t il, const char* base) { return matrix(layer_tensor_name(il, base)); }
  const float* vector(int64_t il, const char* base) { return vector(layer_tensor_name(il, base)); }
  const float* bias(int64_t il, const char* base) { return vector(layer_tensor_name(il, base, "bias")); }

  // Throws naming the first tensor of the file that no load call asked for.
  void check_all_used() const;
  // The file, for architectures that refuse a feature by its tensors with a clearer message.
  const GgufFile& file() const { return file_; }

 private:
  const TensorView* find(const std::string& name, bool required);
  [[noreturn]] void fail(const std::string& name, const std::string& why) const;

  const GgufFile& file_;
  const ModelConfig& config_;
  const kernels::KernelTable& kt_;
  RepackedWeights* repack_;
  std::unordered_map<std::string, TensorView> repacked_;  // by name: a matrix asked for twice is copied once
  std::unordered_map<std::string, TensorSpec> specs_;
  std::unordered_set<std::string> used_;
};

}  // namespace moxie
