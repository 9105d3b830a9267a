#pragma once
// `moxie quantize`: rewrites a GGUF file with its tensors in the types a recipe picks.
// Metadata is copied as is (general.file_type and general.quantization_version are
// replaced); tensors keep their names, shapes and order. Rows are converted on all
// threads, one chunk of a tensor at a time, so memory stays small.
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "moxie/core/dtype.h"

namespace moxie::quantize {

struct QuantizeOptions {
  std::string in_path, out_path;
  std::string recipe = "q4_k_m";
  int n_threads = 1;
  bool allow_requantize = false;  // quantizing tensors that are already quantized loses twice
  std::function<void(uint64_t done, uint64_t total, const std::string& tensor)> progress;
};

struct QuantizeResult {
  int64_t n_tensors = 0;
  uint64_t in_bytes = 0, out_bytes = 0;
  std::map<DType, int64_t> tensors_per_type;
};

// Throws moxie::Error naming the recipe, file or tensor on bad input.
QuantizeResult quantize_gguf(const QuantizeOptions& o);

}  // namespace moxie::quantize
