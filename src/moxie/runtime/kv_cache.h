#pragma once
// KvCache: per-sequence key/value memory with a fixed token budget, allocated once.
//
// Every layer keeps, per sequence and per cached token, two rows of KvShape::type elements:
// a "k" row of KvShape::k_width and a "v" row of KvShape::v_width. What they hold is the
// attention layer's business:
//   GQA: k = the n_head_kv roped key heads, v = the n_head_kv value heads
//        (k_width = n_head_kv * head_dim_k, v_width = n_head_kv * head_dim_v)
//   MLA: k = the compressed latent (kv_lora_rank), v = the shared roped key (qk_rope):
//        only what DeepSeek's absorbed attention needs, its memory saving.
// The element type is F32, F16 or I8. F32 is the library's default, so the golden tolerances
// hold without a cache-precision term; F16 halves the bytes a long-context decode streams
// (what llama.cpp caches by default) and is what the command line asks for; I8 ("q8") halves
// them again: int8 with one float scale per head slice of a row (runtime/kv_int8.h).
//
// Token slot p of a sequence holds position p; a sequence's tokens occupy slots
// [0, length). Positions are absolute, so a sequence is "freed" by reset() and can be
// rewound (e.g. to drop rejected draft tokens) by truncate().
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "moxie/core/dtype.h"

namespace moxie {

struct KvShape {
  int64_t n_layer = 0;
  int64_t k_width = 0;  // elements per token per layer
  int64_t v_width = 0;  // elements per token per layer
  DType type = DType::F32;  // F32, F16 or I8
  // Head slices per row (GQA: n_head_kv): an I8 row keeps one scale per slice, so k_width /
  // k_groups elements share a scale.
  int64_t k_groups = 1;
  int64_t v_groups = 1;
};

// The cache element type a name selects ("f32", "f16", "q8" = I8); throws moxie::Error
// naming the accepted ones otherwise.
DType kv_type_from_name(const std::string& name);
// The name kv_type_from_name takes for a cache type ("q8" for I8).
std::string kv_type_name(DType type);
// Bytes of one cached row of width elements in groups slices (I8 rows carry their scales).
int64_t kv_row_bytes(DType type, int64_t width, int64_t groups);

class KvCache {
 public:
  // n_seq sequences of up to n_ctx tokens each. Throws moxie::Error on a bad size.
  KvCache(const KvShape& shape, int64_t n_seq, int64_t n_ctx);
  // As many tokens per sequence as fit into budget_bytes (at least 1, else an error).
  static KvCache with_budget(const KvShape& shape, int64_t n_seq, int64_t budget_bytes);
  static int64_t bytes_per_token(const KvShape& shape);  // all layers, k and v

  KvCache(KvCache&&) noexcept;
  KvCache& operator=(KvCache&&) noexcept;
  ~KvCache();

  const KvShape& shape() const { return shape_; }
  int64_t n_seq() const { return n_seq_; }
  int64_t n_ctx() const { return n_ctx_; }  // token budget per sequence
  int64_t size_bytes() const { return bytes_per_token(shape_) * n_seq_ * n_ctx_; }

  // Tokens cached for seq (positions [0, length)). seq must be < n_seq (throws otherwise).
  int64_t length(int64_t seq) const;
  // Frees a sequence: its slots are reused by the next tokens at position 0.
  void reset(int64_t seq);
  // Forgets the tokens at positions >= n_tokens (n_tokens <= length).
  void truncate(int64_t seq, int64_t n_tokens);
  // Marks positions [0, n_tokens) as cached; the forward pass calls it after writing them.
  void set_length(int64_t seq, int64_t n_tokens);

  // Rows of layer il of sequence seq, [n_ctx][k_width] and [n_ctx][v_width] elements of
  // shape().type. No checks (hot path): the forward pass validates sequences and positions
  // per batch.
  void* k_data(int64_t il, int64_t seq) { return k_.get() + row_index(il, seq) * k_row_bytes(); }
  void* v_data(int64_t il, int64_t seq) { return v_.get() + row_index(il, seq) * v_row_bytes(); }
  const void* k_data(int64_t il, int64_t seq) const { return k_.get() + row_index(il, seq) * k_row_bytes(); }
  const void* v_data(int64_t il, int64_t seq) const { return v_.get() + row_index(il, seq) * v_row_bytes(); }
  // The same rows as floats, for an F32 cache (MLA's is always one); throws on another type.
  float* k(int64_t il, int64_t seq) { return static_cast<float*>(f32_rows(k_data(il, seq))); }
  float* v(int64_t il, int64_t seq) { return static_cast<float*>(f32_rows(v_data(il, seq))); }
  int64_t k_row_bytes() const { return kv_row_bytes(shape_.type, shape_.k_width, shape_.k_groups); }
  int64_t v_row_bytes() const { return kv_row_bytes(shape_.type, shape_.v_width, shape_.v_groups); }

 private:
  // First token row of (seq, layer); data is [n_seq][n_layer][n_ctx][width].
  int64_t row_index(int64_t il, int64_t seq) const { return (seq * shape_.n_layer + il) * n_ctx_; }
  void check_seq(int64_t seq, const char* what) const;
  void* f32_rows(void* rows) const;

  KvShape shape_;
  int64_t n_seq_ = 0;
  int64_t n_ctx_ = 0;
  // Left uninitialised: pages are touched only as tokens arrive. Not advised as huge pages
  // (core/huge_pages.h): that measured within noise for decode, and CI's browser test then
  // timed out twice in four runs waiting for a fresh server's first reply.
  std::unique_ptr<char[]> k_;
  std::unique_ptr<char[]> v_;
  std::vector<int64_t> length_;  // [n_seq]
};

}  // namespace moxie
