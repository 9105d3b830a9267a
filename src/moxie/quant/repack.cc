#include "moxie/quant/repack.h"

#include <cstring>
#include <string>

#include "moxie/core/error.h"
#include "moxie/core/quant_blocks.h"
#include "moxie/quant/kquant_search.h"

namespace moxie::quant {
namespace {

constexpr int kRows = int(kRepackRows);
static_assert(kRows == kR16);
constexpr int kSubBlocks = kQKK / 32;  // Q4_K sub-blocks of 32 elements per super-block

using GroupQ4K = BlockQ4_K_R16;
using GroupQ8_0 = BlockQ8_0_R16;

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Row l's part of sub-block j in g: qs[32c + e] holds element 64c + e of the block in its low
// nibble and 64c + 32 + e in its high nibble; 4 output bytes at a time (elements 8p + i and
// 8p + 4 + i share output byte i).
void put_q4k_sub_block(const BlockQ4_K& b, int j, int l, GroupQ4K& g) {
  const uint8_t* src = b.qs + 32 * (j / 2);
  const int shift = (j % 2) * 4;
  for (int p = 0; p < 4; ++p) {
    const uint32_t first = (load_u32(src + 8 * p) >> shift) & 0x0F0F0F0Fu;
    const uint32_t second = (load_u32(src + 8 * p + 4) >> shift) & 0x0F0F0F0Fu;
    const uint32_t packed = first | (second << 4);
    std::memcpy(g.qs[j][p][l], &packed, 4);
  }
}

void repack_group_q4k(const BlockQ4_K* const rows[kRows], int64_t n_blocks, GroupQ4K* out) {
  for (int64_t b = 0; b < n_blocks; ++b) {
    GroupQ4K& g = out[b];
    for (int l = 0; l < kRows; ++l) {
      const BlockQ4_K& src = rows[l][b];
      g.d[l] = src.d;
      g.dmin[l] = src.dmin;
      for (int j = 0; j < kSubBlocks; ++j) {
        kq::get_scale_min_k4(j, src.scales, &g.scales[j][l], &g.mins[j][l]);
        put_q4k_sub_block(src, j, l, g);
      }
    }
  }
}

void repack_group_q8_0(const BlockQ8_0* const rows[kRows], int64_t n_blocks, GroupQ8_0* out) {
  for (int64_t b = 0; b < n_blocks; ++b) {
    GroupQ8_0& g = out[b];
    for (int l = 0; l < kRows; ++l) {
      const BlockQ8_0& src = rows[l][b];
      g.d[l] = src.d;
      for (int p = 0; p < kQK32 / 4; ++p) {
        const uint32_t flipped = load_u32(reinterpret_cast<const uint8_t*>(src.qs) + 4 * p) ^ 0x80808080u;  // q + 128
        std::memcpy(g.qs[p][l], &flipped, 4);
      }
    }
  }
}

template <class Block, class Group, class Fn>
void repack_groups(const void* src, int64_t src_stride, int64_t n_rows, int64_t n_blocks, void* dst, Fn fn) {
  Group* out = static_cast<Group*>(dst);
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRows) {
    const Block* rows[kRows];
    for (int l = 0; l < kRows; ++l) {
      rows[l] = reinterpret_cast<const Block*>(static_cast<const char*>(src) + (r0 + l) * src_stride);
    }
    fn(rows, n_blocks, out + r0 / kRows * n_blocks);
  }
}

}  // namespace

DType repacked_type(DType t) {
  switch (t) {
    case DType::Q4_K: return DType::Q4_K_R16;
    case DType::Q8_0: return DType::Q8_0_R16;
    default: return t;
  }
}

void repack_rows(DType from, const void* src, int64_t src_stride, int64_t n_rows, int64_t k, void* dst) {
  const std::string what = "repack " + std::string(dtype_name(from)) + ": ";
  if (repacked_type(from) == from) throw Error(what + "the type has no repacked layout");
  if (n_rows < 0 || n_rows % kRows != 0) {
    throw Error(what + std::to_string(n_rows) + " rows is not a multiple of " + std::to_string(kRows));
  }
  const int64_t block = dtype_info(from).block_size;
  if (k <= 0 || k % block != 0) throw Error(what + "k = " + std::to_string(k) + " is not a whole number of blocks");
  if (src_stride < row_bytes(from, k)) throw Error(what + "row stride is shorter than a row");
  if (from == DType::Q4_K) {
    repack_groups<BlockQ4_K, GroupQ4K>(src, src_stride, n_rows, k / block, dst, repack_group_q4k);
  } else {
    repack_groups<BlockQ8_0, GroupQ8_0>(src, src_stride, n_rows, k / block, dst, repack_group_q8_0);
  }
}

}  // namespace moxie::quant
