// Bad Hugging Face input gets a moxie::Error that names what is wrong.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>

#include "convert_test_util.h"
#include "moxie/convert/hf_config.h"
#include "moxie/convert/hf_matrix.h"
#include "moxie/convert/safetensors.h"
#include "moxie/core/error.h"

namespace moxie {
namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// A safetensors file written by hand: header length, header, data.
void write_safetensors(const std::string& path, const std::string& header, const std::string& data,
                       uint64_t claimed_len = 0) {
  std::ofstream f(path, std::ios::binary);
  const uint64_t n = claimed_len ? claimed_len : header.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f << header << data;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ConvertErrors, MissingConfig) {
  test::TempDir dir;
  const std::string msg = error_of([&] { test::convert_dir(dir.file(""), dir.file("out.gguf"), DType::F32); });
  EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.gguf")));
}

TEST(ConvertErrors, UnsupportedArchitectureIsNamed) {
  const std::string msg = error_of([] {
    convert::parse_hf_config(R"({"architectures": ["MambaForCausalLM"], "hidden_size": 64})", "x/config.json");
  });
  EXPECT_NE(msg.find("MambaForCausalLM"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Qwen3MoeForCausalLM"), std::string::npos) << msg;  // lists what is supported
}

TEST(ConvertErrors, MissingConfigKeyIsNamed) {
  const std::string msg = error_of([] {
    convert::parse_hf_config(R"({"architectures": ["Qwen3MoeForCausalLM"], "hidden_size": 64, "num_hidden_layers": 2,
                                 "num_attention_heads": 4, "vocab_size": 300, "num_experts": 8})",
                             "x/config.json");
  });
  EXPECT_NE(msg.find("num_experts_per_tok"), std::string::npos) << msg;
}

TEST(ConvertErrors, TruncatedSafetensorsHeader) {
  test::TempDir dir;
  const std::string path = dir.file("model.safetensors");
  write_safetensors(path, R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", "", 4096);
  const std::string msg = error_of([&] { convert::SafetensorsFile f(path); });
  EXPECT_NE(msg.find("truncated safetensors header"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  write_text(path, "abc");
  EXPECT_NE(error_of([&] { convert::SafetensorsFile f(path); }).find("truncated"), std::string::npos);
}

TEST(ConvertErrors, DtypeMismatchNamesTheTensor) {
  test::TempDir dir;
  const std::string path = dir.file("model.safetensors");
  // BF16 [2, 3] needs 12 bytes, the offsets give 24 (as if it were F32).
  write_safetensors(path, R"({"w": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 24]}})", std::string(24, '\0'));
  const std::string msg = error_of([&] { convert::SafetensorsFile f(path); });
  EXPECT_NE(msg.find("\"w\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("dtype mismatch"), std::string::npos) << msg;
}

TEST(ConvertErrors, DataOutsideTheFile) {
  test::TempDir dir;
  const std::string path = dir.file("model.safetensors");
  write_safetensors(path, R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", std::string(8, '\0'));
  const std::string msg = error_of([&] { convert::SafetensorsFile f(path); });
  EXPECT_NE(msg.find("outside"), std::string::npos) << msg;
}

TEST(ConvertErrors, NoWeights) {
  test::TempDir dir;
  const std::string msg = error_of([&] { convert::Checkpoint c(dir.file("")); });
  EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
}

TEST(ConvertErrors, IndexNamesAMissingTensor) {
  test::TempDir dir;
  write_safetensors(dir.file("a.safetensors"), R"({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})",
                    std::string(4, '\0'));
  write_text(dir.file("model.safetensors.index.json"), R"({"weight_map": {"x": "a.safetensors", "y": "a.safetensors"}})");
  const std::string msg = error_of([&] { convert::Checkpoint c(dir.file("")); });
  EXPECT_NE(msg.find("\"y\""), std::string::npos) << msg;
}

// A real export with one tensor removed, one with a wrong shape: both named.
TEST(ConvertErrors, MissingAndMisshapenTensorsAreNamed) {
  test::TempDir dir;
  const std::string original = test::synth_model(dir, Arch::qwen3, "tiny", DType::F32, 2);
  const std::string hf = dir.file("hf");
  test::hf_export(original, hf, "--shard-bytes 100000");
  const std::string index_path = hf + "/model.safetensors.index.json";
  std::ifstream in(index_path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  const std::string key = "\"model.layers.1.self_attn.k_norm.weight\"";
  const size_t at = text.find(key);
  ASSERT_NE(at, std::string::npos);
  std::string broken = text;
  broken.replace(at, key.size(), "\"model.layers.1.self_attn.k_norm.renamed\"");
  write_text(index_path, broken);
  std::string msg = error_of([&] { test::convert_dir(hf, dir.file("out.gguf"), DType::F32); });
  EXPECT_NE(msg.find("renamed"), std::string::npos) << msg;  // the index names a tensor its shard lacks
  write_text(index_path, text);
  write_text(hf + "/config.json", [&] {
    std::ifstream c(hf + "/config.json");
    std::string s((std::istreambuf_iterator<char>(c)), std::istreambuf_iterator<char>());
    const size_t p = s.find("\"intermediate_size\": ");
    s.replace(p, std::string("\"intermediate_size\": ").size(), "\"intermediate_size\": 2");  // 128 -> 2128
    return s;
  }());
  msg = error_of([&] { test::convert_dir(hf, dir.file("out.gguf"), DType::F32); });
  EXPECT_NE(msg.find("mlp.gate_proj.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected"), std::string::npos) << msg;
}

TEST(ConvertErrors, Fp8WithoutScalesIsNamed) {
  test::TempDir dir;
  const std::string path = dir.file("model.safetensors");
  write_safetensors(path, R"({"w": {"dtype": "F8_E4M3", "shape": [2, 2], "data_offsets": [0, 4]}})", std::string(4, '\0'));
  convert::SafetensorsFile f(path);
  const std::string msg = error_of([&] { convert::HfMatrix m(f.tensors().at("w")); });
  EXPECT_NE(msg.find("w_scale_inv"), std::string::npos) << msg;
}

}  // namespace
}  // namespace moxie
