// Loading refuses files the forward pass cannot run correctly, with a moxie::Error naming
// the file and the tensor, key or architecture at fault. The files are synthetic models
// rewritten with one defect each.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "model_test_util.h"
#include "moxie/core/error.h"
#include "moxie/gguf/reader.h"
#include "moxie/gguf/writer.h"

namespace moxie {
namespace {

struct TensorEdit {
  std::string drop;                  // tensor to leave out
  std::string reshape;               // tensor whose ne[1] is halved (data truncated)
  std::string to_f16;                // F32 tensor rewritten as F16
  bool add_rope_freqs = false;       // an extra tensor moxie does not use
  std::string arch;                  // new general.architecture, when not empty
};

// Copies src to dst with one edit.
void rewrite(const std::string& src, const std::string& dst, const TensorEdit& edit) {
  const GgufFile in = GgufFile::open(src);
  GgufWriter out(dst);
  for (const GgufKeyValue& kv : in.metadata()) {
    if (kv.key == "general.architecture" && !edit.arch.empty()) {
      out.add_string(kv.key, edit.arch);
    } else {
      out.add(kv.key, kv.value);
    }
  }
  std::vector<std::vector<uint16_t>> halves;  // keeps F16 copies alive until finish()
  for (const GgufTensorInfo& t : in.tensors()) {
    if (t.name == edit.drop) continue;
    std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
    if (t.name == edit.reshape) ne[1] /= 2;
    if (t.name == edit.to_f16) {
      halves.emplace_back(size_t(t.n_elements()), uint16_t(0x3c00));  // 1.0 in binary16
      out.add_tensor(t.name, DType::F16, ne, halves.back().data());
      continue;
    }
    out.add_tensor(t.name, t.type, ne, t.view.data);
  }
  static const float kFreqs[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  if (edit.add_rope_freqs) out.add_tensor("rope_freqs.weight", DType::F32, std::vector<int64_t>{8}, kFreqs);
  out.finish();
}

// Model::open(path) must throw an Error mentioning every needle.
void expect_open_error(const std::string& path, const std::vector<std::string>& needles) {
  try {
    Model::open(path);
    ADD_FAILURE() << path << " opened without error";
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const std::string& n : needles) EXPECT_NE(what.find(n), std::string::npos) << "\"" << n << "\" not in: " << what;
  }
}

class ModelLoad : public testing::Test {
 protected:
  test::TempDir dir_;
  std::string good_ = test::synth_model(dir_, Arch::qwen2moe, "tiny", DType::F32, 3);
  std::string bad_ = dir_.file("bad.gguf");
};

TEST_F(ModelLoad, TheUneditedCopyLoads) {
  rewrite(good_, bad_, {});
  EXPECT_NO_THROW(Model::open(bad_));
}

TEST_F(ModelLoad, MissingTensorIsNamed) {
  rewrite(good_, bad_, {.drop = "blk.1.attn_k.weight"});
  expect_open_error(bad_, {"bad.gguf", "blk.1.attn_k.weight", "missing"});
}

TEST_F(ModelLoad, WrongShapeIsNamed) {
  rewrite(good_, bad_, {.reshape = "blk.0.ffn_up_exps.weight"});
  expect_open_error(bad_, {"blk.0.ffn_up_exps.weight", "shape [64, 16, 8]", "[64, 32, 8]"});
}

TEST_F(ModelLoad, NormsMustBeF32) {
  rewrite(good_, bad_, {.to_f16 = "blk.0.attn_norm.weight"});
  expect_open_error(bad_, {"blk.0.attn_norm.weight", "F32"});
}

TEST_F(ModelLoad, UnusedTensorIsAnUnsupportedFeature) {
  rewrite(good_, bad_, {.add_rope_freqs = true});
  expect_open_error(bad_, {"rope_freqs.weight", "feature moxie does not support"});
}

TEST_F(ModelLoad, UnknownArchitectureIsNamed) {
  rewrite(good_, bad_, {.arch = "mamba"});
  expect_open_error(bad_, {"mamba", "not supported"});
}

TEST_F(ModelLoad, WithoutOutputWeightTheHeadIsTheEmbedding) {
  rewrite(good_, bad_, {.drop = "output.weight"});
  const auto m = Model::open(bad_);
  ASSERT_EQ(m->file().find_tensor("output.weight"), nullptr);
  const std::vector<int32_t> ids = {5, 17, 300};
  const auto ref = test::reference_logits(bad_, {ids}, dir_.file("ref"));  // tied there too
  ThreadPool pool(1);
  ForwardContext ctx(pool);
  const test::Diff d = test::diff(test::moxie_logits(*m, ids, ctx), ref[0]);
  EXPECT_LE(d.max_abs, 1e-4 * d.max_ref);
}

TEST_F(ModelLoad, KvShapeIsTheConfigsPerTokenSize) {
  const auto m = Model::open(good_);
  EXPECT_EQ(m->kv_shape().k_width, m->config().n_head_kv * m->config().head_dim_k);
  EXPECT_EQ(KvCache::bytes_per_token(m->kv_shape()),
            m->config().n_layer * m->config().kv_floats_per_token_layer() * int64_t(sizeof(float)));
}

}  // namespace
}  // namespace moxie
