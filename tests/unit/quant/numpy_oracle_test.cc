// Every C++ dequantizer against the independent numpy one (tools/ref/dequant.py).
//
// For each type moxie has a dequantizer for, random valid blocks are written to a temp file,
// dequantized by `/usr/bin/python3 tools/ref/dequant.py` and by moxie::quant, and compared
// exactly. Exact is the right bar: both sides compute fp32 products of the same fp16/fp32
// scales and small integers, and for these formats every such product is exact in fp32, so the
// only rounding (the final "- dmin*m" / "+ m") happens once on both sides, FMA or not.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "moxie/core/dtype.h"
#include "moxie/core/half.h"
#include "moxie/quant/quant.h"

namespace moxie {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPython = "/usr/bin/python3";

// Types tools/ref/dequant.py implements, by ggml id.
constexpr DType kOracleTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                                  DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::MXFP4, DType::Q4_K,
                                  DType::Q5_K, DType::Q6_K, DType::Q8_K};

// Byte offsets of the binary16 scale fields (d, m, dmin) inside one block of each type.
std::vector<int> half_field_offsets(DType t) {
  switch (t) {
    case DType::Q4_0: case DType::Q5_0: case DType::Q8_0: return {0};
    case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: return {0, 2};
    case DType::Q6_K: return {208};
    default: return {};
  }
}

// A finite binary16 scale in +-[2^-14, 4): random bytes would give inf/NaN ~3% of the time.
uint16_t random_half_scale(std::mt19937& rng) {
  std::uniform_real_distribution<float> mag(-14.0f, 2.0f);
  const float v = std::exp2(mag(rng)) * ((rng() & 1) ? -1.0f : 1.0f);
  return fp32_to_fp16(v);
}

// Random bit patterns for the plain float types (subnormals included), with inf/NaN made finite
// by clearing the top exponent bit.
void fill_plain(DType t, std::mt19937& rng, uint8_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (t == DType::F32) {
      uint32_t bits = uint32_t(rng());
      if ((bits & 0x7f800000u) == 0x7f800000u) bits ^= 0x40000000u;
      std::memcpy(dst + 4 * i, &bits, 4);
      continue;
    }
    uint16_t bits = uint16_t(rng());
    const uint16_t exp_mask = t == DType::F16 ? 0x7c00 : 0x7f80;
    if ((bits & exp_mask) == exp_mask) bits ^= 0x4000;
    std::memcpy(dst + 2 * i, &bits, 2);
  }
}

// Random bytes with every scale field made a sane finite value (the rest is any bit pattern).
std::vector<uint8_t> random_blocks(DType t, std::mt19937& rng, int64_t n_elements) {
  const DTypeInfo& info = dtype_info(t);
  const int64_t n_blocks = n_elements / info.block_size;
  std::vector<uint8_t> bytes(static_cast<size_t>(n_blocks * info.block_bytes));
  for (uint8_t& b : bytes) b = uint8_t(rng());
  if (info.block_size == 1) {
    fill_plain(t, rng, bytes.data(), n_elements);
    return bytes;
  }
  for (int64_t b = 0; b < n_blocks; ++b) {
    uint8_t* block = bytes.data() + b * info.block_bytes;
    for (int off : half_field_offsets(t)) {
      const uint16_t h = random_half_scale(rng);
      std::memcpy(block + off, &h, 2);
    }
    if (t == DType::Q8_K) {  // fp32 d
      const float d = std::ldexp(float(rng() % 1000 + 1), -int(rng() % 20) - 5);
      std::memcpy(block, &d, 4);
    }
    // E8M0 0xff is NaN; above 252, 12 * 2^(e-128) overflows fp32. Keep the exponent in range.
    if (t == DType::MXFP4) block[0] = uint8_t(block[0] % 253);
  }
  return bytes;
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("moxie_numpy_oracle_" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write_file(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  ASSERT_TRUE(f.good()) << "cannot write " << p;
}

std::vector<float> read_floats(const fs::path& p, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  std::ifstream f(p, std::ios::binary);
  f.read(reinterpret_cast<char*>(out.data()), std::streamsize(n * 4));
  EXPECT_EQ(f.gcount(), n * 4) << "numpy output " << p << " is short";
  return out;
}

// Runs dequant.py on the bytes and returns its float32 output.
std::vector<float> numpy_dequantize(DType t, const std::vector<uint8_t>& bytes, int64_t n, const TempDir& dir) {
  const fs::path in = dir.path / "blocks.bin", out = dir.path / "numpy.f32";
  write_file(in, bytes);
  const std::string script = std::string(MOXIE_SOURCE_DIR) + "/tools/ref/dequant.py";
  const std::string cmd = std::string(kPython) + " '" + script + "' " +
                          std::to_string(static_cast<uint32_t>(t)) + " " + std::to_string(n) + " '" +
                          in.string() + "' '" + out.string() + "'";
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << "command failed: " << cmd;
  if (rc != 0) return {};
  return read_floats(out, n);
}

// Units in the last place between two finite floats (0 when equal, +0 == -0).
int64_t ulp_distance(float a, float b) {
  if (a == b) return 0;
  auto ordered = [](float f) {
    const int32_t i = std::bit_cast<int32_t>(f);
    return i < 0 ? int64_t(INT32_MIN) - i : int64_t(i);
  };
  return std::llabs(ordered(a) - ordered(b));
}

void check_type(DType t, const TempDir& dir) {
  std::mt19937 rng(1234u + static_cast<uint32_t>(t));
  const int64_t block = dtype_info(t).block_size;
  // A few hundred blocks per type: enough to hit every scale index and bit position many times.
  const int64_t n = block == 1 ? 4096 : block * (block == 256 ? 64 : 256);
  const std::vector<uint8_t> bytes = random_blocks(t, rng, n);

  std::vector<float> ours(static_cast<size_t>(n));
  quant::quant_fns(t).dequantize(bytes.data(), ours.data(), n);
  const std::vector<float> ref = numpy_dequantize(t, bytes, n, dir);
  ASSERT_EQ(int64_t(ref.size()), n) << dtype_name(t);

  int64_t mismatches = 0, max_ulp = 0, first_bad = -1;
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_FALSE(std::isnan(ref[size_t(i)])) << dtype_name(t) << " numpy gave NaN at element " << i;
    const int64_t d = ulp_distance(ours[size_t(i)], ref[size_t(i)]);
    if (d != 0 && first_bad < 0) first_bad = i;
    mismatches += d != 0;
    max_ulp = std::max(max_ulp, d);
  }
  EXPECT_EQ(mismatches, 0) << dtype_name(t) << ": " << mismatches << " of " << n
                           << " elements differ, max " << max_ulp << " ulp; first at element " << first_bad
                           << " (block " << first_bad / block << "): moxie " << ours[size_t(first_bad)]
                           << " vs numpy " << ref[size_t(first_bad)];
}

TEST(NumpyOracle, DequantizeMatchesNumpyExactly) {
  if (!fs::exists(kPython)) GTEST_SKIP() << kPython << " is missing; the numpy oracle cannot run";
  const TempDir dir;
  std::string checked, absent;
  for (DType t : kOracleTypes) {
    if (!quant::quant_fns(t).dequantize) {
      absent += " " + std::string(dtype_name(t));
      continue;
    }
    SCOPED_TRACE(std::string(dtype_name(t)));
    check_type(t, dir);
    checked += " " + std::string(dtype_name(t));
  }
  std::printf("numpy oracle checked:%s\nno C++ dequantizer yet:%s\n", checked.empty() ? " (none)" : checked.c_str(),
              absent.empty() ? " (none)" : absent.c_str());
  if (checked.empty()) GTEST_SKIP() << "no C++ dequantizer is registered yet";
}

// The oracle itself must reject a type it does not implement, so a typo cannot pass silently.
TEST(NumpyOracle, ScriptRejectsUnknownType) {
  if (!fs::exists(kPython)) GTEST_SKIP() << kPython << " is missing";
  const TempDir dir;
  write_file(dir.path / "x.bin", std::vector<uint8_t>(64));
  const std::string cmd = std::string(kPython) + " '" + MOXIE_SOURCE_DIR + "/tools/ref/dequant.py' 11 256 '" +
                          (dir.path / "x.bin").string() + "' '" + (dir.path / "y.f32").string() + "' 2>/dev/null";
  EXPECT_NE(std::system(cmd.c_str()), 0) << "q3_K is not implemented by dequant.py and must be refused";
}

}  // namespace
}  // namespace moxie
