#pragma once
// "The same logits" for the deepseek2 tests that run one computation two ways (cached vs
// recomputed, batched vs alone, absorbed vs decompressed MLA): within 1e-5 of the largest
// logit. Same arithmetic on different batch shapes or association rounds differently in fp32
// (~1e-6 relative); any real difference (a wrong row, scale or causal limit) is of the logits'
// own size.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "model_test_util.h"

namespace moxie::test {

// Rows [first, first + n) of a [rows][n_vocab] logits block.
inline std::vector<float> logit_rows(const std::vector<float>& logits, int64_t n_vocab, int64_t first, int64_t n) {
  return {logits.begin() + first * n_vocab, logits.begin() + (first + n) * n_vocab};
}

inline void expect_same_logits(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  const Diff d = diff(got, want);
  std::printf("  %s: max |diff| %.3g (%.3g of max |logit| %.3g)\n", what.c_str(), d.max_abs, d.rel(), d.max_ref);
  EXPECT_LE(d.max_abs, 1e-5 * d.max_ref) << what;
}

}  // namespace moxie::test
