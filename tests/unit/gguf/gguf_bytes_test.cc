// Byte-exact check of a tiny file written by GgufWriter against bytes worked out by
// hand from the GGUF layout (docs/gguf.md), and the reader on those same bytes.
#include <gtest/gtest.h>

#include <cstdio>

#include "gguf_test_util.h"
#include "moxie/gguf/writer.h"

namespace moxie::test {
namespace {

// metadata: "a" = u32 7, "b" = [string "xy"]; tensor "t" = f32 ne {2} = {1.0, 2.0}.
const std::vector<uint8_t> kExpected = {
    // header @0: "GGUF", version 3, 1 tensor, 2 kv
    0x47, 0x47, 0x55, 0x46, 0x03, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    // kv @24: key "a" (len 1), type u32 (4), value 7
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 'a',
    0x04, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00,
    // kv @41: key "b", type array (9), element type string (8), count 1, "xy"
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 'b',
    0x09, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 'x', 'y',
    // tensor info @76: name "t", n_dims 1, ne[0] 2, type f32 (0), offset 0
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 't',
    0x01, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    // @109: zero padding to 128
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    // data @128: 1.0f, 2.0f, then padding to 160
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

TEST(GgufBytes, WriterMatchesHandEncodedBytes) {
  ASSERT_EQ(kExpected.size(), 160u);
  const std::string path = temp_path("bytes");
  const std::vector<std::string_view> b = {"xy"};
  const float t[] = {1.0f, 2.0f};
  const int64_t ne[] = {2};
  GgufWriter w(path);
  w.add_u32("a", 7);
  w.add_string_array("b", b);
  w.add_tensor("t", DType::F32, ne, t);
  w.finish();
  const std::vector<uint8_t> got = read_file(path);
  ASSERT_EQ(got.size(), kExpected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], kExpected[i]) << "byte " << i;
  std::remove(path.c_str());
}

TEST(GgufBytes, ReaderDecodesHandEncodedBytes) {
  GgufFile f = GgufFile::parse(kExpected.data(), kExpected.size(), "hand.gguf");
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset(), 128u);
  ASSERT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.metadata()[0].key_offset, 24u);
  EXPECT_EQ(f.metadata()[1].key_offset, 41u);
  EXPECT_EQ(f.find("a")->type(), GgufType::U32);
  EXPECT_EQ(f.find("a")->file_offset(), 37u);
  EXPECT_EQ(f.get_u32("a"), 7u);
  ASSERT_EQ(f.get_string_array("b").size(), 1u);
  EXPECT_EQ(f.get_string_array("b")[0], "xy");
  ASSERT_EQ(f.tensors().size(), 1u);
  const GgufTensorInfo& t = f.tensors()[0];
  EXPECT_EQ(t.name, "t");
  EXPECT_EQ(t.info_offset, 76u);
  EXPECT_EQ(t.n_bytes, 8u);
  EXPECT_EQ(t.view.data, kExpected.data() + 128);  // zero-copy
  const float* v = static_cast<const float*>(t.view.data);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], 2.0f);
}

}  // namespace
}  // namespace moxie::test
