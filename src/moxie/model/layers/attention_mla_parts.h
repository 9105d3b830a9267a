#pragma once
// Internal to the MLA layer (attention_mla*.cc): its sizes, the per-head products both forms
// use, and the two ways it attends. Not for other layers.
//
// A sequence's new tokens attend in one of two mathematically equal forms:
//   absorbed      (attention_mla.cc): per (head, token, cached position) a 512 + 64 float score
//                 and a 512 float output over the latent, plus per token the q absorption
//                 (W_UK^T q_nope) and output de-absorption (W_UV o_lat) products;
//   decompressed  (attention_mla_prefill.cc): per (head, cached position) k_nope = W_UK c and
//                 v = W_UV c (int8 gemms), then ordinary attention over 128 + 64 key and 128
//                 value floats, what vLLM and SGLang run for prefill.
// The decompressed form pays per cached position; the absorbed one per (token, position) a
// 3.4x larger attention. choose_decompressed() weighs both for each sequence of a batch.
#include <cstdint>
#include <vector>

#include "moxie/core/tensor.h"
#include "moxie/model/layers/attention_mla.h"

namespace moxie {

struct ForwardPass;
struct ModelConfig;
class WeightLoader;

namespace mla {

// Sizes of one MLA layer, in floats.
struct Dims {
  int64_t n_head, q_lora, kv_lora, nope, rope, v_head;
  int64_t dk() const { return nope + rope; }           // one q head
  int64_t q_row() const { return n_head * dk(); }      // one token's q
  int64_t kv_a_row() const { return kv_lora + rope; }  // one token's kv_a_mqa output
  int64_t heads_row() const { return n_head * v_head; }
};
Dims dims_of(const ModelConfig& c);

// Where head h's row for row t lives: base + t * tok_stride + h * head_stride (floats).
struct HeadRows {
  int64_t tok_stride, head_stride;
};

// y(h, t) [n_rows] = W_h x(h, t) [k] for t < n and every head h of a stacked {k, n_rows, H}
// weight, heads split across the pool (one dispatch).
void per_head_matmul(ForwardPass& p, int64_t n, const TensorView& w, const float* x, const HeadRows& xr, float* y,
                     const HeadRows& yr);

// One sequence of the batch: its new tokens (batch indices, increasing positions) and its
// cached length once they are stored.
struct SeqTokens {
  int32_t seq = 0;
  int64_t n_pos = 0;
  std::vector<int64_t> tokens;
};

// Whether s attends in the decompressed form (the process-wide MlaForm, else the cost rule).
bool choose_decompressed(const Dims& d, const SeqTokens& s);

// heads[t] [H * v_head] for the batch tokens in `tokens` (absorbed form); q [n_tok][q_row].
void attend_absorbed(ForwardPass& p, int64_t il, const MlaWeights& w, const Dims& d, float scale, const float* q,
                     const std::vector<int64_t>& tokens, float* heads);

// m.k_b_t (and m.k_b_t_memory) from the file's attn_k_b of layer il: per head the [kv_lora][nope]
// matrix transposed to [nope][kv_lora] rows, so k_nope = W_UK c is an ordinary product. Float
// types keep their type (exact); quantized ones become Q8_0 (a second rounding of the same
// size as Q8_0's own), repacked like the file's matrices. Real V3: 61 x 128 x 128 x 512
// weights, 544 MB as Q8_0, about 0.15% of a Q4_K model.
void load_transposed_k_b(WeightLoader& w, int64_t il, MlaWeights& m);

// heads[t] for every token of every sequence in seqs (decompressed form).
void attend_decompressed(ForwardPass& p, int64_t il, const MlaWeights& w, const Dims& d, float scale,
                         const float* q, const std::vector<SeqTokens>& seqs, float* heads);

}  // namespace mla
}  // namespace moxie
