#pragma once
// Model: a GGUF file's config and weights (used in place from the mmap, nothing copied)
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

#include "moxie/core/tensor.h"
#include "moxie/model/batch.h"
#include "moxie/model/config.h"
#include "moxie/model/forward_pass.h"
#include "moxie/runtime/kv_cache.h"

namespace moxie {

class ArchModel;
class GgufFile;

class Model {
 public:
  // Maps the file, reads and validates its config, checks every tensor against the tensor
  // table. Throws moxie::Error naming the file and the key, tensor or architecture at fault.
  static std::unique_ptr<Model> open(const std::string& path);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return config_; }
  const GgufFile& file() const { return *file_; }
  KvShape kv_shape() const;
  // A cache for n_seq sequences of n_ctx tokens each (n_ctx 0: the training context).
  KvCache make_kv_cache(int64_t n_seq, int64_t n_ctx = 0) const;

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
  ModelConfig config_;
  std::unique_ptr<ArchModel> arch_;
  TensorView token_embd_;                // [n_vocab][n_embd]
  const float* output_norm_ = nullptr;   // [n_embd]
  TensorView output_;                    // [n_embd -> n_vocab]
};

}  // namespace moxie
