// GgufWriter -> GgufFile round trips (every value type, several tensor types and shapes,
// streamed and produced data), and the writer's own error handling.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

#include "gguf_test_util.h"
#include "moxie/gguf/writer.h"

namespace moxie::test {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

TEST(GgufRoundTrip, EveryValueType) {
  const std::string path = temp_path("values");
  const std::vector<uint32_t> u32s = {0, 1, 4294967295u};
  const std::vector<int64_t> i64s = {std::numeric_limits<int64_t>::min(), 0, std::numeric_limits<int64_t>::max()};
  const std::vector<float> f32s = {0.5f, -1.25f, std::numeric_limits<float>::infinity()};
  const std::vector<double> f64s = {1e-300, 2.5};
  const std::vector<bool> bools_src = {true, false, true};
  const bool bools[] = {true, false, true};
  const std::vector<std::string> tokens = {"<s>", "", "Ġhello", "\xe2\x9c\x93"};
  const std::vector<int32_t> inner_a = {1, -2};
  const std::vector<int32_t> inner_b = {};
  const GgufValue nested_items[] = {GgufValue::make_array<int32_t>(inner_a), GgufValue::make_array<int32_t>(inner_b)};
  {
    GgufWriter w(path);
    w.add_u8("v.u8", 255);
    w.add_i8("v.i8", -128);
    w.add_u16("v.u16", 65535);
    w.add_i16("v.i16", -32768);
    w.add_u32("v.u32", 4000000000u);
    w.add_i32("v.i32", -2000000000);
    w.add_f32("v.f32", 0.1f);
    w.add_bool("v.bool", true);
    w.add_string("v.string", "qwen3moe");
    w.add_u64("v.u64", std::numeric_limits<uint64_t>::max());
    w.add_i64("v.i64", std::numeric_limits<int64_t>::min());
    w.add_f64("v.f64", -0.1);
    w.add_array<uint32_t>("a.u32", u32s);
    w.add_array<int64_t>("a.i64", i64s);
    w.add_array<float>("a.f32", f32s);
    w.add_array<double>("a.f64", f64s);
    w.add_array<bool>("a.bool", bools);
    w.add_string_array("a.string", tokens);
    w.add("a.nested", GgufValue::make_array_of_arrays(nested_items));
    w.finish();
  }
  GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.metadata().size(), 19u);
  EXPECT_EQ(f.metadata()[0].key, "v.u8");  // insertion order kept
  EXPECT_EQ(f.find("v.u8")->type(), GgufType::U8);
  EXPECT_EQ(f.get_u32("v.u8"), 255u);
  EXPECT_EQ(f.get_i32("v.i8"), -128);
  EXPECT_EQ(f.get_u32("v.u16"), 65535u);
  EXPECT_EQ(f.get_i32("v.i16"), -32768);
  EXPECT_EQ(f.get_u32("v.u32"), 4000000000u);
  EXPECT_EQ(f.get_i32("v.i32"), -2000000000);
  EXPECT_EQ(std::bit_cast<uint32_t>(f.get_f32("v.f32")), std::bit_cast<uint32_t>(0.1f));
  EXPECT_TRUE(f.get_bool("v.bool"));
  EXPECT_EQ(f.get_string("v.string"), "qwen3moe");
  EXPECT_EQ(f.get_u64("v.u64"), std::numeric_limits<uint64_t>::max());
  EXPECT_THROW(f.get_i64("v.u64"), Error);  // does not fit i64
  EXPECT_EQ(f.get_i64("v.i64"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(f.get_f64("v.f64"), -0.1);
  auto a_u32 = f.get_array("a.u32").numbers<uint32_t>();
  EXPECT_EQ(std::vector<uint32_t>(a_u32.begin(), a_u32.end()), u32s);
  EXPECT_EQ(f.get_i64_array("a.i64"), i64s);
  auto a_f32 = f.get_f32_array("a.f32");
  EXPECT_EQ(a_f32, f32s);
  auto a_f64 = f.get_array("a.f64").numbers<double>();
  EXPECT_EQ(std::vector<double>(a_f64.begin(), a_f64.end()), f64s);
  auto a_bool = f.get_array("a.bool").numbers<bool>();
  EXPECT_EQ(std::vector<bool>(a_bool.begin(), a_bool.end()), bools_src);
  auto strs = f.get_string_array("a.string");
  ASSERT_EQ(strs.size(), tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) EXPECT_EQ(strs[i], tokens[i]);
  const GgufValue& nested = f.get_array("a.nested");
  ASSERT_EQ(nested.elem_type(), GgufType::ARRAY);
  ASSERT_EQ(nested.items().size(), 2u);
  auto n0 = nested.items()[0].numbers<int32_t>();
  EXPECT_EQ(std::vector<int32_t>(n0.begin(), n0.end()), inner_a);
  EXPECT_EQ(nested.items()[1].size(), 0u);
  EXPECT_EQ(nested.items()[1].elem_type(), GgufType::I32);
  std::remove(path.c_str());
}

struct TensorSpec {
  std::string name;
  DType type;
  std::vector<int64_t> ne;
};

TEST(GgufRoundTrip, TensorsOfSeveralTypesAndShapes) {
  const std::vector<TensorSpec> specs = {
      {"token_embd.weight", DType::F32, {7, 3}},
      {"blk.0.ffn_gate_exps.weight", DType::Q4_K, {256, 3, 4}},
      {"blk.0.attn_q.weight", DType::Q8_0, {64, 5}},
      {"blk.0.attn_norm.weight", DType::F16, {9}},
      {"x4", DType::BF16, {2, 3, 4, 5}},
      {"mx", DType::MXFP4, {32, 2}},
  };
  for (uint32_t alignment : {32u, 64u, 1u}) {
    const std::string path = temp_path("tensors");
    std::vector<std::vector<uint8_t>> data;
    {
      GgufWriter w(path);
      if (alignment != 32) w.set_alignment(alignment);
      for (size_t i = 0; i < specs.size(); ++i) {
        const auto& s = specs[i];
        const int64_t rows = std::accumulate(s.ne.begin() + 1, s.ne.end(), int64_t{1}, std::multiplies<>());
        data.push_back(pattern(row_bytes(s.type, s.ne[0]) * rows, uint8_t(i)));
        w.add_tensor(s.name, s.type, s.ne, data.back().data());
      }
      w.finish();
    }
    GgufFile f = GgufFile::open(path);
    EXPECT_EQ(f.alignment(), alignment);
    EXPECT_EQ(f.data_offset() % alignment, 0u);
    ASSERT_EQ(f.tensors().size(), specs.size());
    uint64_t expected_offset = 0;
    for (size_t i = 0; i < specs.size(); ++i) {
      const GgufTensorInfo& t = f.tensors()[i];
      EXPECT_EQ(t.name, specs[i].name);
      EXPECT_EQ(t.type, specs[i].type);
      EXPECT_EQ(t.n_dims, int(specs[i].ne.size()));
      for (size_t j = 0; j < specs[i].ne.size(); ++j) EXPECT_EQ(t.ne[j], specs[i].ne[j]);
      EXPECT_EQ(t.offset, expected_offset);
      expected_offset += (t.n_bytes + alignment - 1) / alignment * alignment;
      ASSERT_EQ(t.n_bytes, data[i].size());
      EXPECT_EQ(std::memcmp(t.view.data, data[i].data(), t.n_bytes), 0) << t.name;
      EXPECT_EQ(t.view.n_bytes(), int64_t(t.n_bytes));
      EXPECT_EQ(f.find_tensor(specs[i].name), &t);
    }
    EXPECT_EQ(f.file_size(), f.data_offset() + expected_offset);  // padded after the last tensor too
    EXPECT_EQ(f.find_tensor("nope"), nullptr);
    std::remove(path.c_str());
  }
}

TEST(GgufRoundTrip, StreamedAndProducedData) {
  const std::string path = temp_path("stream");
  const auto a = pattern(4 * 100, 1), b = pattern(2 * 33, 2), c = pattern(4 * 8, 3);
  {
    GgufWriter w(path);
    const int64_t ne_a[] = {100}, ne_b[] = {33}, ne_c[] = {8};
    w.add_tensor("a", DType::F32, ne_a);  // streamed
    w.add_tensor("b", DType::F16, ne_b, [&](const GgufWriter::Sink& sink) {
      sink(b.data(), 10);
      sink(b.data() + 10, b.size() - 10);
    });
    w.add_tensor("c", DType::F32, ne_c);  // streamed
    w.write_header();
    EXPECT_THROW(w.add_u32("late", 1), Error);
    for (size_t i = 0; i < a.size(); i += 64) w.write_tensor_data(a.data() + i, std::min<size_t>(64, a.size() - i));
    w.write_tensor_data(c.data(), c.size());  // b's producer runs first, in order
    w.finish();
  }
  GgufFile f = GgufFile::open(path);
  ASSERT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(std::memcmp(f.find_tensor("a")->view.data, a.data(), a.size()), 0);
  EXPECT_EQ(std::memcmp(f.find_tensor("b")->view.data, b.data(), b.size()), 0);
  EXPECT_EQ(std::memcmp(f.find_tensor("c")->view.data, c.data(), c.size()), 0);
  std::remove(path.c_str());
}

TEST(GgufRoundTrip, WriterErrorsLeaveNoFile) {
  const std::string path = temp_path("errors");
  std::remove(path.c_str());
  const int64_t ne[] = {8};
  const auto data = pattern(32, 0);
  {
    GgufWriter w(path);
    w.add_u32("k", 1);
    EXPECT_THROW(w.add_u32("k", 2), Error);                       // duplicate key
    EXPECT_THROW(w.set_alignment(24), Error);                     // not a power of two
    const int64_t bad_block[] = {33};
    EXPECT_THROW(w.add_tensor("q", DType::Q8_0, bad_block), Error);
    const int64_t zero[] = {0};
    EXPECT_THROW(w.add_tensor("z", DType::F32, zero), Error);
    EXPECT_THROW(w.add_tensor(std::string(64, 'n'), DType::F32, ne), Error);
    w.add_tensor("t", DType::F32, ne);
    EXPECT_THROW(w.add_tensor("t", DType::F32, ne), Error);      // duplicate name
    w.write_header();
    w.write_tensor_data(data.data(), 16);                         // half of t
    EXPECT_THAT([&] { try { w.finish(); } catch (const Error& e) { return std::string(e.what()); } return std::string(); }(),
                HasSubstr("only 16 of 32 bytes"));
  }
  EXPECT_TRUE(read_file(path).empty()) << "no file may appear after a failed write";
  {
    GgufWriter w(path);
    w.add_tensor("t", DType::F32, ne);
    w.write_header();
    EXPECT_THROW(w.write_tensor_data(data.data(), 33), Error);   // more than t holds
  }
  EXPECT_TRUE(read_file(path).empty());
}

TEST(GgufRoundTrip, EmptyFileHasOnlyHeader) {
  const std::string path = temp_path("empty");
  GgufWriter(path).finish();
  GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.metadata().size(), 0u);
  EXPECT_EQ(f.tensors().size(), 0u);
  EXPECT_EQ(f.file_size(), 32u);  // 24-byte header padded to 32, as gguf-py writes it
  std::remove(path.c_str());
}

}  // namespace
}  // namespace moxie::test
