#include "moxie/runtime/kv_cache.h"

#include <string>
#include <utility>

#include "moxie/core/error.h"
#include "moxie/runtime/kv_int8.h"

namespace moxie {
namespace {

// Far beyond any model, small enough that sizes never overflow int64.
constexpr int64_t kMaxTokens = int64_t(1) << 40;

// An int8 row's scales follow its elements as aligned floats, one per head slice.
void check_int8_groups(const KvShape& s) {
  for (const auto& [width, groups] : {std::pair{s.k_width, s.k_groups}, std::pair{s.v_width, s.v_groups}}) {
    if (groups < 1 || width % groups != 0 || width % 4 != 0) {
      throw Error("KV cache: a q8 cache needs rows of whole head slices and a multiple of 4 elements (got " +
                  std::to_string(width) + " elements in " + std::to_string(groups) + " slices)");
    }
  }
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
  const int64_t rows = n_seq * shape.n_layer * n_ctx;
  k_.reset(new char[size_t(rows * k_row_bytes())]);
  v_.reset(new char[size_t(rows * v_row_bytes())]);
  length_.assign(size_t(n_seq), 0);
}

KvCache KvCache::with_budget(const KvShape& shape, int64_t n_seq, int64_t budget_bytes) {
  const int64_t per_token = bytes_per_token(shape);
  if (n_seq < 1 || per_token < 1) throw Error("KV cache: need at least 1 sequence and a non-empty shape");
  const int64_t n_ctx = budget_bytes / (per_token * n_seq);
  if (n_ctx < 1) {
    throw Error("KV cache: a budget of " + std::to_string(budget_bytes) + " bytes does not hold one token for " +
                std::to_string(n_seq) + " sequences (" + std::to_string(per_token) + " bytes per token)");
  }
  return KvCache(shape, n_seq, n_ctx);
}

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
