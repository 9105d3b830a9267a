#include "moxie/runtime/prefix_cache.h"

#include <gtest/gtest.h>

#include "moxie/core/error.h"

namespace moxie {
namespace {

// kv blob of per_token bytes per token whose values encode (token id, byte index), so
// copies can be checked.
std::vector<uint8_t> blob(const std::vector<int32_t>& tokens, int64_t per_token) {
  std::vector<uint8_t> kv;
  for (size_t i = 0; i < tokens.size(); ++i)
    for (int64_t j = 0; j < per_token; ++j) kv.push_back(uint8_t(tokens[i] * 10 + int32_t(j)));
  return kv;
}

// An entry's bytes: its blob and its token ids.
int64_t bytes_of(size_t n_tokens, int64_t per_token) { return int64_t(n_tokens) * (per_token + 4); }

TEST(PrefixCache, FindsLongestCommonPrefix) {
  PrefixCache c(2, 1 << 20);
  c.insert({1, 2, 3, 4}, blob({1, 2, 3, 4}, 2));
  c.insert({1, 2, 9}, blob({1, 2, 9}, 2));
  std::vector<int32_t> q{1, 2, 3, 7};
  auto m = c.find(q);
  ASSERT_NE(m.entry, nullptr);
  EXPECT_EQ(m.n_tokens, 3);
  EXPECT_EQ(m.entry->tokens, (std::vector<int32_t>{1, 2, 3, 4}));
  EXPECT_EQ(m.entry->kv[2 * 2], 30);  // token 3's first byte
  std::vector<int32_t> none{5};
  EXPECT_EQ(c.find(none).entry, nullptr);
  EXPECT_EQ(c.bytes(), bytes_of(4, 2) + bytes_of(3, 2));
}

TEST(PrefixCache, LongerEntrySubsumesItsPrefixes) {
  PrefixCache c(1, 1 << 20);
  c.insert({1, 2}, blob({1, 2}, 1));
  c.insert({1, 2, 3}, blob({1, 2, 3}, 1));
  EXPECT_EQ(c.size(), 1);  // {1,2} is held by {1,2,3}
  c.insert({1, 2}, blob({1, 2}, 1));
  EXPECT_EQ(c.size(), 1);  // already covered
  EXPECT_EQ(c.bytes(), bytes_of(3, 1));
}

TEST(PrefixCache, EvictsLeastRecentlyUsedWithinBudget) {
  const int64_t per = 4;
  PrefixCache c(per, 2 * bytes_of(3, per));  // room for two 3-token entries
  c.insert({1, 1, 1}, blob({1, 1, 1}, per));
  c.insert({2, 2, 2}, blob({2, 2, 2}, per));
  std::vector<int32_t> q{1, 1};
  ASSERT_NE(c.find(q).entry, nullptr);  // touches {1,1,1}: {2,2,2} is now the oldest
  c.insert({3, 3, 3}, blob({3, 3, 3}, per));
  EXPECT_EQ(c.size(), 2);
  EXPECT_EQ(c.n_evicted(), 1);
  std::vector<int32_t> q2{2, 2, 2};
  EXPECT_EQ(c.find(q2).entry, nullptr);
  EXPECT_LE(c.bytes(), c.budget_bytes());
  c.insert(std::vector<int32_t>(10, 5), blob(std::vector<int32_t>(10, 5), per));  // larger than the budget
  EXPECT_EQ(c.size(), 2);
}

TEST(PrefixCache, ZeroBudgetKeepsNothingAndBadBlobsAreRefused) {
  PrefixCache off(1, 0);
  off.insert({1}, {1});
  EXPECT_EQ(off.size(), 0);
  PrefixCache c(2, 1024);
  EXPECT_THROW(c.insert({1, 2}, {1, 2, 3}), Error);  // 3 bytes for 2 tokens of 2
  EXPECT_THROW(PrefixCache(0, 10), Error);
}

TEST(PrefixCache, CommonPrefixLength) {
  std::vector<int32_t> a{1, 2, 3}, b{1, 2}, c{4};
  EXPECT_EQ(common_prefix_length(a, b), 2);
  EXPECT_EQ(common_prefix_length(a, c), 0);
  EXPECT_EQ(common_prefix_length(a, a), 3);
}

}  // namespace
}  // namespace moxie
