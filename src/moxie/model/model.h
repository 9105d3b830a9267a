#pragma once
// Model: a GGUF file's config and weights (used in place from the mmap, or repacked: see
// ModelOptions)
// plus its architecture's decoder layers, and the forward pass over a Batch:
//
//   h      = token_embd[token]                          dequantized rows, [n_tok][n_embd]
//   h      = layer_il(h)   for il < n_layer              the architecture file (arch/)
//   logits = output(rmsnorm(h) * output_norm)           only rows whose logits are wanted;
//                                                       output falls back to token_embd (tied)
//
// A Model is immutable after open() and may be shared by threads that each bring their own
// KvCache and ForwardContext.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "moxie/core/tensor.h"
#include "moxie/model/batch.h"
#include "moxie/model/config.h"
#include "moxie/model/forward_pass.h"
#include "moxie/runtime/kv_cache.h"

namespace moxie {

class ArchModel;
class GgufFile;
class RepackedWeights;
struct MemoryRange;

struct ModelOptions {
  // Copy Q4_K / Q8_0 matrices into the 16-row interleaved layouts of quant/repack.h when this
  // CPU has kernels for them (AVX-512 VNNI) and the weights fit in 80% of physical memory.
  // Off: every weight is used in place from the mapping (a model larger than RAM runs).
  bool repack = true;
};

class Model {
 public:
  // Maps the file, reads and validates its config, checks every tensor against the tensor
  // table. Throws moxie::Error naming the file and the key, tensor or architecture at fault.
  static std::unique_ptr<Model> open(const std::string& path, const ModelOptions& options = {});
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return config_; }
  const GgufFile& file() const { return *file_; }
  // Bytes of weights copied into repacked layouts at load (0: all used in place).
  uint64_t repacked_bytes() const;
  // The memory the forward pass reads its weights from: repacked copies and the file's
  // tensors that were not copied (for warm-up and mlock).
  std::vector<MemoryRange> weight_memory() const;
  // The cache this model needs, holding type (F32 or F16) elements. An MLA model's cache (its
  // compressed latents) is always F32: its absorbed attention is compute-bound in prefill and
  // its cache is already small (DeepSeek-V3: 576 floats per token per layer).
  KvShape kv_shape(DType type = DType::F32) const;
  // A cache for n_seq sequences of n_ctx tokens each (n_ctx 0: the training context).
  KvCache make_kv_cache(int64_t n_seq, int64_t n_ctx = 0, DType type = DType::F32) const;

  // Runs the batch (see batch.h for its rules, checked before anything runs), appends its
  // tokens to their sequences in kv, and writes logits [batch.n_logits()][n_vocab] in batch
  // order. Throws moxie::Error for a bad batch (token id, sequence, position, context full).
  void forward(const Batch& batch, KvCache& kv, ForwardContext& ctx, float* logits) const;

 private:
  Model() = default;
  void check_batch(const Batch& batch, const KvCache& kv) const;
  void embed(ForwardPass& p, float* h) const;
  void output_head(ForwardPass& p, const float* h, float* logits) const;

  std::unique_ptr<GgufFile> file_;
  std::unique_ptr<RepackedWeights> repacked_;  // nullptr when nothing is repacked
  ModelConfig config_;
  std::unique_ptr<ArchModel> arch_;
  TensorView token_embd_;                // [n_vocab][n_embd]
  const float* output_norm_ = nullptr;   // [n_embd]
  TensorView output_;                    // [n_embd -> n_vocab]
};

}  // namespace moxie
