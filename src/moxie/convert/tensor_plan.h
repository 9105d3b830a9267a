#pragma once
// Which Hugging Face tensors make each GGUF tensor, and how: the GGUF names and shapes
// come from model/tensor_specs (the one table); this file maps them to HF names and
// reads their rows. Transforms, as llama.cpp's converter does them:
//  - plain: HF [out, in] is GGUF {in, out}, the same bytes;
//  - experts: mlp.experts.{e}.X_proj stacked into GGUF {in, out, n_expert};
//  - Llama q/k: rows permuted from HF's rotate-half order to GGUF's pairwise order;
//  - DeepSeek kv_b_proj [H*(nope+v), kv_lora] split into attn_k_b {nope, kv_lora, H}
//    (each head's k part transposed) and attn_v_b {kv_lora, v, H}.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "moxie/model/tensor_specs.h"

namespace moxie::convert {

class Checkpoint;
struct HfModelInfo;

struct PlannedTensor {
  TensorSpec spec;          // GGUF name, shape, kind
  int64_t n_rows = 0;       // elements / ne[0]
  std::vector<std::string> sources;  // HF names it reads (for messages and the unused-tensor note)
  // Writes GGUF row `row` (ne[0] floats) to out. Safe to call from several threads.
  std::function<void(int64_t row, float* out)> read_row;
};

// Throws moxie::Error naming the HF tensor when one is missing or has the wrong shape.
std::vector<PlannedTensor> plan_tensors(const HfModelInfo& info, const Checkpoint& ckpt);

}  // namespace moxie::convert
