// The int8 KV cache (`--cache-type q8`, DType::I8), on synthetic F32 models of every GQA
// architecture:
//   - what layer 0 stores is its F32 rows in the documented format (core/kv_int8.h): tiles
//     of 16 positions, one piece per kv head of int8 elements in the key (value) order and
//     then 16 float scales, the region head-major (kv head g's pieces of every tile, then
//     g + 1's), scale = max |x| / 127, each element within half a scale of its float.
//     Layer 0's k and v do not depend on the cache type, so the F32 cache's rows are the
//     exact input; the check below reads the pieces at offsets written from the format's
//     description, not through quantize_kv_int8_row, kv_int8_offset or get_kv_int8_row;
//   - decoding token by token gives bit for bit the logits of one batch over the same tokens;
//   - the logits stay within a measured distance of the F32 cache's, and differ from them
//     (compared where both routed every token to the same experts);
//   - the cache takes n_head_kv * (head_dim + 4) bytes per row, in whole tiles of 16 rows,
//     and an MLA model keeps its F32 latents when q8 is asked.
// The F32-cache oracle is moxie's own forward, which model_golden_test checks against numpy.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "kv_type_test_util.h"
#include "model_test_util.h"

namespace moxie {
namespace {

using test::decode_one_by_one;
using test::kGqaArchs;
using test::one_batch;

// one_batch, also giving per position the experts every MoE layer chose (sorted ids, as
// text; empty for a dense model) through the forward's trace hook.
std::vector<float> one_batch_routed(const Model& m, const std::vector<int32_t>& ids, DType type, ForwardContext& ctx,
                                    std::vector<std::string>* routes) {
  routes->assign(ids.size(), "");
  ctx.trace = [routes](std::string_view name, int64_t layer, const float* data, int64_t n_rows, int64_t row_len) {
    if (name != "ffn_moe_experts") return;
    for (int64_t t = 0; t < n_rows; ++t) {
      std::vector<float> chosen(data + t * row_len, data + (t + 1) * row_len);
      std::sort(chosen.begin(), chosen.end());
      std::string& r = (*routes)[size_t(t)];
      r.append(" L").append(std::to_string(layer)).push_back(':');
      for (float e : chosen) r.append(" ").append(std::to_string(int(e)));
    }
  };
  std::vector<float> logits = one_batch(m, ids, type, ctx);
  ctx.trace = nullptr;
  return logits;
}

// Where core/kv_int8.h puts element d of tile position p (0 <= p < 16) in a kv head's piece
// of width elements, written from its description: keys keep 4 dims of all 16 positions per
// 64 bytes, values 4 positions of each dim per 4 bytes. The scales follow the 16 * width
// elements, one float per position.
int64_t key_byte(int64_t p, int64_t d) { return (d / 4 * 16 + p) * 4 + d % 4; }
int64_t value_byte(int64_t width, int64_t p, int64_t d) { return (p / 4 * width + d) * 4 + p % 4; }

// Checks one position's stored int8 slices against the floats they were made from: x is the
// position's row (n_heads slices of width), region its layer's cached pieces of 16 * (width +
// 4) bytes, head-major: head h's piece of tile t at h * head_bytes + t * 16 * (width + 4),
// where head_bytes holds the region's n_tiles pieces of one head. Each scale is the slice's
// max |x| / 127, the largest element is +-127, and every element is within half a scale of
// its float.
void expect_int8_row(const float* x, const char* region, int64_t n_tiles, int64_t pos, bool key, int64_t n_heads,
                     int64_t width, const std::string& what) {
  const int64_t p = pos % 16, piece_bytes = 16 * (width + 4), head_bytes = n_tiles * piece_bytes;
  for (int64_t h = 0; h < n_heads; ++h) {
    const float* xs = x + h * width;
    const char* piece = region + h * head_bytes + pos / 16 * piece_bytes;
    std::vector<int> q(static_cast<size_t>(width));
    for (int64_t d = 0; d < width; ++d) {
      q[size_t(d)] = int8_t(piece[key ? key_byte(p, d) : value_byte(width, p, d)]);
    }
    float scale;
    std::memcpy(&scale, piece + 16 * width + p * int64_t(sizeof(float)), sizeof scale);
    double max_abs = 0;
    int64_t arg_max = 0;
    for (int64_t d = 0; d < width; ++d) {
      if (std::fabs(double(xs[d])) > max_abs) {
        max_abs = std::fabs(double(xs[d]));
        arg_max = d;
      }
    }
    ASSERT_GT(max_abs, 0.0) << what << " head " << h << ": an all-zero slice in a synthetic model";
    ASSERT_NEAR(scale, max_abs / 127.0, 1e-6 * max_abs / 127.0) << what << " head " << h << ": scale";
    ASSERT_EQ(std::abs(q[size_t(arg_max)]), 127) << what << " head " << h << ": the largest element";
    for (int64_t d = 0; d < width; ++d) {
      ASSERT_LE(std::fabs(double(q[size_t(d)]) * scale - double(xs[d])), 0.5 * scale * (1 + 1e-5))
          << what << " head " << h << " element " << d << ": " << xs[d] << " stored as " << q[size_t(d)] << " * "
          << scale;
    }
  }
}

class KvQ8 : public test::KvTypeTest {};

// 20 positions: a whole tile and part of a second.
TEST_F(KvQ8, LayerZeroStoresItsF32RowsAsInt8TilesWithOneScalePerHead) {
  for (Arch arch : kGqaArchs) {
    const std::string path = test::synth_model(*dir_, arch, "tiny", DType::F32, 17);
    const auto m = Model::open(path);
    const ModelConfig& c = m->config();
    const std::vector<int32_t> ids = test::prompt_tokens(20, c.n_vocab, 9);
    KvCache f32 = m->make_kv_cache(1, int64_t(ids.size()), DType::F32);
    KvCache q8 = m->make_kv_cache(1, int64_t(ids.size()), DType::I8);
    one_batch(*m, ids, f32, ctx_);
    one_batch(*m, ids, q8, ctx_);
    ASSERT_EQ(q8.k_row_bytes(), c.n_head_kv * (c.head_dim_k + 4)) << path;
    ASSERT_EQ(q8.v_row_bytes(), c.n_head_kv * (c.head_dim_v + 4)) << path;
    const int64_t n_tiles = 2;  // 20 positions' capacity: a whole tile and part of a second
    ASSERT_EQ(q8.k_head_stride(), n_tiles * 16 * (c.head_dim_k + 4)) << path;
    ASSERT_EQ(q8.v_head_stride(), n_tiles * 16 * (c.head_dim_v + 4)) << path;
    const auto* k_region = static_cast<const char*>(q8.k_data(0, 0));
    const auto* v_region = static_cast<const char*>(q8.v_data(0, 0));
    for (int64_t pos = 0; pos < int64_t(ids.size()); ++pos) {
      const std::string at = path + " position " + std::to_string(pos);
      expect_int8_row(f32.k(0, 0) + pos * c.n_head_kv * c.head_dim_k, k_region, n_tiles, pos, true, c.n_head_kv,
                      c.head_dim_k, at + " k");
      expect_int8_row(f32.v(0, 0) + pos * c.n_head_kv * c.head_dim_v, v_region, n_tiles, pos, false, c.n_head_kv,
                      c.head_dim_v, at + " v");
    }
  }
}

TEST_F(KvQ8, DecodingEqualsOneBatchAndStaysNearF32) {
  for (Arch arch : kGqaArchs) {
    const std::string path = test::synth_model(*dir_, arch, "tiny", DType::F32, 17);
    const auto m = Model::open(path);
    const int64_t n_vocab = m->config().n_vocab;
    const std::vector<int32_t> ids = test::prompt_tokens(20, n_vocab, 5);
    std::vector<std::string> q8_routes, f32_routes;
    const std::vector<float> q8_batch = one_batch_routed(*m, ids, DType::I8, ctx_, &q8_routes);
    // Both read the same rows, stored from the same floats (the projections give a token
    // the same k and v alone or in a batch): bit-identical, measured on AVX-512 and on the
    // scalar and AVX2 paths (MOXIE_ISA).
    EXPECT_EQ(decode_one_by_one(*m, ids, DType::I8, ctx_), q8_batch) << path << ": q8 decode vs one batch";

    const std::vector<float> f32_batch = one_batch_routed(*m, ids, DType::F32, ctx_, &f32_routes);
    EXPECT_NE(q8_batch, f32_batch) << path << ": the q8 cache gave the F32 logits exactly";
    // Over the positions routed to the same experts in every layer: a flipped top-k choice
    // (a near tie moved by the rounding) changes a position's logits by the size of an
    // expert's output, not of the cache's error (measured once: qwen2moe, position 8, layer
    // 1, 0.22 of a largest logit of 4.6, on the reference kernel).
    test::Diff d;
    int64_t n_flipped = 0;
    for (size_t t = 0; t < ids.size(); ++t) {
      if (q8_routes[t] != f32_routes[t]) {
        ++n_flipped;
        continue;
      }
      const test::Diff dt = test::diff(q8_batch, f32_batch, t * size_t(n_vocab), (t + 1) * size_t(n_vocab));
      d.max_abs = std::max(d.max_abs, dt.max_abs);
      d.max_ref = std::max(d.max_ref, dt.max_ref);
      d.mean_abs += dt.mean_abs;  // a sum of per-position means (equal-sized rows) until below
    }
    ASSERT_LT(n_flipped, int64_t(ids.size())) << path;
    d.mean_abs /= double(int64_t(ids.size()) - n_flipped);
    std::printf("  %s: q8 vs F32 cache logits max |diff| %.3g of max %.3g (%.3g), mean %.3g; %lld of %zu "
                "positions routed differently\n", path.c_str(), d.max_abs, d.max_ref, d.rel(), d.mean_abs,
                (long long)n_flipped, ids.size());
    EXPECT_LE(n_flipped, int64_t(ids.size()) / 4) << path;
    // K and V elements carry an absolute error of up to half a scale, 1/254 of their head's
    // largest element (F16: 2^-11 relative to each element). Measured 4.4e-3 to 8.2e-3 of
    // the largest logit (mean 7e-4 to 1.1e-3) on these models, on AVX-512 VNNI (which also
    // rounds q to int8 and the softmax weights to uint8) and on the scalar reference alike;
    // F16: 1.9e-4 to 3.0e-4. A misread row or scale is of the logits' own size.
    EXPECT_LE(d.max_abs, 2.5e-2 * d.max_ref) << path << ": q8 vs F32 cache";
    EXPECT_LE(d.mean_abs, 3e-3 * d.max_ref) << path << ": q8 vs F32 cache, mean";
  }
}

TEST_F(KvQ8, RowsTakeWidthPlusFourBytesPerHeadInWholeTilesAndMlaKeepsF32) {
  for (Arch arch : kGqaArchs) {
    const auto m = Model::open(test::synth_model(*dir_, arch, "tiny", DType::F32, 3));
    const ModelConfig& c = m->config();
    const KvShape s = m->kv_shape(DType::I8);
    EXPECT_EQ(s.type, DType::I8);
    EXPECT_EQ(s.k_groups, c.n_head_kv);
    EXPECT_EQ(s.v_groups, c.n_head_kv);
    // Per token and layer: n_head_kv int8 k slices and v slices, and a float scale for each.
    const int64_t per_token = c.n_layer * c.n_head_kv * (c.head_dim_k + 4 + c.head_dim_v + 4);
    EXPECT_EQ(KvCache::bytes_per_token(s), per_token) << arch_name(arch);
    // Whole tiles of 16 tokens per sequence.
    EXPECT_EQ(m->make_kv_cache(2, 32, DType::I8).size_bytes(), 2 * 32 * per_token) << arch_name(arch);
    EXPECT_EQ(m->make_kv_cache(2, 8, DType::I8).size_bytes(), 2 * 16 * per_token) << arch_name(arch);
    EXPECT_LT(m->make_kv_cache(2, 32, DType::I8).size_bytes(), m->make_kv_cache(2, 32, DType::F16).size_bytes());
  }
  const auto mla = Model::open(test::synth_model(*dir_, Arch::deepseek2, "tiny", DType::F32, 3));
  EXPECT_EQ(mla->kv_shape(DType::I8).type, DType::F32);
  KvCache kv = mla->make_kv_cache(1, 8, DType::I8);
  EXPECT_EQ(kv.shape().type, DType::F32);
  EXPECT_EQ(kv.size_bytes(), mla->make_kv_cache(1, 8).size_bytes());
  // ... and runs in it: the logits of an F32 cache.
  const std::vector<int32_t> ids = test::prompt_tokens(6, mla->config().n_vocab, 2);
  EXPECT_EQ(one_batch(*mla, ids, kv, ctx_), one_batch(*mla, ids, DType::F32, ctx_));
}

}  // namespace
}  // namespace moxie
