// Each malformed input must raise a moxie::Error whose message names the file, the
// field and the byte offset. Files are encoded by hand (gguf_test_util.h), not by
// GgufWriter, so the expected offsets are worked out here from the format.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gguf_test_util.h"

namespace moxie::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// Header is 24 bytes: magic@0, version@4, tensor_count@8, kv_count@16.
constexpr size_t kHeaderBytes = 24;

// A valid file: one u32 key, one f32 tensor [4, 2] at offset 0.
Bytes valid_file() {
  Bytes f = header(1, 1);
  f.str("general.architecture").u32(8).str("test");
  tensor_info(f, "w", {4, 2}, 0, 0);
  f.pad_to(32).zeros(32);
  return f;
}

TEST(GgufMalformed, ValidBaselineParses) {
  const Bytes f = valid_file();
  GgufFile g = GgufFile::parse(f.b.data(), f.size(), "test.gguf");
  EXPECT_EQ(g.tensors().size(), 1u);
  EXPECT_EQ(g.get_string("general.architecture"), "test");
}

TEST(GgufMalformed, BadMagic) {
  Bytes f = valid_file();
  f.b[0] = 'X';
  EXPECT_THAT(parse_error(f.b), AllOf(HasSubstr("test.gguf"), HasSubstr("magic at byte 0"), HasSubstr("not a GGUF")));
}

TEST(GgufMalformed, EmptyAndTinyFiles) {
  EXPECT_THAT(parse_error({}), AllOf(HasSubstr("magic at byte 0"), HasSubstr("needs 4 bytes")));
  EXPECT_THAT(parse_error({'G', 'G', 'U', 'F', 3}), HasSubstr("version at byte 4"));
}

TEST(GgufMalformed, Version1Rejected) {
  Bytes f = header(0, 0, 1);
  EXPECT_THAT(parse_error(f.b), AllOf(HasSubstr("version at byte 4"), HasSubstr("version 1 is not supported")));
}

TEST(GgufMalformed, Version99Rejected) {
  Bytes f = header(0, 0, 99);
  EXPECT_THAT(parse_error(f.b), AllOf(HasSubstr("version at byte 4"), HasSubstr("unsupported GGUF version 99")));
}

TEST(GgufMalformed, Version2Accepted) {
  Bytes f = header(0, 0, 2);
  EXPECT_EQ(GgufFile::parse(f.b.data(), f.size()).version(), 2u);
}

TEST(GgufMalformed, AbsurdTensorCount) {
  Bytes f = header(uint64_t(1) << 60, 0);
  EXPECT_THAT(parse_error(f.b), AllOf(HasSubstr("tensor_count at byte 8"), HasSubstr("cannot fit")));
}

TEST(GgufMalformed, AbsurdKvCount) {
  Bytes f = header(0, ~uint64_t(0));
  EXPECT_THAT(parse_error(f.b), AllOf(HasSubstr("metadata_kv_count at byte 16"), HasSubstr("cannot fit")));
}

TEST(GgufMalformed, KeyLengthPastEof) {
  Bytes f = header(0, 1);
  f.u64(1000).zeros(20);  // key claims 1000 bytes
  EXPECT_THAT(parse_error(f.b), AllOf(HasSubstr("metadata[0].key at byte 24"), HasSubstr("string length 1000")));
}

TEST(GgufMalformed, StringValueLengthPastEof) {
  Bytes f = header(0, 1);
  f.str("k").u32(8).u64(uint64_t(1) << 62);
  // key: 8 + 1 bytes at 24, type at 33, string length at 37.
  EXPECT_THAT(parse_error(f.b), AllOf(HasSubstr("metadata key \"k\" value at byte 37"), HasSubstr("string length")));
}

TEST(GgufMalformed, ArrayCountPastEof) {
  Bytes f = header(0, 1);
  f.str("k").u32(9).u32(4).u64(1000000).zeros(16);
  // array header at 37: element type @37, count @41.
  EXPECT_THAT(parse_error(f.b), AllOf(HasSubstr("metadata key \"k\" value count at byte 41"), HasSubstr("1000000 u32")));
}

TEST(GgufMalformed, UnknownValueType) {
  Bytes f = header(0, 1);
  f.str("k").u32(13).zeros(8);
  EXPECT_THAT(parse_error(f.b), AllOf(HasSubstr("metadata key \"k\" value type at byte 33"), HasSubstr("unknown value type 13")));
}

TEST(GgufMalformed, DuplicateKey) {
  Bytes f = header(0, 2);
  f.str("a.b").u32(0).put<uint8_t>(1);  // 8+3+4+1 = 16 bytes, second key at 40
  f.str("a.b").u32(0).put<uint8_t>(2);
  EXPECT_THAT(parse_error(f.b), AllOf(HasSubstr("metadata[1].key at byte 40"), HasSubstr("duplicate key \"a.b\"")));
}

TEST(GgufMalformed, DeepNestingRejected) {
  Bytes f = header(0, 1);
  f.str("k").u32(9);
  for (int i = 0; i < 20; ++i) f.u32(9).u64(1);  // array of array of ...
  f.u32(0).u64(0);
  EXPECT_THAT(parse_error(f.b), HasSubstr("nested deeper than"));
}

TEST(GgufMalformed, BadAlignment) {
  Bytes f = header(0, 1);
  f.str("general.alignment").u32(4).u32(24);  // value at 24+8+17+4 = 53
  EXPECT_THAT(parse_error(f.b), AllOf(HasSubstr("\"general.alignment\" value at byte 53"), HasSubstr("power of two")));
  Bytes z = header(0, 1);
  z.str("general.alignment").u32(4).u32(0);
  EXPECT_THAT(parse_error(z.b), HasSubstr("power of two"));
  Bytes s = header(0, 1);
  s.str("general.alignment").u32(8).str("32");
  EXPECT_THAT(parse_error(s.b), HasSubstr("non-negative integer"));
}

// Tensor info offsets: the first info starts right after the metadata.
struct TensorCase {
  Bytes file;
  size_t info_at;
};
TensorCase one_tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset,
                      size_t data_bytes = 64) {
  TensorCase c{header(1, 0), kHeaderBytes};
  tensor_info(c.file, name, std::move(ne), type, offset);
  c.file.pad_to(32).zeros(data_bytes);
  return c;
}

TEST(GgufMalformed, TooManyDims) {
  auto c = one_tensor("w", {1, 1, 1, 1, 1}, 0, 0);
  // name "w" is 9 bytes, so n_dims is at 24 + 9 = 33.
  EXPECT_THAT(parse_error(c.file.b), AllOf(HasSubstr("tensor_info[0] (\"w\").n_dims at byte 33"), HasSubstr("5 dimensions")));
}

TEST(GgufMalformed, ZeroDim) {
  auto c = one_tensor("w", {4, 0}, 0, 0);
  // ne[0] at 37, ne[1] at 45.
  EXPECT_THAT(parse_error(c.file.b), AllOf(HasSubstr("tensor_info[0] (\"w\").ne[1] at byte 45"), HasSubstr("dimension 0")));
}

TEST(GgufMalformed, OverflowingDimProduct) {
  auto c = one_tensor("w", {uint64_t(1) << 40, uint64_t(1) << 30}, 0, 0);
  EXPECT_THAT(parse_error(c.file.b), AllOf(HasSubstr("ne[1] at byte 45"), HasSubstr("overflows")));
}

TEST(GgufMalformed, OverflowingByteSize) {
  // 2^61 f32 elements fit in int64, their 2^63 bytes do not.
  auto c = one_tensor("w", {uint64_t(1) << 61}, 0, 0);
  EXPECT_THAT(parse_error(c.file.b), AllOf(HasSubstr("type at byte 45"), HasSubstr("overflows 64 bits")));
}

TEST(GgufMalformed, UnknownTensorType) {
  auto c = one_tensor("w", {4}, 4, 0);  // 4 was Q4_2, removed from ggml
  EXPECT_THAT(parse_error(c.file.b), AllOf(HasSubstr("tensor_info[0] (\"w\").type at byte 45"), HasSubstr("unknown ggml type id 4")));
  auto d = one_tensor("w", {4}, 1000, 0);
  EXPECT_THAT(parse_error(d.file.b), HasSubstr("unknown ggml type id 1000"));
}

TEST(GgufMalformed, NeZeroNotMultipleOfBlock) {
  auto c = one_tensor("w", {33}, 8, 0);  // Q8_0 blocks are 32 wide
  EXPECT_THAT(parse_error(c.file.b), AllOf(HasSubstr("ne[0]"), HasSubstr("byte 45"), HasSubstr("not a multiple of q8_0's block size 32")));
}

TEST(GgufMalformed, MisalignedOffset) {
  auto c = one_tensor("w", {4}, 0, 8);
  // offset field at 45 + 4 = 49.
  EXPECT_THAT(parse_error(c.file.b), AllOf(HasSubstr("tensor_info[0] (\"w\").offset at byte 49"), HasSubstr("not a multiple of the alignment 32")));
}

TEST(GgufMalformed, DataPastEof) {
  auto c = one_tensor("w", {32}, 0, 0, 64);  // needs 128 bytes, 64 present
  EXPECT_THAT(parse_error(c.file.b), AllOf(HasSubstr("offset at byte 49"), HasSubstr("runs past the end")));
  auto d = one_tensor("w", {4}, 0, uint64_t(1) << 63);  // huge aligned offset
  EXPECT_THAT(parse_error(d.file.b), HasSubstr("runs past the end"));
}

TEST(GgufMalformed, DuplicateTensorName) {
  Bytes f = header(2, 0);
  tensor_info(f, "w", {8}, 0, 0);   // 9 + 4 + 8 + 4 + 8 = 33 bytes: second at 57
  tensor_info(f, "w", {8}, 0, 32);
  f.pad_to(32).zeros(64);
  EXPECT_THAT(parse_error(f.b), AllOf(HasSubstr("tensor_info[1].name at byte 57"), HasSubstr("duplicate tensor name \"w\"")));
}

TEST(GgufMalformed, OverlappingTensors) {
  Bytes f = header(2, 0);
  tensor_info(f, "a", {16}, 0, 0);  // 64 bytes at 0
  tensor_info(f, "b", {8}, 0, 32);  // starts inside a
  f.pad_to(32).zeros(128);
  EXPECT_THAT(parse_error(f.b), AllOf(HasSubstr("tensor_info[1] (\"b\").offset at byte 82"), HasSubstr("overlaps tensor_info[0]")));
}

TEST(GgufMalformed, TensorNameTooLong) {
  auto c = one_tensor(std::string(64, 'x'), {4}, 0, 0);
  EXPECT_THAT(parse_error(c.file.b), AllOf(HasSubstr("tensor_info[0].name at byte 24"), HasSubstr("at most 63")));
}

TEST(GgufMalformed, OpenNamesMissingFile) {
  try {
    GgufFile::open("/nonexistent/dir/model.gguf");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), AllOf(HasSubstr("/nonexistent/dir/model.gguf"), HasSubstr("cannot open")));
  }
  EXPECT_THROW(GgufFile::open(::testing::TempDir()), Error);  // a directory
}

TEST(GgufMalformed, GettersNameKeyAndType) {
  Bytes f = header(0, 3);
  f.str("a.count").u32(5).put<int32_t>(-3);   // value at 24+15+4 = 43
  f.str("a.big").u32(10).u64(uint64_t(1) << 40);
  f.str("a.name").u32(8).str("x");
  GgufFile g = GgufFile::parse(f.b.data(), f.size(), "test.gguf");
  EXPECT_EQ(g.get_i32("a.count"), -3);
  EXPECT_EQ(g.get_i64("a.count"), -3);
  EXPECT_THAT([&] { try { g.get_u32("a.count"); } catch (const Error& e) { return std::string(e.what()); } return std::string(); }(),
              AllOf(HasSubstr("test.gguf"), HasSubstr("\"a.count\" value at byte 43"), HasSubstr("i32 -3")));
  EXPECT_EQ(g.get_u64("a.big"), uint64_t(1) << 40);
  EXPECT_THROW(g.get_u32("a.big"), Error);  // does not fit
  EXPECT_THROW(g.get_string("a.count"), Error);
  EXPECT_THROW(g.get_u32("a.name"), Error);
  EXPECT_THAT([&] { try { g.get_u32("a.missing"); } catch (const Error& e) { return std::string(e.what()); } return std::string(); }(),
              HasSubstr("\"a.missing\" is missing"));
  EXPECT_FALSE(g.opt_u32("a.missing").has_value());
  EXPECT_EQ(g.opt_i64("a.count"), -3);
  EXPECT_THROW(g.opt_u32("a.name"), Error);  // present with the wrong type is still an error
}

}  // namespace
}  // namespace moxie::test
