#pragma once
// What `moxie inspect` prints: metadata, the tensor table, an architecture summary and,
// for MoE models, total vs active parameters per token. Kept in the library (not the CLI)
// so it is testable.
#include <cstdint>
#include <optional>
#include <string>

namespace moxie {

class GgufFile;

struct ModelSummary {
  std::string architecture;  // general.architecture, "" when absent
  // {arch}.* hyper-parameters; nullopt when the key is absent (or not an integer).
  std::optional<int64_t> block_count, embedding_length, head_count, head_count_kv, context_length;
  std::optional<int64_t> expert_count, expert_used_count, expert_feed_forward_length;
  std::optional<int64_t> expert_shared_count, expert_shared_feed_forward_length;
  std::optional<int64_t> vocab_size;  // length of tokenizer.ggml.tokens, else {arch}.vocab_size
  std::optional<int64_t> file_type;   // general.file_type (llama_ftype)

  // Parameter (element) counts over all tensors.
  int64_t total_params = 0;
  int64_t routed_expert_params = 0;  // tensors named *_exps.* (stacked routed experts)
  int64_t embedding_params = 0;      // token_embd.weight
  // Parameters one token uses: everything except routed experts, plus routed experts
  // scaled by expert_used_count / expert_count. The embedding table is counted in full
  // (as model cards such as DeepSeek-V3's "37B activated" do), though a token reads one row.
  // Equal to total_params for dense models.
  int64_t active_params = 0;
  bool is_moe() const { return routed_expert_params > 0 && expert_count && expert_used_count && *expert_count > 0; }
};

ModelSummary summarize_model(const GgufFile& file);

// The full report. max_array_items bounds how many items of each array are shown.
std::string format_inspect_text(const GgufFile& file, size_t max_array_items = 8);
std::string format_inspect_json(const GgufFile& file, size_t max_array_items = 8);

}  // namespace moxie
