// KvCache bookkeeping: sizes (f32, f16 and q8 rows), budgets, lengths, reset/truncate, the
// cache type names, and that every (layer, sequence) gets its own rows.
#include <gtest/gtest.h>

#include <set>
#include <string>

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

// q8 (DType::I8): each row is its int8 elements followed by one float scale per head slice
// (runtime/kv_int8.h), so a row of w elements in g slices takes w + 4 g bytes.
TEST(KvCache, Q8RowsCarryAScalePerHeadSlice) {
  const KvShape s{3, 8, 4, DType::I8, 2, 1};  // k: 2 heads of 4, v: 1 head of 4
  EXPECT_EQ(kv_row_bytes(DType::I8, 8, 2), 8 + 2 * 4);
  EXPECT_EQ(kv_row_bytes(DType::I8, 256, 2), 256 + 2 * 4);
  EXPECT_EQ(kv_row_bytes(DType::F16, 256, 2), 512);  // groups mean nothing to f16 and f32 rows
  EXPECT_EQ(kv_row_bytes(DType::F32, 256, 2), 1024);
  EXPECT_EQ(KvCache::bytes_per_token(s), 3 * (16 + 8));
  KvCache kv(s, 2, 5);
  EXPECT_EQ(kv.k_row_bytes(), 16);
  EXPECT_EQ(kv.v_row_bytes(), 8);
  EXPECT_EQ(kv.size_bytes(), 2 * 5 * 3 * (16 + 8));
  EXPECT_EQ(static_cast<char*>(kv.k_data(1, 0)) - static_cast<char*>(kv.k_data(0, 0)), 5 * 16);
  EXPECT_EQ(static_cast<char*>(kv.v_data(0, 1)) - static_cast<char*>(kv.v_data(0, 0)), 3 * 5 * 8);
  EXPECT_THROW(kv.k(0, 0), Error);  // float rows of a q8 cache
  EXPECT_THROW(kv.v(0, 0), Error);
  // Budgets count the scales: 72 bytes per token for one sequence.
  EXPECT_EQ(KvCache::with_budget(s, 1, 72 * 7 + 71).n_ctx(), 7);
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

// A q8 row keeps its scales as aligned floats after the elements, one per head slice: a
// width that is not a multiple of 4, or not whole slices, is refused with the numbers.
TEST(KvCache, Q8ShapesOfPartialSlicesOrUnalignedScalesAreErrors) {
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
  const std::string partial = error_of(KvShape{1, 8, 12, DType::I8, 2, 5});  // v: 12 in 5 slices
  EXPECT_NE(partial.find("whole head slices"), std::string::npos) << partial;
  EXPECT_NE(partial.find("12 elements in 5 slices"), std::string::npos) << partial;
  const std::string none = error_of(KvShape{1, 8, 8, DType::I8, 0, 1});
  EXPECT_NE(none.find("8 elements in 0 slices"), std::string::npos) << none;
  // The same widths are fine in f16 and f32, and q8 takes slices whose width is not a
  // multiple of 4 as long as the row's is (2 slices of 6: scales at byte 12).
  EXPECT_NO_THROW(KvCache(KvShape{1, 6, 8, DType::F16, 2, 2}, 1, 4));
  EXPECT_NO_THROW(KvCache(KvShape{1, 8, 12, DType::F32, 2, 5}, 1, 4));
  EXPECT_EQ(KvCache(KvShape{1, 12, 4, DType::I8, 2, 1}, 1, 4).k_row_bytes(), 12 + 2 * 4);
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
