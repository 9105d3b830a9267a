// Cross-checks against tools/ref/gguf.py, an independent Python GGUF implementation:
//  - Python writes a file with every value type plus a typed JSON of what it meant to
//    write; the C++ reader must read exactly that;
//  - GgufWriter writes a file; Python reads it, dumps typed JSON, which must match what
//    C++ wrote.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "gguf_test_util.h"
#include "moxie/gguf/writer.h"

namespace moxie::test {
namespace {

using nlohmann::json;

const std::string kTool = std::string(MOXIE_SOURCE_DIR) + "/tools/ref/gguf.py";

bool python_available() {
  return std::system("/usr/bin/python3 -c 'import numpy' > /dev/null 2>&1") == 0;
}

json load_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

std::string hex(const void* data, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t b = static_cast<const uint8_t*>(data)[i];
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

// Compares one scalar against its JSON form ("nan"/"inf"/"-inf" for non-finite floats).
void expect_scalar(const GgufValue& v, const json& j, const std::string& where) {
  SCOPED_TRACE(where);
  switch (v.type()) {
    case GgufType::STRING: EXPECT_EQ(v.str(), j.get<std::string>()); return;
    case GgufType::BOOL: {
      bool b = false;
      v.to_bool(&b);
      EXPECT_EQ(b, j.get<bool>());
      return;
    }
    case GgufType::F32:
    case GgufType::F64: {
      double d = 0;
      v.to_f64(&d);
      if (j.is_string()) {
        const std::string s = j.get<std::string>();
        EXPECT_TRUE(s == "nan" ? std::isnan(d) : d == (s == "inf" ? INFINITY : -INFINITY)) << s << " vs " << d;
      } else {
        EXPECT_EQ(d, j.get<double>());  // f32 values are exact doubles on both sides
      }
      return;
    }
    default: {
      int64_t i = 0;
      uint64_t u = 0;
      if (j.is_number_unsigned() && v.to_u64(&u)) EXPECT_EQ(u, j.get<uint64_t>());
      else if (v.to_i64(&i)) EXPECT_EQ(i, j.get<int64_t>());
      else ADD_FAILURE() << "integer mismatch: " << j.dump();
    }
  }
}

// An array value against {"element_type": name, "value": [...]}.
void expect_array(const GgufValue& v, const json& j, const std::string& where) {
  ASSERT_EQ(v.type(), GgufType::ARRAY) << where;
  EXPECT_EQ(gguf_type_name(v.elem_type()), j["element_type"].get<std::string>()) << where;
  const json& items = j["value"];
  ASSERT_EQ(v.size(), items.size()) << where;
  for (uint64_t i = 0; i < v.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (v.elem_type() == GgufType::ARRAY) expect_array(v.items()[i], items[i], at);
    else expect_scalar(v.element(i), items[i], at);
  }
}

void expect_matches(const GgufFile& f, const json& j) {
  EXPECT_EQ(f.version(), j["version"].get<uint32_t>());
  EXPECT_EQ(f.alignment(), j["alignment"].get<uint32_t>());
  if (j.contains("data_offset")) {
    EXPECT_EQ(f.data_offset(), j["data_offset"].get<uint64_t>());
  }
  ASSERT_EQ(f.metadata().size(), j["metadata"].size());
  for (size_t i = 0; i < f.metadata().size(); ++i) {
    const GgufKeyValue& kv = f.metadata()[i];
    const json& e = j["metadata"][i];
    EXPECT_EQ(kv.key, e["key"].get<std::string>());
    EXPECT_EQ(gguf_type_name(kv.value.type()), e["type"].get<std::string>()) << kv.key;
    if (kv.value.type() == GgufType::ARRAY) expect_array(kv.value, e, std::string(kv.key));
    else expect_scalar(kv.value, e["value"], std::string(kv.key));
  }
  ASSERT_EQ(f.tensors().size(), j["tensors"].size());
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const GgufTensorInfo& t = f.tensors()[i];
    const json& e = j["tensors"][i];
    EXPECT_EQ(t.name, e["name"].get<std::string>());
    EXPECT_EQ(static_cast<uint32_t>(t.type), e["type"].get<uint32_t>()) << t.name;
    std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
    EXPECT_EQ(ne, e["ne"].get<std::vector<int64_t>>()) << t.name;
    EXPECT_EQ(t.offset, e["offset"].get<uint64_t>()) << t.name;
    EXPECT_EQ(t.n_bytes, e["nbytes"].get<uint64_t>()) << t.name;
    EXPECT_EQ(hex(t.view.data, t.n_bytes), e["data_hex"].get<std::string>()) << t.name;
  }
}

TEST(GgufPythonOracle, CppReadsWhatPythonWrote) {
  if (!python_available()) GTEST_SKIP() << "/usr/bin/python3 with numpy is not available";
  const std::string gguf = temp_path("py_sample"), js = gguf + ".json";
  ASSERT_EQ(std::system(("/usr/bin/python3 " + kTool + " write-sample " + gguf + " " + js).c_str()), 0);
  GgufFile f = GgufFile::open(gguf);
  expect_matches(f, load_json(js));
  EXPECT_GE(f.metadata().size(), 30u);  // the sample covers every value type
  std::remove(gguf.c_str());
  std::remove(js.c_str());
}

TEST(GgufPythonOracle, PythonReadsWhatCppWrote) {
  if (!python_available()) GTEST_SKIP() << "/usr/bin/python3 with numpy is not available";
  const std::string gguf = temp_path("cpp_sample"), js = gguf + ".json";
  const std::vector<int16_t> i16s = {-1, 2, 32767};
  const std::vector<uint64_t> u64s = {0, std::numeric_limits<uint64_t>::max()};
  const std::vector<std::string> strs = {"alpha", "", "\xce\xb2"};
  const std::vector<float> f32s = {NAN, -0.0f, 3.5f};
  const std::vector<uint8_t> inner = {9, 8};
  const GgufValue nested[] = {GgufValue::make_array<uint8_t>(inner)};
  const std::vector<uint16_t> f16_data(64, 0x3c00);
  const std::vector<uint8_t> q4k(144 * 2, 0x5a);
  {
    GgufWriter w(gguf);
    w.set_alignment(16);
    w.add_u8("u8", 200);
    w.add_i8("i8", -7);
    w.add_u16("u16", 60000);
    w.add_i16("i16", -12345);
    w.add_u32("u32", 123456789);
    w.add_i32("i32", -123456789);
    w.add_f32("f32", -2.75f);
    w.add_bool("bool", false);
    w.add_string("string", "line\nbreak \"quoted\"");
    w.add_u64("u64", uint64_t(1) << 63);
    w.add_i64("i64", -(int64_t(1) << 50));
    w.add_f64("f64", std::numeric_limits<double>::infinity());
    w.add_array<int16_t>("arr.i16", i16s);
    w.add_array<uint64_t>("arr.u64", u64s);
    w.add_array<float>("arr.f32", f32s);
    w.add_string_array("arr.string", strs);
    w.add("arr.nested", GgufValue::make_array_of_arrays(nested));
    const int64_t ne_a[] = {16, 4}, ne_b[] = {256, 2};
    w.add_tensor("a", DType::F16, ne_a, f16_data.data());
    w.add_tensor("b", DType::Q4_K, ne_b, q4k.data());
    w.finish();
  }
  ASSERT_EQ(std::system(("/usr/bin/python3 " + kTool + " dump " + gguf + " > " + js).c_str()), 0);
  const json j = load_json(js);
  GgufFile f = GgufFile::open(gguf);
  expect_matches(f, j);
  // And against the values C++ meant to write, not only against the C++ reader.
  EXPECT_EQ(j["alignment"], 16);
  EXPECT_EQ(j["metadata"][0]["key"], "general.alignment");
  EXPECT_EQ(j["metadata"][3]["value"], 60000);
  EXPECT_EQ(j["metadata"][9]["value"], "line\nbreak \"quoted\"");
  EXPECT_EQ(j["metadata"][10]["value"].get<uint64_t>(), uint64_t(1) << 63);
  EXPECT_EQ(j["metadata"][12]["value"], "inf");
  EXPECT_EQ(j["metadata"][15]["value"][0], "nan");
  EXPECT_EQ(j["metadata"][17]["value"][0]["value"], json({9, 8}));
  EXPECT_EQ(j["tensors"][1]["offset"], 128);  // 64 f16 = 128 bytes, already 16-aligned
  EXPECT_EQ(j["tensors"][1]["data_hex"].get<std::string>(), hex(q4k.data(), q4k.size()));
  std::remove(gguf.c_str());
  std::remove(js.c_str());
}

}  // namespace
}  // namespace moxie::test
