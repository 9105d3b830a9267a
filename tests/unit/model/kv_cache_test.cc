// KvCache bookkeeping: sizes (f32, f16 and q8 rows, q8 in whole tiles), budgets, lengths,
// reset/truncate, the cache type names, that every (layer, sequence) gets its own rows, and
// moving rows in and out (read_row / write_row, copy_prefix) for every cache type, q8's
// through its tiles (core/kv_int8.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "moxie/core/error.h"
#include "moxie/core/kv_int8.h"
#include "moxie/runtime/kv_cache.h"

namespace moxie {
namespace {

TEST(KvCache, SizesFollowTheShape) {
  const KvShape s{3, 8, 4};  // 3 layers, 8 + 4 floats per token per layer
  EXPECT_EQ(KvCache::bytes_per_token(s), 3 * 12 * 4);
  const KvCache kv(s, 2, 5);
  EXPECT_EQ(kv.size_bytes(), 2 * 5 * 3 * 12 * 4);
  const KvCache b = KvCache::with_budget(s, 2, 1000);  // 144 bytes per token, 2 sequences
  EXPECT_EQ(b.n_ctx(), 1000 / (144 * 2));
  EXPECT_THROW(KvCache::with_budget(s, 2, 287), Error);
  EXPECT_THROW(KvCache(s, 0, 5), Error);
  EXPECT_THROW(KvCache(KvShape{0, 8, 4}, 1, 5), Error);
}

TEST(KvCache, RowsOfDifferentLayersAndSequencesAreDisjoint) {
  KvCache kv(KvShape{2, 4, 2}, 3, 5);
  std::set<const float*> k_starts;
  for (int64_t il = 0; il < 2; ++il) {
    for (int64_t s = 0; s < 3; ++s) {
      float* k = kv.k(il, s);
      float* v = kv.v(il, s);
      for (int64_t i = 0; i < 5 * 4; ++i) k[i] = float(il * 100 + s * 10);
      for (int64_t i = 0; i < 5 * 2; ++i) v[i] = float(il * 100 + s * 10 + 1);
      k_starts.insert(k);
    }
  }
  EXPECT_EQ(k_starts.size(), 6u);
  for (int64_t il = 0; il < 2; ++il) {
    for (int64_t s = 0; s < 3; ++s) {
      for (int64_t i = 0; i < 5 * 4; ++i) ASSERT_EQ(kv.k(il, s)[i], float(il * 100 + s * 10));
      for (int64_t i = 0; i < 5 * 2; ++i) ASSERT_EQ(kv.v(il, s)[i], float(il * 100 + s * 10 + 1));
    }
  }
}

TEST(KvCache, F16RowsHalveTheBytesAndRefuseFloatAccess) {
  const KvShape s{3, 8, 4, DType::F16};
  EXPECT_EQ(KvCache::bytes_per_token(s), 3 * 12 * 2);
  KvCache kv(s, 2, 5);
  EXPECT_EQ(kv.k_row_bytes(), 16);
  EXPECT_EQ(kv.v_row_bytes(), 8);
  EXPECT_EQ(static_cast<char*>(kv.k_data(1, 0)) - static_cast<char*>(kv.k_data(0, 0)), 5 * 16);
  EXPECT_THROW(kv.k(0, 0), Error);  // float rows of an F16 cache
  EXPECT_THROW(KvCache(KvShape{1, 4, 4, DType::Q8_0}, 1, 5), Error);
  EXPECT_EQ(kv_type_from_name("f16"), DType::F16);
  EXPECT_EQ(kv_type_from_name("f32"), DType::F32);
  EXPECT_THROW(kv_type_from_name("q8_0"), Error);
}

// q8 (DType::I8): each row is its int8 elements followed by one float scale per head slice
// (core/kv_int8.h), so a row of w elements in g slices takes w + 4 g bytes; a region holds
// whole tiles of 16 such rows, head-major: each kv head's pieces of every tile, then the
// next head's.
TEST(KvCache, Q8RowsCarryAScalePerHeadSliceAndRegionsHoldWholeTiles) {
  const KvShape s{3, 8, 4, DType::I8, 2, 1};  // k: 2 heads of 4, v: 1 head of 4
  EXPECT_EQ(kv_row_bytes(DType::I8, 8, 2), 8 + 2 * 4);
  EXPECT_EQ(kv_row_bytes(DType::I8, 256, 2), 256 + 2 * 4);
  EXPECT_EQ(kv_row_bytes(DType::F16, 256, 2), 512);  // groups mean nothing to f16 and f32 rows
  EXPECT_EQ(kv_row_bytes(DType::F32, 256, 2), 1024);
  EXPECT_EQ(KvCache::bytes_per_token(s), 3 * (16 + 8));
  KvCache kv(s, 2, 5);  // 5 tokens take one tile of 16
  EXPECT_EQ(kv.k_row_bytes(), 16);
  EXPECT_EQ(kv.v_row_bytes(), 8);
  EXPECT_EQ(kv.k_head_stride(), 1 * 16 * (4 + 4));  // one tile's piece of a head of 4
  EXPECT_EQ(kv.v_head_stride(), 1 * 16 * (4 + 4));
  EXPECT_EQ(kv.size_bytes(), 2 * 16 * 3 * (16 + 8));
  EXPECT_EQ(static_cast<char*>(kv.k_data(1, 0)) - static_cast<char*>(kv.k_data(0, 0)), 16 * 16);
  EXPECT_EQ(static_cast<char*>(kv.v_data(0, 1)) - static_cast<char*>(kv.v_data(0, 0)), 3 * 16 * 8);
  const KvCache two(s, 2, 17);  // two tiles
  EXPECT_EQ(two.size_bytes(), 2 * 32 * 3 * (16 + 8));
  EXPECT_EQ(two.k_head_stride(), 2 * 16 * (4 + 4));
  EXPECT_EQ(two.v_head_stride(), 2 * 16 * (4 + 4));
  EXPECT_EQ(static_cast<const char*>(two.k_data(1, 0)) - static_cast<const char*>(two.k_data(0, 0)),
            2 * two.k_head_stride());  // a region is its heads' pieces
  EXPECT_EQ(static_cast<const char*>(two.v_data(1, 0)) - static_cast<const char*>(two.v_data(0, 0)),
            two.v_head_stride());
  EXPECT_EQ(KvCache(s, 2, 32).size_bytes(), 2 * 32 * 3 * (16 + 8));
  EXPECT_EQ(KvCache(s, 2, 32).k_head_stride(), 2 * 16 * (4 + 4));
  const KvShape wide{1, 3 * 128, 3 * 64, DType::I8, 3, 3};  // 3 kv heads of 128 (k), 64 (v)
  const KvCache w(wide, 1, 4096);
  EXPECT_EQ(w.k_head_stride(), 256 * 16 * (128 + 4));
  EXPECT_EQ(w.v_head_stride(), 256 * 16 * (64 + 4));
  EXPECT_EQ(w.size_bytes(), 4096 * 3 * (128 + 4 + 64 + 4));
  for (const DType t : {DType::F32, DType::F16}) {  // only I8 regions are head-major
    EXPECT_EQ(KvCache(KvShape{3, 8, 4, t}, 2, 5).k_head_stride(), 0);
    EXPECT_EQ(KvCache(KvShape{3, 8, 4, t}, 2, 5).v_head_stride(), 0);
  }
  EXPECT_THROW(kv.k(0, 0), Error);  // float rows of a q8 cache
  EXPECT_THROW(kv.v(0, 0), Error);
}

// A budget buys whole tiles of a q8 cache: never more bytes than it holds, and every tile
// that fits.
TEST(KvCache, Q8BudgetsBuyWholeTilesWithinTheBudget) {
  const KvShape s{3, 8, 4, DType::I8, 2, 1};  // 72 bytes per token, 1152 per tile of 16
  for (const int64_t n_seq : {1, 3}) {
    const int64_t tile = 72 * 16 * n_seq;  // one tile of every sequence
    for (const int64_t budget : {tile, tile + 1, 2 * tile - 1, 2 * tile, 7 * tile + 71, 7 * tile + tile - 1}) {
      const KvCache kv = KvCache::with_budget(s, n_seq, budget);
      EXPECT_LE(kv.size_bytes(), budget) << budget;
      EXPECT_EQ(kv.n_ctx() % 16, 0) << budget;
      EXPECT_EQ(kv.n_ctx(), budget / tile * 16) << budget;
    }
    // Enough for 15 tokens but not a tile: an error that says why.
    try {
      KvCache::with_budget(s, n_seq, tile - 1);
      ADD_FAILURE() << "a budget short of a tile was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("tiles of 16 tokens"), std::string::npos) << e.what();
    }
  }
  // f32 and f16 budgets still count single tokens.
  EXPECT_EQ(KvCache::with_budget(KvShape{3, 8, 4, DType::F16}, 1, 72 * 7 + 71).n_ctx(), 7);
}

// Every q8 region, and every kv head's piece of its tiles, starts on 64 bytes (the kernels'
// register loads), and the pieces of a region tile it exactly: head g's piece of tile t at
// g * head_stride + t * piece bytes, the last head's last piece ending where the next region
// starts. The allocations of f32 and f16 caches are aligned too.
TEST(KvCache, Q8RegionsAndPiecesAre64ByteAligned) {
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; };
  for (const KvShape& s : {KvShape{2, 8, 4, DType::I8, 2, 1}, KvShape{3, 12, 20, DType::I8, 3, 5},
                           KvShape{2, 4 * 36, 4 * 36, DType::I8, 4, 4}}) {
    for (const int64_t n_ctx : {1, 5, 16, 17, 40}) {
      KvCache kv(s, 3, n_ctx);
      const int64_t n_tiles = (n_ctx + 15) / 16;
      const int64_t k_piece = kv_int8_piece_bytes(s.k_width / s.k_groups);
      const int64_t v_piece = kv_int8_piece_bytes(s.v_width / s.v_groups);
      ASSERT_EQ(kv.k_head_stride(), n_tiles * k_piece) << n_ctx;
      ASSERT_EQ(kv.v_head_stride(), n_tiles * v_piece) << n_ctx;
      for (int64_t il = 0; il < s.n_layer; ++il) {
        for (int64_t seq = 0; seq < 3; ++seq) {
          const char* k = static_cast<const char*>(kv.k_data(il, seq));
          const char* v = static_cast<const char*>(kv.v_data(il, seq));
          for (int64_t t = 0; t < n_tiles; ++t) {
            for (int64_t g = 0; g < s.k_groups; ++g) {
              ASSERT_TRUE(aligned(k + g * kv.k_head_stride() + t * k_piece)) << il << " " << seq << " " << t;
            }
            for (int64_t g = 0; g < s.v_groups; ++g) {
              ASSERT_TRUE(aligned(v + g * kv.v_head_stride() + t * v_piece)) << il << " " << seq << " " << t;
            }
          }
          const int64_t next = seq * s.n_layer + il + 1;  // regions are [n_seq][n_layer]
          if (next == 3 * s.n_layer) continue;             // the last one ends the allocation
          ASSERT_EQ(static_cast<const char*>(kv.k_data(next % s.n_layer, next / s.n_layer)) - k,
                    s.k_groups * kv.k_head_stride());
          ASSERT_EQ(static_cast<const char*>(kv.v_data(next % s.n_layer, next / s.n_layer)) - v,
                    s.v_groups * kv.v_head_stride());
        }
      }
    }
  }
  for (const DType t : {DType::F32, DType::F16}) {
    KvCache kv(KvShape{2, 6, 2, t}, 2, 3);
    EXPECT_TRUE(aligned(kv.k_data(0, 0)));
    EXPECT_TRUE(aligned(kv.v_data(0, 0)));
  }
}

TEST(KvCache, CacheTypeNames) {
  EXPECT_EQ(kv_type_from_name("q8"), DType::I8);
  EXPECT_EQ(kv_type_name(DType::I8), "q8");
  EXPECT_EQ(kv_type_name(DType::F16), "f16");
  EXPECT_EQ(kv_type_name(DType::F32), "f32");
  for (const DType t : {DType::F32, DType::F16, DType::I8}) EXPECT_EQ(kv_type_from_name(kv_type_name(t)), t);
  // Near misses stay errors that list the accepted names.
  for (const char* bad : {"q8_0", "i8", "Q8", "int8", "q4", "f8", "", "q8 "}) {
    try {
      kv_type_from_name(bad);
      ADD_FAILURE() << "\"" << bad << "\" was accepted";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("\"" + std::string(bad) + "\""), std::string::npos) << what;
      EXPECT_NE(what.find("f32, f16 or q8"), std::string::npos) << what;
    }
  }
}

// A q8 tile keeps 4 elements of a head slice per 4 bytes and its pieces 64-byte aligned, so
// head slices are a multiple of 4 elements: other widths, or rows of partial slices, are
// refused with the numbers.
TEST(KvCache, Q8ShapesOfPartialOrUnalignedSlicesAreErrors) {
  const auto error_of = [](const KvShape& s) -> std::string {
    try {
      KvCache kv(s, 1, 4);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  const std::string unaligned = error_of(KvShape{1, 6, 8, DType::I8, 2, 2});  // k: 2 slices of 3
  EXPECT_NE(unaligned.find("q8"), std::string::npos) << unaligned;
  EXPECT_NE(unaligned.find("multiple of 4"), std::string::npos) << unaligned;
  EXPECT_NE(unaligned.find("6 elements in 2 slices"), std::string::npos) << unaligned;
  // A row of a multiple of 4 elements is not enough: 2 slices of 6.
  const std::string odd_slices = error_of(KvShape{1, 12, 4, DType::I8, 2, 1});
  EXPECT_NE(odd_slices.find("12 elements in 2 slices"), std::string::npos) << odd_slices;
  const std::string partial = error_of(KvShape{1, 8, 12, DType::I8, 2, 5});  // v: 12 in 5 slices
  EXPECT_NE(partial.find("whole head slices"), std::string::npos) << partial;
  EXPECT_NE(partial.find("12 elements in 5 slices"), std::string::npos) << partial;
  const std::string none = error_of(KvShape{1, 8, 8, DType::I8, 0, 1});
  EXPECT_NE(none.find("8 elements in 0 slices"), std::string::npos) << none;
  // The same widths are fine in f16 and f32.
  EXPECT_NO_THROW(KvCache(KvShape{1, 6, 8, DType::F16, 2, 2}, 1, 4));
  EXPECT_NO_THROW(KvCache(KvShape{1, 8, 12, DType::F32, 2, 5}, 1, 4));
  EXPECT_NO_THROW(KvCache(KvShape{1, 12, 4, DType::F32, 2, 1}, 1, 4));
  EXPECT_EQ(KvCache(KvShape{1, 16, 4, DType::I8, 2, 1}, 1, 4).k_row_bytes(), 16 + 2 * 4);
}

// Shapes of every cache type for the row tests: 2 k heads of 8, 3 v heads of 4.
KvShape row_shape(DType type) { return KvShape{2, 16, 12, type, 2, 3}; }

// A plain row's bytes for (layer, sequence, position, salt): any bytes, as read_row and
// write_row move rows without reading them (a q8 row's scales are copied as bytes).
std::vector<char> row_bytes_of(int64_t n_bytes, int64_t il, int64_t seq, int64_t pos, int salt) {
  std::mt19937 rng(uint32_t(il * 1000003 + seq * 10007 + pos * 101 + salt));
  std::vector<char> row(static_cast<size_t>(n_bytes));
  for (char& c : row) c = char(rng());
  return row;
}

void write_rows(KvCache& kv, int64_t seq, int64_t from, int64_t to, int salt) {
  for (int64_t il = 0; il < kv.shape().n_layer; ++il) {
    for (int64_t pos = from; pos < to; ++pos) {
      const auto k = row_bytes_of(kv.k_row_bytes(), il, seq, pos, salt);
      const auto v = row_bytes_of(kv.v_row_bytes(), il, seq, pos, salt + 1);
      kv.write_row(il, seq, pos, k.data(), v.data());
    }
  }
}

// Positions [from, to) of seq read back as written by write_rows(kv, written_seq, ..., salt).
void expect_rows(const KvCache& kv, int64_t seq, int64_t from, int64_t to, int64_t written_seq, int salt,
                 const std::string& what) {
  std::vector<char> k(size_t(kv.k_row_bytes())), v(size_t(kv.v_row_bytes()));
  for (int64_t il = 0; il < kv.shape().n_layer; ++il) {
    for (int64_t pos = from; pos < to; ++pos) {
      kv.read_row(il, seq, pos, k.data(), v.data());
      const std::string at = what + ": layer " + std::to_string(il) + " seq " + std::to_string(seq) + " pos " +
                             std::to_string(pos);
      ASSERT_EQ(k, row_bytes_of(kv.k_row_bytes(), il, written_seq, pos, salt)) << at << " k";
      ASSERT_EQ(v, row_bytes_of(kv.v_row_bytes(), il, written_seq, pos, salt + 1)) << at << " v";
    }
  }
}

// Every position of every (layer, sequence) reads back what was written there, across tile
// boundaries and in a partial last tile (n_ctx 37 = 2 tiles and 5).
TEST(KvCache, RowsReadBackAsWrittenForEveryType) {
  for (const DType type : {DType::F32, DType::F16, DType::I8}) {
    const std::string name = kv_type_name(type);
    KvCache kv(row_shape(type), 3, 37);
    for (int64_t seq = 0; seq < 3; ++seq) write_rows(kv, seq, 0, 37, 7);
    for (int64_t seq = 0; seq < 3; ++seq) expect_rows(kv, seq, 0, 37, seq, 7, name);
    write_rows(kv, 1, 20, 21, 9);  // one row rewritten leaves its tile's others alone
    expect_rows(kv, 1, 20, 21, 1, 9, name + " rewritten");
    expect_rows(kv, 1, 0, 20, 1, 7, name + " before the rewritten row");
    expect_rows(kv, 1, 21, 37, 1, 7, name + " after the rewritten row");
  }
}

// F32 and F16 rows are stored one per position as they are; q8 rows in their tile
// (core/kv_int8.h), kv head g's slice in the piece at g * head_stride + tile * piece bytes,
// where get_kv_int8_row finds them.
TEST(KvCache, RowsLandWhereTheLayoutSays) {
  for (const DType type : {DType::F32, DType::F16}) {
    KvCache kv(row_shape(type), 2, 20);
    write_rows(kv, 1, 0, 20, 3);
    for (int64_t pos = 0; pos < 20; ++pos) {
      const auto k = row_bytes_of(kv.k_row_bytes(), 1, 1, pos, 3);
      const auto v = row_bytes_of(kv.v_row_bytes(), 1, 1, pos, 4);
      EXPECT_EQ(std::memcmp(static_cast<const char*>(kv.k_data(1, 1)) + pos * kv.k_row_bytes(), k.data(), k.size()), 0);
      EXPECT_EQ(std::memcmp(static_cast<const char*>(kv.v_data(1, 1)) + pos * kv.v_row_bytes(), v.data(), v.size()), 0);
    }
  }
  KvCache kv(row_shape(DType::I8), 2, 20);  // 2 tiles: head_stride = 2 pieces
  write_rows(kv, 1, 0, 20, 3);
  ASSERT_EQ(kv.k_head_stride(), 2 * kv_int8_piece_bytes(8));
  ASSERT_EQ(kv.v_head_stride(), 2 * kv_int8_piece_bytes(4));
  std::vector<char> got(size_t(kv.k_row_bytes()));
  for (int64_t pos = 0; pos < 20; ++pos) {
    const char* k_piece0 = static_cast<const char*>(kv.k_data(1, 1)) + pos / 16 * kv_int8_piece_bytes(8);
    get_kv_int8_row(KvRole::key, k_piece0, kv.k_head_stride(), 2, 8, pos % 16, got.data());
    EXPECT_EQ(got, row_bytes_of(kv.k_row_bytes(), 1, 1, pos, 3)) << pos;
    got.resize(size_t(kv.v_row_bytes()));
    const char* v_piece0 = static_cast<const char*>(kv.v_data(1, 1)) + pos / 16 * kv_int8_piece_bytes(4);
    get_kv_int8_row(KvRole::value, v_piece0, kv.v_head_stride(), 3, 4, pos % 16, got.data());
    EXPECT_EQ(got, row_bytes_of(kv.v_row_bytes(), 1, 1, pos, 4)) << pos;
    got.resize(size_t(kv.k_row_bytes()));
  }
}

// copy_prefix copies a prefix over a sequence holding other rows: ending inside the first
// tile (5), on a tile boundary (16), inside a later one (21 = 16 + 5, 30). The copied rows
// read back, for every kv head (a q8 region is head-major, so a prefix of positions is a
// prefix of each head's pieces, not of the region); the rows written after it, into the rest
// of a partial tile and beyond, read back as written; the source, another sequence and the
// target's tiles past the copied ones are untouched.
TEST(KvCache, CopyPrefixEndingInsideATile) {
  for (const DType type : {DType::F32, DType::F16, DType::I8}) {
    for (const int64_t n : {5, 16, 21, 30}) {
      const std::string name = kv_type_name(type) + " n " + std::to_string(n);
      KvCache kv(row_shape(type), 4, 40);
      write_rows(kv, 0, 0, 30, 11);
      kv.set_length(0, 30);
      write_rows(kv, 2, 0, 40, 13);  // to be overwritten
      kv.set_length(2, 40);
      write_rows(kv, 3, 0, 40, 23);  // a bystander
      kv.copy_prefix(0, 2, n);
      EXPECT_EQ(kv.length(2), n) << name;
      EXPECT_EQ(kv.length(0), 30) << name;
      expect_rows(kv, 2, 0, n, 0, 11, name + " copied");
      // Nothing past the copied positions' tiles (q8) or positions (f32, f16) is written.
      const int64_t copied_to = type == DType::I8 ? (n + 15) / 16 * 16 : n;
      expect_rows(kv, 2, copied_to, 40, 2, 13, name + " past the copy");
      write_rows(kv, 2, n, 40, 17);  // the partial tile's rest, then new tiles
      kv.set_length(2, 40);
      expect_rows(kv, 2, 0, n, 0, 11, name + " copied, after more rows");
      expect_rows(kv, 2, n, 40, 2, 17, name + " written after the copy");
      expect_rows(kv, 0, 0, 30, 0, 11, name + " source");
      expect_rows(kv, 3, 0, 40, 3, 23, name + " bystander");
      kv.copy_prefix(0, 1, 0);  // nothing to copy: an empty sequence
      EXPECT_EQ(kv.length(1), 0) << name;
      kv.copy_prefix(2, 2, 5);  // onto itself: a truncation
      EXPECT_EQ(kv.length(2), 5) << name;
      expect_rows(kv, 2, 0, 5, 0, 11, name + " self copy");
      EXPECT_THROW(kv.copy_prefix(0, 1, 31), Error) << name;  // more than sequence 0 holds
      EXPECT_THROW(kv.copy_prefix(0, 4, 1), Error) << name;
      EXPECT_THROW(kv.copy_prefix(-1, 1, 0), Error) << name;
      EXPECT_THROW(kv.copy_prefix(0, 1, -1), Error) << name;
    }
  }
}

TEST(KvCache, LengthsResetAndTruncate) {
  KvCache kv(KvShape{1, 2, 2}, 2, 4);
  EXPECT_EQ(kv.length(0), 0);
  kv.set_length(0, 4);
  kv.set_length(1, 2);
  EXPECT_THROW(kv.set_length(0, 5), Error);  // over the budget
  kv.truncate(0, 1);
  EXPECT_EQ(kv.length(0), 1);
  EXPECT_THROW(kv.truncate(1, 3), Error);    // cannot grow by truncating
  kv.reset(1);
  EXPECT_EQ(kv.length(1), 0);
  EXPECT_THROW(kv.length(2), Error);
  EXPECT_THROW(kv.reset(-1), Error);
}

}  // namespace
}  // namespace moxie
