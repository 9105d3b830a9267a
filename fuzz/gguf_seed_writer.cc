// Writes a handful of small GGUF files with GgufWriter into a directory: the seed corpus
// for gguf_reader_fuzz (.ci/fuzz.sh generates it fresh each run, so no binaries live in git).
#include <cstdio>
#include <string>
#include <vector>

#include "moxie/core/error.h"
#include "moxie/gguf/writer.h"

namespace {
using moxie::DType;
using moxie::GgufValue;
using moxie::GgufWriter;

void every_value_type(GgufWriter& w) {
  static const std::vector<std::string> tokens = {"<s>", "</s>", "Ġa", "b", ""};
  static const std::vector<int32_t> types = {3, 3, 1, 1, 1};
  static const std::vector<float> scores = {0.f, -1.f, -2.5f, 1e9f, -0.f};
  static const std::vector<int32_t> a = {1, 2}, b = {};
  static const GgufValue nested[] = {GgufValue::make_array<int32_t>(a), GgufValue::make_array<int32_t>(b)};
  w.add_u8("t.u8", 1); w.add_i8("t.i8", -1); w.add_u16("t.u16", 2); w.add_i16("t.i16", -2);
  w.add_u32("t.u32", 3); w.add_i32("t.i32", -3); w.add_f32("t.f32", 0.5f); w.add_bool("t.bool", true);
  w.add_string("t.string", "seed"); w.add_u64("t.u64", 4); w.add_i64("t.i64", -4); w.add_f64("t.f64", 0.25);
  w.add_string_array("tokenizer.ggml.tokens", tokens);
  w.add_array<int32_t>("tokenizer.ggml.token_type", types);
  w.add_array<float>("tokenizer.ggml.scores", scores);
  w.add("t.nested", GgufValue::make_array_of_arrays(nested));
}

void moe_tensors(GgufWriter& w, const std::vector<uint8_t>& bytes) {
  w.add_string("general.architecture", "qwen3moe");
  w.add_u32("qwen3moe.block_count", 1);
  w.add_u32("qwen3moe.expert_count", 4);
  w.add_u32("qwen3moe.expert_used_count", 2);
  const int64_t embd[] = {32, 5}, exps[] = {32, 8, 4}, q8[] = {32, 4}, q4k[] = {256, 1}, norm[] = {32};
  w.add_tensor("token_embd.weight", DType::F32, embd, bytes.data());
  w.add_tensor("blk.0.ffn_up_exps.weight", DType::F16, exps, bytes.data());
  w.add_tensor("blk.0.attn_q.weight", DType::Q8_0, q8, bytes.data());
  w.add_tensor("blk.0.ffn_down.weight", DType::Q4_K, q4k, bytes.data());
  w.add_tensor("blk.0.attn_norm.weight", DType::BF16, norm, bytes.data());
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::vector<uint8_t> bytes(4096);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 31 + 7);
  try {
    { GgufWriter w(dir + "/empty.gguf"); w.finish(); }
    { GgufWriter w(dir + "/values.gguf"); every_value_type(w); w.finish(); }
    { GgufWriter w(dir + "/moe.gguf"); moe_tensors(w, bytes); w.finish(); }
    { GgufWriter w(dir + "/aligned64.gguf"); w.set_alignment(64); moe_tensors(w, bytes); w.finish(); }
    { GgufWriter w(dir + "/all.gguf"); every_value_type(w); moe_tensors(w, bytes); w.finish(); }
  } catch (const moxie::Error& e) {
    std::fprintf(stderr, "gguf_seed_writer: %s\n", e.what());
    return 1;
  }
  return 0;
}
