#pragma once
// Helpers for the convert and quantize tests: export a GGUF model as a Hugging Face
// checkpoint with tools/ref/hf_export.py (Debian's python3 + numpy), convert it back with
// moxie, and compare files tensor by tensor.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "moxie/convert/converter.h"
#include "moxie/gguf/reader.h"
#include "moxie/quant/quant.h"
#include "unit/model/model_test_util.h"

namespace moxie::test {

inline void hf_export(const std::string& gguf, const std::string& dir, const std::string& extra = "") {
  const std::string cmd = "/usr/bin/python3 " + std::string(MOXIE_SOURCE_DIR) + "/tools/ref/hf_export.py '" + gguf +
                          "' '" + dir + "' " + extra;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

inline convert::ConvertResult convert_dir(const std::string& dir, const std::string& out, DType type) {
  convert::ConvertOptions o;
  o.hf_dir = dir;
  o.out_path = out;
  o.type = type;
  o.n_threads = 2;
  return convert::convert_hf_to_gguf(o);
}

// Every tensor of a is in b, in the same order, with the same type, shape and bytes; with
// values_too, a tensor whose type differs must still hold exactly the same values.
inline void expect_same_tensors(const GgufFile& a, const GgufFile& b, bool values_too = false) {
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (size_t i = 0; i < a.tensors().size(); ++i) {
    const GgufTensorInfo &x = a.tensors()[i], &y = b.tensors()[i];
    ASSERT_EQ(x.name, y.name);
    if (!values_too) {
      EXPECT_EQ(x.type, y.type) << x.name;
    }
    for (int d = 0; d < 4; ++d) EXPECT_EQ(x.ne[d], y.ne[d]) << x.name << " dim " << d;
    if (x.type == y.type) {
      ASSERT_EQ(x.n_bytes, y.n_bytes) << x.name;
      EXPECT_EQ(std::memcmp(x.view.data, y.view.data, x.n_bytes), 0) << x.name << ": the bytes differ";
    } else if (values_too) {  // e.g. a BF16 router that the converter keeps in F32: same values
      std::vector<float> vx(size_t(x.n_elements())), vy(vx.size());
      quant::dequantize_row(x.type, x.view.data, vx.data(), x.n_elements());
      quant::dequantize_row(y.type, y.view.data, vy.data(), y.n_elements());
      EXPECT_EQ(vx, vy) << x.name << ": the values differ";
    }
  }
}

// Logits of the 7-token prompt on both models: max |diff| <= rel_tol * max |logit|.
inline void expect_same_logits(const std::string& a, const std::string& b, double rel_tol = 0) {
  const auto ma = Model::open(a), mb = Model::open(b);
  const std::vector<int32_t> ids = prompt_tokens(7, ma->config().n_vocab, 3);
  ThreadPool pool(2);
  ForwardContext ctx(pool);
  const std::vector<float> la = moxie_logits(*ma, ids, ctx), lb = moxie_logits(*mb, ids, ctx);
  const Diff d = diff(lb, la);
  EXPECT_LE(d.max_abs, rel_tol * d.max_ref) << "logits differ after the round trip (max |logit| " << d.max_ref << ")";
}

}  // namespace moxie::test
