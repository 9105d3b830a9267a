#pragma once
// `moxie convert`: a Hugging Face checkpoint folder (config.json, tokenizer.json,
// tokenizer_config.json, safetensors shards) -> one GGUF file with llama.cpp's metadata
// keys and tensor names. Streams tensor by tensor, a few MiB of rows at a time, so memory
// stays small for any checkpoint size.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "moxie/core/dtype.h"

namespace moxie::convert {

struct ConvertOptions {
  std::string hf_dir;
  std::string out_path;
  DType type = DType::BF16;  // weight matrices; norms, biases and routers stay F32
  int n_threads = 1;
  // Called after each chunk: bytes of tensor data written so far, of total, current tensor.
  std::function<void(uint64_t done, uint64_t total, const std::string& tensor)> progress;
};

struct ConvertResult {
  int64_t n_tensors = 0;
  uint64_t n_bytes = 0;            // tensor data written
  std::vector<std::string> notes;  // things skipped (MTP layers, unused checkpoint tensors)
};

ConvertResult convert_hf_to_gguf(const ConvertOptions& o);

// The type a GGUF tensor of this kind and row length gets when `type` is asked for.
DType convert_tensor_type(DType type, int kind, const std::vector<int64_t>& ne);

}  // namespace moxie::convert
