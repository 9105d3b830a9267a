#pragma once
// Forward helpers shared by the KV cache type tests (kv_f16_test, kv_q8_test): the GQA
// architectures, a prompt's logits decoded token by token or run as one batch, and the
// suites' fixture.
#include <vector>

#include <gtest/gtest.h>

#include "model_test_util.h"

namespace moxie::test {

inline const Arch kGqaArchs[] = {Arch::qwen3moe, Arch::qwen2moe, Arch::llama, Arch::qwen2, Arch::qwen3};

// Logits [n][n_vocab] of ids run one token per forward pass, in a cache of type.
inline std::vector<float> decode_one_by_one(const Model& m, const std::vector<int32_t>& ids, DType type,
                                            ForwardContext& ctx) {
  const int64_t n_vocab = m.config().n_vocab;
  KvCache kv = m.make_kv_cache(1, int64_t(ids.size()), type);
  std::vector<float> all(ids.size() * size_t(n_vocab));
  for (size_t t = 0; t < ids.size(); ++t) {
    Batch b;
    b.add(ids[t], 0, int64_t(t), true);
    m.forward(b, kv, ctx, all.data() + t * size_t(n_vocab));
  }
  return all;
}

// Logits [n][n_vocab] of ids run as one batch in kv (made for them).
inline std::vector<float> one_batch(const Model& m, const std::vector<int32_t>& ids, KvCache& kv,
                                    ForwardContext& ctx) {
  Batch b;
  b.add_sequence(ids, 0, 0, true);
  std::vector<float> all(ids.size() * size_t(m.config().n_vocab));
  m.forward(b, kv, ctx, all.data());
  return all;
}

// The same in a fresh cache of type.
inline std::vector<float> one_batch(const Model& m, const std::vector<int32_t>& ids, DType type,
                                    ForwardContext& ctx) {
  KvCache kv = m.make_kv_cache(1, int64_t(ids.size()), type);
  return one_batch(m, ids, kv, ctx);
}

// A suite's synth models in one temporary folder, and a 2-thread forward context.
class KvTypeTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { dir_ = new TempDir(); }
  static void TearDownTestSuite() { delete dir_; }
  static inline TempDir* dir_ = nullptr;
  ThreadPool pool_{2};
  ForwardContext ctx_{pool_};
};

}  // namespace moxie::test
