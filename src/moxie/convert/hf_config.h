#pragma once
// Hugging Face config.json -> ModelConfig, per architecture, with the numbers llama.cpp's
// converter derives (DeepSeek MLA runs as MQA over the latent, so n_head_kv = 1 and the
// per-head sizes go to the *_mla keys; YaRN's softmax correction is 0.1 * mscale_all_dim).
#include <cstdint>
#include <string>

#include "moxie/model/config.h"

namespace moxie::convert {

struct HfModelInfo {
  ModelConfig config;
  std::string hf_architecture;   // e.g. "Qwen3MoeForCausalLM"
  bool tied_embeddings = false;  // no lm_head: output reuses token_embd
  int64_t n_nextn_layers = 0;    // DeepSeek-V3 multi-token-prediction layers (skipped)
  int64_t fp8_block_rows = 128, fp8_block_cols = 128;  // quantization_config.weight_block_size
  bool fp8 = false;              // quantization_config.quant_method == "fp8"
};

// Throws moxie::Error naming the file and key when config.json is missing, malformed, or
// describes an architecture or feature the converter does not support.
HfModelInfo read_hf_config(const std::string& dir);
HfModelInfo parse_hf_config(const std::string& json_text, const std::string& source);

}  // namespace moxie::convert
