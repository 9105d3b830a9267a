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
// them again: int8 with one float scale per head slice of a row (core/kv_int8.h).
//
// Layout: one region per (sequence, layer) for k and one for v, [n_seq][n_layer][region],
// in two 64-byte aligned allocations.
//   F32, F16: [n_ctx][row] (k_row_bytes / v_row_bytes per row): position p's row at p * row.
//   I8:       [n_groups][ceil(n_ctx / 16)][piece] (core/kv_int8.h), head-major: a piece
//             (kv_int8_piece_bytes(width)) holds one kv head's slices of a tile of
//             kKvInt8Tile positions, laid out for the VPDPBUSD kernels, and kv head g's
//             pieces of consecutive tiles follow each other, so a decode thread streams each
//             of its kv heads front to back. Positions [16 t, 16 t + 16) of kv head g are in
//             the piece at g * k_head_stride() + t * kv_int8_piece_bytes(width), where
//             k_head_stride() = ceil(n_ctx / 16) pieces (v likewise): a region holds whole
//             tiles, round_up(n_ctx, 16) plain rows' bytes. Head slices are a multiple of 4
//             elements, so pieces are multiples of 64 bytes and every region and piece is
//             64-byte aligned. The rows' plain form (kv_int8_row_bytes, what read_row /
//             write_row move) is never stored as such.
// For F32 and F16, positions [0, n) are a prefix of a region's bytes; for I8 they are, per kv
// head, a prefix of its pieces (ceil(n / 16) of them). copy_prefix relies on both. Code other
// than the attention layers and kernels moves rows through read_row / write_row and computes
// no addresses itself.
//
// Token slot p of a sequence holds position p; a sequence's tokens occupy slots
// [0, length). Positions are absolute, so a sequence is "freed" by reset() and can be
// rewound (e.g. to drop rejected draft tokens) by truncate().
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "moxie/core/dtype.h"
#include "moxie/core/kv_int8.h"

namespace moxie {

struct KvShape {
  int64_t n_layer = 0;
  int64_t k_width = 0;  // elements per token per layer
  int64_t v_width = 0;  // elements per token per layer
  DType type = DType::F32;  // F32, F16 or I8
  // Head slices per row (GQA: n_head_kv): an I8 row keeps one scale per slice, so k_width /
  // k_groups elements share a scale (a multiple of 4 of them for I8).
  int64_t k_groups = 1;
  int64_t v_groups = 1;
};

// The cache element type a name selects ("f32", "f16", "q8" = I8); throws moxie::Error
// naming the accepted ones otherwise.
DType kv_type_from_name(const std::string& name);
// The name kv_type_from_name takes for a cache type ("q8" for I8).
std::string kv_type_name(DType type);
// Bytes of one cached row of width elements in groups slices (I8 rows carry their scales);
// for I8 the plain row's bytes (core/kv_int8.h), a sixteenth of a tile's pieces, all kv heads.
int64_t kv_row_bytes(DType type, int64_t width, int64_t groups);

class KvCache {
 public:
  // n_seq sequences of up to n_ctx tokens each. Throws moxie::Error on a bad size.
  KvCache(const KvShape& shape, int64_t n_seq, int64_t n_ctx);
  // As many tokens per sequence as fit into budget_bytes (at least 1, else an error); for I8
  // a whole number of tiles (at least one), so size_bytes() <= budget_bytes either way.
  static KvCache with_budget(const KvShape& shape, int64_t n_seq, int64_t budget_bytes);
  // The bytes one token's rows take, all layers, k and v (the prefix cache's unit). An I8
  // cache allocates whole tiles of 16 tokens per sequence, so see size_bytes for its total.
  static int64_t bytes_per_token(const KvShape& shape);

  KvCache(KvCache&&) noexcept;
  KvCache& operator=(KvCache&&) noexcept;
  ~KvCache();

  const KvShape& shape() const { return shape_; }
  int64_t n_seq() const { return n_seq_; }
  int64_t n_ctx() const { return n_ctx_; }  // token budget per sequence
  // Bytes allocated: n_ctx tokens per sequence, rounded up to whole tiles for I8.
  int64_t size_bytes() const { return bytes_per_token(shape_) * n_seq_ * n_slots_; }

  // Tokens cached for seq (positions [0, length)). seq must be < n_seq (throws otherwise).
  int64_t length(int64_t seq) const;
  // Frees a sequence: its slots are reused by the next tokens at position 0.
  void reset(int64_t seq);
  // Forgets the tokens at positions >= n_tokens (n_tokens <= length).
  void truncate(int64_t seq, int64_t n_tokens);
  // Marks positions [0, n_tokens) as cached; the forward pass calls it after writing them.
  void set_length(int64_t seq, int64_t n_tokens);

  // Position pos's k and v rows of layer il of sequence seq, in their plain form:
  // k_row_bytes() and v_row_bytes() bytes (for I8 the plain row of core/kv_int8.h, moved
  // into or out of its tile). No checks (hot path: decode writes every token through
  // write_row): il < n_layer, seq < n_seq, 0 <= pos < n_ctx. Allocates nothing.
  void read_row(int64_t il, int64_t seq, int64_t pos, void* k_row, void* v_row) const;
  void write_row(int64_t il, int64_t seq, int64_t pos, const void* k_row, const void* v_row);
  // Copies positions [0, n) of every layer of from_seq to to_seq (for I8 each kv head's
  // first ceil(n / 16) pieces: the positions of a partial last tile past n come along,
  // unread, and are overwritten as to_seq's next tokens are written) and sets to_seq's length to n. Throws unless both
  // sequences exist and 0 <= n <= length(from_seq). from_seq == to_seq only truncates.
  void copy_prefix(int64_t from_seq, int64_t to_seq, int64_t n);

  // The region of layer il of sequence seq (layout above), for the attention kernels. No
  // checks (hot path): the forward pass validates sequences and positions per batch.
  void* k_data(int64_t il, int64_t seq) { return k_.get() + region_index(il, seq) * k_row_bytes(); }
  void* v_data(int64_t il, int64_t seq) { return v_.get() + region_index(il, seq) * v_row_bytes(); }
  const void* k_data(int64_t il, int64_t seq) const { return k_.get() + region_index(il, seq) * k_row_bytes(); }
  const void* v_data(int64_t il, int64_t seq) const { return v_.get() + region_index(il, seq) * v_row_bytes(); }
  // The same rows as floats, for an F32 cache (MLA's is always one); throws on another type.
  float* k(int64_t il, int64_t seq) { return static_cast<float*>(f32_rows(k_data(il, seq))); }
  float* v(int64_t il, int64_t seq) { return static_cast<float*>(f32_rows(v_data(il, seq))); }
  int64_t k_row_bytes() const { return k_row_bytes_; }
  int64_t v_row_bytes() const { return v_row_bytes_; }
  // Bytes from kv head g's pieces of a region to kv head g + 1's, I8 only (0 otherwise):
  // AttentionArgs::k_head_stride, v_head_stride. One head's pieces are
  // kv_int8_piece_bytes(width) apart (AttentionArgs::k_stride, v_stride).
  int64_t k_head_stride() const { return k_head_stride_; }
  int64_t v_head_stride() const { return v_head_stride_; }

 private:
  // Start of the (seq, layer) region in rows' bytes: a region is n_slots_ rows' bytes.
  int64_t region_index(int64_t il, int64_t seq) const { return (seq * shape_.n_layer + il) * n_slots_; }
  void check_seq(int64_t seq, const char* what) const;
  void* f32_rows(void* rows) const;

  struct FreeBytes {
    void operator()(char* p) const;
  };

  KvShape shape_;
  int64_t n_seq_ = 0;
  int64_t n_ctx_ = 0;
  int64_t n_slots_ = 0;  // positions' bytes per region: n_ctx, rounded up to a tile for I8
  int64_t k_row_bytes_ = 0;
  int64_t v_row_bytes_ = 0;
  int64_t k_head_stride_ = 0;  // I8: n_slots_ / 16 pieces of k_width / k_groups elements
  int64_t v_head_stride_ = 0;
  // Left uninitialised: pages are touched only as tokens arrive. Not advised as huge pages
  // (core/huge_pages.h): that measured within noise for decode, and CI's browser test then
  // timed out twice in four runs waiting for a fresh server's first reply.
  std::unique_ptr<char[], FreeBytes> k_;
  std::unique_ptr<char[], FreeBytes> v_;
  std::vector<int64_t> length_;  // [n_seq]
};

}  // namespace moxie
