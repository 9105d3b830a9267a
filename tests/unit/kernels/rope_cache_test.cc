// RopeCache: unscaled and linear tables against closed forms, YaRN tables against the golden
// file made by tools/ref/rope_ref.py (numpy, from HF's DeepSeek-V3 and generic YaRN formulas),
// and validation errors that name the bad field.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "moxie/core/error.h"
#include "moxie/kernels/rope_cache.h"

namespace moxie::kernels {
namespace {

TEST(RopeCache, UnscaledIsClosedForm) {
  RopeParams p;
  p.n_rot = 128;
  p.freq_base = 1e6f;
  const RopeCache cache(p);
  std::vector<float> cs(128);
  for (int64_t pos : {int64_t(0), int64_t(5), int64_t(-5), int64_t(40000)}) {
    cache.fill(pos, cs.data());
    for (int i = 0; i < 64; ++i) {
      const double angle = double(pos) * std::pow(1e6, -2.0 * i / 128.0);
      ASSERT_NEAR(cs[size_t(2 * i)], std::cos(angle), 1e-7) << "pos " << pos << " pair " << i;
      ASSERT_NEAR(cs[size_t(2 * i + 1)], std::sin(angle), 1e-7) << "pos " << pos << " pair " << i;
    }
  }
  EXPECT_EQ(cache.magnitude(), 1.0);
}

TEST(RopeCache, LinearDividesFrequenciesAndKeepsMagnitude) {
  RopeParams p;
  p.n_rot = 64;
  p.freq_base = 10000.0f;
  p.scaling.type = RopeScalingType::linear;
  p.scaling.factor = 4.0f;
  p.scaling.attn_factor = 0.5f;
  const RopeCache cache(p);
  for (int i = 0; i < 32; ++i) EXPECT_DOUBLE_EQ(cache.inv_freq(i), std::pow(10000.0, -i / 32.0) / 4.0);
  EXPECT_EQ(cache.magnitude(), 0.5);
  std::vector<float> cs(64);
  cache.fill(12, cs.data());
  EXPECT_NEAR(cs[2], 0.5 * std::cos(12.0 * std::pow(10000.0, -1.0 / 32.0) / 4.0), 1e-7);
}

// The numbers worked by hand in the reference notes (section 2.3) for DeepSeek-V3.
TEST(RopeCache, DeepseekV3CorrectionDimsAndMscale) {
  const YarnCorrectionDims d = yarn_correction_dims(64, 4096, 10000.0, 32.0, 1.0);
  EXPECT_EQ(d.low, 10.0);
  EXPECT_EQ(d.high, 23.0);
  EXPECT_NEAR(yarn_mscale(40.0, 1.0), 1.3688879, 1e-7);
  EXPECT_EQ(yarn_mscale(0.5, 1.0), 1.0);
  // V3's HF cos/sin magnitude is 1: the attn_factor cancels the built-in 1 + 0.1 ln(40).
  EXPECT_NEAR(deepseek_yarn_attn_factor(40.0, 1.0, 1.0) * yarn_mscale(40.0), 1.0, 1e-15);
}

struct GoldenCase {
  std::string name, kind;
  int64_t dim = 0, orig_ctx = 0, low = 0, high = 0;
  double base = 0, factor = 0, beta_fast = 0, beta_slow = 0, mscale = 0, mscale_all_dim = 0, magnitude = 0;
  std::vector<std::pair<int64_t, std::vector<double>>> rows;  // (pos, dim/2 interleaved pairs)
};

std::vector<GoldenCase> read_golden(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::vector<GoldenCase> cases;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string tag;
    s >> tag;
    if (tag == "case") {
      GoldenCase c;
      s >> c.name >> c.dim >> c.base >> c.factor >> c.orig_ctx >> c.beta_fast >> c.beta_slow >> c.mscale >>
          c.mscale_all_dim >> c.kind >> c.magnitude >> c.low >> c.high;
      cases.push_back(c);
    } else if (tag == "pos") {
      int64_t pos = 0;
      s >> pos;
      std::vector<double> values;
      for (double v; s >> v;) values.push_back(v);
      cases.back().rows.emplace_back(pos, values);
    }
  }
  return cases;
}

TEST(RopeCache, YarnMatchesNumpyGolden) {
  const auto cases = read_golden(std::string(MOXIE_SOURCE_DIR) + "/tests/golden/rope_yarn.txt");
  ASSERT_EQ(cases.size(), 5u);
  for (const GoldenCase& c : cases) {
    SCOPED_TRACE(c.name);
    RopeParams p;
    p.n_rot = c.dim;
    p.freq_base = float(c.base);
    p.scaling.type = RopeScalingType::yarn;
    p.scaling.factor = float(c.factor);
    p.scaling.n_ctx_orig = c.orig_ctx;
    p.scaling.beta_fast = float(c.beta_fast);
    p.scaling.beta_slow = float(c.beta_slow);
    // HF's generic YaRN magnitude is ggml's built-in one (attn_factor 1); DeepSeek's needs the helper.
    p.scaling.attn_factor =
        c.kind == "deepseek" ? float(deepseek_yarn_attn_factor(c.factor, c.mscale, c.mscale_all_dim)) : 1.0f;
    const RopeCache cache(p);
    const YarnCorrectionDims d = yarn_correction_dims(c.dim, c.orig_ctx, c.base, c.beta_fast, c.beta_slow);
    EXPECT_EQ(d.low, double(c.low));
    EXPECT_EQ(d.high, double(c.high));
    EXPECT_NEAR(cache.magnitude(), c.magnitude, 1e-7);
    std::vector<float> cs(static_cast<size_t>(c.dim));
    for (const auto& [pos, want] : c.rows) {
      ASSERT_EQ(want.size(), size_t(c.dim));
      cache.fill(pos, cs.data());
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_NEAR(cs[i], want[i], 3e-7) << "pos " << pos << " value " << i;
      }
    }
  }
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The committed golden must be what tools/ref/rope_ref.py makes today (needs numpy).
TEST(RopeCache, GoldenFileIsUpToDate) {
  const std::string python = "/usr/bin/python3";
  if (!std::filesystem::exists(python) || std::system((python + " -c 'import numpy' 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << python << " with numpy is missing; the numpy oracle cannot run";
  }
  const std::string out = std::string(MOXIE_BINARY_DIR) + "/rope_yarn_regenerated.txt";
  const std::string cmd = python + " " + MOXIE_SOURCE_DIR + "/tools/ref/rope_ref.py " + out;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  EXPECT_EQ(read_all(out), read_all(std::string(MOXIE_SOURCE_DIR) + "/tests/golden/rope_yarn.txt"))
      << "regenerate with: " << cmd;
}

void expect_error_naming(const RopeParams& p, const std::string& field) {
  try {
    RopeCache cache(p);
    ADD_FAILURE() << "no error for bad " << field;
  } catch (const moxie::Error& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
}

TEST(RopeCache, BadParametersNameTheField) {
  RopeParams good;
  good.n_rot = 64;
  RopeParams p = good;
  p.n_rot = 63;
  expect_error_naming(p, "n_rot");
  p = good;
  p.freq_base = 0.0f;
  expect_error_naming(p, "freq_base");
  p = good;
  p.freq_base = std::nanf("");
  expect_error_naming(p, "freq_base");
  p = good;
  p.scaling.type = RopeScalingType::linear;
  p.scaling.factor = -1.0f;
  expect_error_naming(p, "scaling.factor");
  p = good;
  p.scaling.type = RopeScalingType::yarn;
  p.scaling.factor = 4.0f;
  p.scaling.n_ctx_orig = 0;
  expect_error_naming(p, "scaling.n_ctx_orig");
  p.scaling.n_ctx_orig = 4096;
  p.scaling.factor = 0.5f;
  expect_error_naming(p, "scaling.factor");
  p.scaling.factor = 4.0f;
  p.scaling.beta_slow = 0.0f;
  expect_error_naming(p, "scaling.beta_slow");
  p.scaling.beta_slow = 1.0f;
  p.scaling.attn_factor = 0.0f;
  expect_error_naming(p, "scaling.attn_factor");
}

}  // namespace
}  // namespace moxie::kernels
