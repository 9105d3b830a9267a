// KvCache bookkeeping: sizes, budgets, lengths, reset/truncate, and that every
// (layer, sequence) gets its own rows.
#include <gtest/gtest.h>

#include <set>

#include "moxie/core/error.h"
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
