#pragma once
// Helpers for the GGUF tests: a byte builder that encodes GGUF fields by hand
// (independently of GgufWriter), temp paths, and error-message matchers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "moxie/core/error.h"
#include "moxie/gguf/reader.h"

namespace moxie::test {

struct Bytes {
  std::vector<uint8_t> b;
  template <class T>
  Bytes& put(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    b.insert(b.end(), tmp, tmp + sizeof(T));
    return *this;
  }
  Bytes& u32(uint32_t v) { return put(v); }
  Bytes& u64(uint64_t v) { return put(v); }
  Bytes& str(const std::string& s) {
    u64(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
  Bytes& pad_to(size_t alignment) { return zeros((alignment - b.size() % alignment) % alignment); }
  size_t size() const { return b.size(); }
};

// Header: magic, version, tensor_count, kv_count.
inline Bytes header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
  Bytes out;
  out.u32(0x46554747).u32(version).u64(n_tensors).u64(n_kv);
  return out;
}

// A tensor info record: name, n_dims, ne..., type, offset.
inline void tensor_info(Bytes& out, const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
  out.str(name).u32(static_cast<uint32_t>(ne.size()));
  for (uint64_t d : ne) out.u64(d);
  out.u32(type).u64(offset);
}

// Parses bytes and returns the moxie::Error message, failing the test when parse succeeds
// or throws anything else.
inline std::string parse_error(const std::vector<uint8_t>& bytes) {
  try {
    GgufFile::parse(bytes.data(), bytes.size(), "test.gguf");
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "parse unexpectedly succeeded";
  return "";
}

inline std::string temp_path(const std::string& stem) {
  return ::testing::TempDir() + "moxie_" + stem + "_" + std::to_string(::getpid()) + ".gguf";
}

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace moxie::test
