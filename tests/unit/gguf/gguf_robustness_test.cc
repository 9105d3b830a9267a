// Damaged files (truncated, bytes flipped) must give a valid parse or a moxie::Error,
// never a crash or an out-of-bounds read. CI also runs this under ASan + UBSan.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "gguf_test_util.h"
#include "moxie/gguf/summary.h"
#include "moxie/gguf/writer.h"

namespace moxie::test {
namespace {

// A file with a bit of everything: scalars, a string array, a nested array, tensors.
std::vector<uint8_t> sample_file(int n_tokens) {
  const std::string path = temp_path("robust_sample");
  std::vector<std::string> tokens;
  for (int i = 0; i < n_tokens; ++i) tokens.push_back("tok" + std::to_string(i));
  const std::vector<int32_t> types(n_tokens, 1);
  const std::vector<int32_t> a = {1, 2}, b = {3};
  const GgufValue nested[] = {GgufValue::make_array<int32_t>(a), GgufValue::make_array<int32_t>(b)};
  std::vector<uint8_t> data(4096, 0x3c);
  {
    GgufWriter w(path);
    w.add_string("general.architecture", "qwen3moe");
    w.add_u32("qwen3moe.expert_count", 4);
    w.add_u32("qwen3moe.expert_used_count", 2);
    w.add_f32("qwen3moe.rope.freq_base", 1e6f);
    w.add_bool("b", true);
    w.add_string_array("tokenizer.ggml.tokens", tokens);
    w.add_array<int32_t>("tokenizer.ggml.token_type", types);
    w.add("nested", GgufValue::make_array_of_arrays(nested));
    const int64_t e[] = {8, 4}, x[] = {32, 2, 4}, q[] = {64, 3};
    w.add_tensor("token_embd.weight", DType::F32, e, data.data());
    w.add_tensor("blk.0.ffn_up_exps.weight", DType::F16, x, data.data());
    w.add_tensor("blk.0.attn_q.weight", DType::Q8_0, q, data.data());
    w.finish();
  }
  auto bytes = read_file(path);
  std::remove(path.c_str());
  return bytes;
}

// Parses and, on success, touches everything a user could touch.
void parse_and_walk(const std::vector<uint8_t>& bytes) {
  // Copy into an exactly-sized heap buffer so ASan catches any read past the end.
  std::unique_ptr<uint8_t[]> buf(new uint8_t[bytes.size() + 1]);
  if (!bytes.empty()) std::memcpy(buf.get(), bytes.data(), bytes.size());
  try {
    GgufFile f = GgufFile::parse(buf.get(), bytes.size(), "damaged.gguf");
    size_t sink = 0;
    for (const GgufKeyValue& kv : f.metadata()) sink += kv.value.to_display_string(4).size();
    for (const GgufTensorInfo& t : f.tensors()) {
      const auto* p = static_cast<const uint8_t*>(t.view.data);
      sink += p[0] + p[t.n_bytes - 1];
    }
    sink += format_inspect_text(f).size() + format_inspect_json(f).size();
    EXPECT_GT(sink, 0u);
  } catch (const Error&) {
    // a clean, reported rejection
  }
}

TEST(GgufRobustness, SampleParses) {
  const auto bytes = sample_file(50);
  GgufFile f = GgufFile::parse(bytes.data(), bytes.size());
  EXPECT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens").size(), 50u);
}

TEST(GgufRobustness, TruncatedAtEverySixteenth) {
  const auto bytes = sample_file(2000);
  for (int k = 0; k < 16; ++k) {
    const size_t n = bytes.size() * k / 16;
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
    EXPECT_THROW(GgufFile::parse(cut.data(), cut.size(), "cut.gguf"), Error) << "cut at " << n;
  }
}

TEST(GgufRobustness, TruncatedAtEveryByte) {
  const auto bytes = sample_file(3);
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
    // Cutting only trailing padding leaves a valid file; anything else must be rejected.
    parse_and_walk(cut);
  }
  // Cut before the last tensor's data ends: always an error.
  GgufFile whole = GgufFile::parse(bytes.data(), bytes.size());
  uint64_t end = 0;
  for (const auto& t : whole.tensors()) end = std::max(end, whole.data_offset() + t.offset + t.n_bytes);
  for (size_t n = 0; n < end; ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
    EXPECT_THROW(GgufFile::parse(cut.data(), cut.size()), Error) << "cut at " << n;
  }
}

TEST(GgufRobustness, RandomByteFlips) {
  const auto bytes = sample_file(3);
  std::mt19937_64 rng(20240601);
  GgufFile whole = GgufFile::parse(bytes.data(), bytes.size());
  const size_t header_end = whole.data_offset();  // flips in tensor data are always harmless
  int rejected = 0;
  for (int iter = 0; iter < 5000; ++iter) {
    std::vector<uint8_t> damaged = bytes;
    const int n_flips = 1 + int(rng() % 4);
    for (int k = 0; k < n_flips; ++k) {
      const size_t at = rng() % header_end;
      switch (rng() % 3) {
        case 0: damaged[at] ^= uint8_t(1u << (rng() % 8)); break;
        case 1: damaged[at] = uint8_t(rng()); break;
        default: damaged[at] = 0xff; break;
      }
    }
    try {
      GgufFile::parse(damaged.data(), damaged.size());
    } catch (const Error&) {
      ++rejected;
    }
    parse_and_walk(damaged);
  }
  EXPECT_GT(rejected, 100) << "flips in the header should often be caught";
}

}  // namespace
}  // namespace moxie::test
