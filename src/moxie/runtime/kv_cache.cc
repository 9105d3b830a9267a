#include "moxie/runtime/kv_cache.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "moxie/core/error.h"
#include "moxie/core/kv_int8.h"

namespace moxie {
namespace {

// Far beyond any model, small enough that sizes never overflow int64.
constexpr int64_t kMaxTokens = int64_t(1) << 40;

// Allocations are 64-byte aligned: an I8 region's pieces start on a cache line (an AVX-512
// register) when the allocation does.
constexpr size_t kAlign = 64;

// A tile keeps 4 dims (keys) or 4 positions (values) of an int8 head slice per 4 bytes, and
// each piece must stay 64-byte aligned: head slices of a multiple of 4 elements.
void check_int8_groups(const KvShape& s) {
  for (const auto& [width, groups] : {std::pair{s.k_width, s.k_groups}, std::pair{s.v_width, s.v_groups}}) {
    if (groups < 1 || width % groups != 0 || width / groups % 4 != 0) {
      throw Error("KV cache: a q8 cache needs rows of whole head slices of a multiple of 4 elements (got " +
                  std::to_string(width) + " elements in " + std::to_string(groups) + " slices)");
    }
  }
}

char* allocate_aligned(int64_t bytes) {
  const size_t size = (size_t(bytes) + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, size > 0 ? size : kAlign);
  if (p == nullptr) throw Error("KV cache: out of memory allocating " + std::to_string(bytes) + " bytes");
  return static_cast<char*>(p);
}

// Positions per slot group: an I8 region holds whole tiles.
int64_t slot_granule(DType type) { return type == DType::I8 ? kKvInt8Tile : 1; }

// Positions [0, n) of a region of groups kv heads' pieces of width elements, head_stride
// bytes apart (I8, head-major): each head's first ceil(n / 16) pieces.
void copy_int8_prefix(char* dst, const char* src, int64_t n, int64_t groups, int64_t width, int64_t head_stride) {
  const int64_t bytes = (n + kKvInt8Tile - 1) / kKvInt8Tile * kv_int8_piece_bytes(width);
  for (int64_t g = 0; g < groups; ++g) std::memcpy(dst + g * head_stride, src + g * head_stride, size_t(bytes));
}

}  // namespace

DType kv_type_from_name(const std::string& name) {
  if (name == "f32") return DType::F32;
  if (name == "f16") return DType::F16;
  if (name == "q8") return DType::I8;
  throw Error("KV cache type \"" + name + "\" is not supported (use f32, f16 or q8)");
}

std::string kv_type_name(DType type) { return type == DType::I8 ? "q8" : std::string(dtype_name(type)); }

int64_t kv_row_bytes(DType type, int64_t width, int64_t groups) {
  return type == DType::I8 ? kv_int8_row_bytes(groups, width / groups) : row_bytes(type, width);
}

int64_t KvCache::bytes_per_token(const KvShape& s) {
  return s.n_layer * (kv_row_bytes(s.type, s.k_width, s.k_groups) + kv_row_bytes(s.type, s.v_width, s.v_groups));
}

KvCache::KvCache(const KvShape& shape, int64_t n_seq, int64_t n_ctx) : shape_(shape), n_seq_(n_seq), n_ctx_(n_ctx) {
  if (shape.n_layer < 1 || shape.k_width < 1 || shape.v_width < 0) {
    throw Error("KV cache: bad shape (n_layer " + std::to_string(shape.n_layer) + ", k_width " +
                std::to_string(shape.k_width) + ", v_width " + std::to_string(shape.v_width) + ")");
  }
  if (shape.type != DType::F32 && shape.type != DType::F16 && shape.type != DType::I8) {
    throw Error(std::string("KV cache: element type ") + std::string(dtype_name(shape.type)) +
                " is not supported (f32, f16 or i8)");
  }
  if (shape.type == DType::I8) check_int8_groups(shape);
  if (n_seq < 1 || n_ctx < 1 || n_seq > kMaxTokens / n_ctx) {
    throw Error("KV cache: need at least 1 sequence of at least 1 token (got " + std::to_string(n_seq) +
                " sequences of " + std::to_string(n_ctx) + " tokens)");
  }
  const int64_t granule = slot_granule(shape.type);
  n_slots_ = (n_ctx + granule - 1) / granule * granule;
  k_row_bytes_ = kv_row_bytes(shape.type, shape.k_width, shape.k_groups);
  v_row_bytes_ = kv_row_bytes(shape.type, shape.v_width, shape.v_groups);
  if (shape.type == DType::I8) {  // head-major regions (header): a head's pieces, then the next's
    k_head_stride_ = n_slots_ / kKvInt8Tile * kv_int8_piece_bytes(shape.k_width / shape.k_groups);
    v_head_stride_ = n_slots_ / kKvInt8Tile * kv_int8_piece_bytes(shape.v_width / shape.v_groups);
  }
  const int64_t rows = n_seq * shape.n_layer * n_slots_;
  k_.reset(allocate_aligned(rows * k_row_bytes_));
  v_.reset(allocate_aligned(rows * v_row_bytes_));
  length_.assign(size_t(n_seq), 0);
}

KvCache KvCache::with_budget(const KvShape& shape, int64_t n_seq, int64_t budget_bytes) {
  const int64_t per_token = bytes_per_token(shape);
  if (n_seq < 1 || per_token < 1) throw Error("KV cache: need at least 1 sequence and a non-empty shape");
  // Whole granules (I8 tiles), so the rounding up of the constructor never exceeds the budget.
  const int64_t granule = slot_granule(shape.type);
  const int64_t n_ctx = budget_bytes / (per_token * granule * n_seq) * granule;
  if (n_ctx < 1) {
    throw Error("KV cache: a budget of " + std::to_string(budget_bytes) + " bytes does not hold one token for " +
                std::to_string(n_seq) + " sequences (" + std::to_string(per_token) + " bytes per token" +
                (granule > 1 ? ", allocated in tiles of " + std::to_string(granule) + " tokens)" : ")"));
  }
  return KvCache(shape, n_seq, n_ctx);
}

void KvCache::FreeBytes::operator()(char* p) const { std::free(p); }

KvCache::KvCache(KvCache&&) noexcept = default;
KvCache& KvCache::operator=(KvCache&&) noexcept = default;
KvCache::~KvCache() = default;

void KvCache::check_seq(int64_t seq, const char* what) const {
  if (seq < 0 || seq >= n_seq_) {
    throw Error(std::string("KV cache ") + what + ": sequence " + std::to_string(seq) + " is out of range [0, " +
                std::to_string(n_seq_) + ")");
  }
}

void* KvCache::f32_rows(void* rows) const {
  if (shape_.type != DType::F32) {
    throw Error(std::string("KV cache: float rows asked of a ") + std::string(dtype_name(shape_.type)) + " cache");
  }
  return rows;
}

void KvCache::read_row(int64_t il, int64_t seq, int64_t pos, void* k_row, void* v_row) const {
  const char* k = static_cast<const char*>(k_data(il, seq));
  const char* v = static_cast<const char*>(v_data(il, seq));
  if (shape_.type == DType::I8) {
    const int64_t tile = pos / kKvInt8Tile, p = pos % kKvInt8Tile;
    const int64_t k_width = shape_.k_width / shape_.k_groups, v_width = shape_.v_width / shape_.v_groups;
    get_kv_int8_row(KvRole::key, k + tile * kv_int8_piece_bytes(k_width), k_head_stride_, shape_.k_groups, k_width,
                    p, k_row);
    get_kv_int8_row(KvRole::value, v + tile * kv_int8_piece_bytes(v_width), v_head_stride_, shape_.v_groups,
                    v_width, p, v_row);
  } else {
    std::memcpy(k_row, k + pos * k_row_bytes_, size_t(k_row_bytes_));
    std::memcpy(v_row, v + pos * v_row_bytes_, size_t(v_row_bytes_));
  }
}

void KvCache::write_row(int64_t il, int64_t seq, int64_t pos, const void* k_row, const void* v_row) {
  char* k = static_cast<char*>(k_data(il, seq));
  char* v = static_cast<char*>(v_data(il, seq));
  if (shape_.type == DType::I8) {
    const int64_t tile = pos / kKvInt8Tile, p = pos % kKvInt8Tile;
    const int64_t k_width = shape_.k_width / shape_.k_groups, v_width = shape_.v_width / shape_.v_groups;
    put_kv_int8_row(KvRole::key, k_row, shape_.k_groups, k_width, k + tile * kv_int8_piece_bytes(k_width),
                    k_head_stride_, p);
    put_kv_int8_row(KvRole::value, v_row, shape_.v_groups, v_width, v + tile * kv_int8_piece_bytes(v_width),
                    v_head_stride_, p);
  } else {
    std::memcpy(k + pos * k_row_bytes_, k_row, size_t(k_row_bytes_));
    std::memcpy(v + pos * v_row_bytes_, v_row, size_t(v_row_bytes_));
  }
}

void KvCache::copy_prefix(int64_t from_seq, int64_t to_seq, int64_t n) {
  check_seq(from_seq, "copy_prefix");
  check_seq(to_seq, "copy_prefix");
  if (n < 0 || n > length_[size_t(from_seq)]) {
    throw Error("KV cache copy_prefix: sequence " + std::to_string(from_seq) + " holds " +
                std::to_string(length_[size_t(from_seq)]) + " tokens, cannot copy " + std::to_string(n));
  }
  if (from_seq != to_seq) {
    for (int64_t il = 0; il < shape_.n_layer; ++il) {
      char* k_to = static_cast<char*>(k_data(il, to_seq));
      char* v_to = static_cast<char*>(v_data(il, to_seq));
      const char* k_from = static_cast<const char*>(k_data(il, from_seq));
      const char* v_from = static_cast<const char*>(v_data(il, from_seq));
      if (shape_.type == DType::I8) {  // a prefix of each kv head's pieces
        copy_int8_prefix(k_to, k_from, n, shape_.k_groups, shape_.k_width / shape_.k_groups, k_head_stride_);
        copy_int8_prefix(v_to, v_from, n, shape_.v_groups, shape_.v_width / shape_.v_groups, v_head_stride_);
      } else {  // a prefix of the region's bytes
        std::memcpy(k_to, k_from, size_t(n * k_row_bytes_));
        std::memcpy(v_to, v_from, size_t(n * v_row_bytes_));
      }
    }
  }
  length_[size_t(to_seq)] = n;
}

int64_t KvCache::length(int64_t seq) const {
  check_seq(seq, "length");
  return length_[size_t(seq)];
}

void KvCache::reset(int64_t seq) {
  check_seq(seq, "reset");
  length_[size_t(seq)] = 0;
}

void KvCache::truncate(int64_t seq, int64_t n_tokens) {
  check_seq(seq, "truncate");
  if (n_tokens < 0 || n_tokens > length_[size_t(seq)]) {
    throw Error("KV cache truncate: sequence " + std::to_string(seq) + " holds " +
                std::to_string(length_[size_t(seq)]) + " tokens, cannot keep " + std::to_string(n_tokens));
  }
  length_[size_t(seq)] = n_tokens;
}

void KvCache::set_length(int64_t seq, int64_t n_tokens) {
  check_seq(seq, "set_length");
  if (n_tokens < 0 || n_tokens > n_ctx_) {
    throw Error("KV cache: sequence " + std::to_string(seq) + " cannot hold " + std::to_string(n_tokens) +
                " tokens (budget " + std::to_string(n_ctx_) + " per sequence)");
  }
  length_[size_t(seq)] = n_tokens;
}

}  // namespace moxie
