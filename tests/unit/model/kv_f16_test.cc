// The F16 KV cache (the command line's default, `--cache-type f16`), on synthetic F32 models
// of every GQA architecture:
//   - decoding token by token equals one batch over the same tokens: both attend over the
//     same F16-rounded rows, so only float rounding of the kernels' tiling differs;
//   - the logits stay within F16 rounding of the F32 cache's, and differ from them (the rows
//     really are rounded);
//   - the cache takes half the bytes of an F32 one, and an MLA model keeps its F32 latents.
// The F32-cache oracle is moxie's own forward, which model_golden_test checks against numpy.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "kv_type_test_util.h"
#include "model_test_util.h"

namespace moxie {
namespace {

using test::decode_one_by_one;
using test::kGqaArchs;
using test::one_batch;

class KvF16 : public test::KvTypeTest {};

TEST_F(KvF16, DecodingEqualsOneBatchAndStaysWithinF16RoundingOfF32) {
  for (Arch arch : kGqaArchs) {
    const std::string path = test::synth_model(*dir_, arch, "tiny", DType::F32, 17);
    const auto m = Model::open(path);
    const std::vector<int32_t> ids = test::prompt_tokens(20, m->config().n_vocab, 5);
    const std::vector<float> f16_batch = one_batch(*m, ids, DType::F16, ctx_);
    const std::vector<float> f16_steps = decode_one_by_one(*m, ids, DType::F16, ctx_);
    const test::Diff same = test::diff(f16_steps, f16_batch);
    EXPECT_LE(same.max_abs, 1e-5 * same.max_ref) << path << ": F16 decode vs one batch";

    const test::Diff vs_f32 = test::diff(f16_batch, one_batch(*m, ids, DType::F32, ctx_));
    std::printf("  %s: F16 vs F32 cache logits max |diff| %.3g of max %.3g\n", path.c_str(), vs_f32.max_abs,
                vs_f32.max_ref);
    EXPECT_GT(vs_f32.max_abs, 0.0) << path << ": the F16 cache gave the F32 logits exactly";
    // K and V rows carry a relative rounding error of at most 2^-11 (4.9e-4); through the
    // softmax and the remaining layers that stays of the same order relative to the logits
    // (measured 1.9e-4 to 3.0e-4 on these models).
    EXPECT_LE(vs_f32.max_abs, 2e-3 * vs_f32.max_ref) << path << ": F16 vs F32 cache";
  }
}

TEST_F(KvF16, HalfTheBytesAndMlaKeepsF32) {
  const auto gqa = Model::open(test::synth_model(*dir_, Arch::qwen3moe, "tiny", DType::F32, 3));
  EXPECT_EQ(gqa->make_kv_cache(2, 8, DType::F16).size_bytes() * 2, gqa->make_kv_cache(2, 8).size_bytes());
  EXPECT_EQ(gqa->kv_shape(DType::F16).type, DType::F16);
  const auto mla = Model::open(test::synth_model(*dir_, Arch::deepseek2, "tiny", DType::F32, 3));
  EXPECT_EQ(mla->kv_shape(DType::F16).type, DType::F32);
  EXPECT_EQ(mla->make_kv_cache(1, 8, DType::F16).size_bytes(), mla->make_kv_cache(1, 8).size_bytes());
}

}  // namespace
}  // namespace moxie
