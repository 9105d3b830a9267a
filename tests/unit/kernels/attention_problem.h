#pragma once
// One decode attention problem for the kernel tests (attention_test, attention_i8_test): a
// case's shape, its random buffers laid out as the model's caches, and the arguments that
// pass them as F32, F16 or I8 rows.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "moxie/core/half.h"
#include "moxie/core/kv_int8.h"
#include "unit/kernels/elementwise_test_util.h"

namespace moxie::kernels::testing {

constexpr int64_t kGuard = 64;
constexpr float kSentinel = -777.0f;

struct Case {
  int64_t n_kv, n_q, dk, dk2, dv, n_pos;
  int64_t pad = 0;        // extra floats at the end of every row (strides > the data)
  double sigma = 1.0;     // spread of q and k: scores ~ N(0, sigma^2 * ...)
  bool rising = false;    // scores grow with the position, moving the running max each chunk
};

// Buffers of one case, filled from a seed; rows laid out as the model's caches.
struct Problem {
  Case c;
  std::vector<float> q, q2, k, k2, v, o, scratch;
  std::vector<uint16_t> k16, k2_16, v16;  // F16 copies of k, k2, v, filled by to_f16()
  // I8 tiles of k and v (core/kv_int8.h), filled by to_i8().
  std::vector<float> k8, v8;  // float storage keeps the scales aligned
  int64_t k8_piece_stride = 0, v8_piece_stride = 0, k8_head_stride = 0, v8_head_stride = 0;  // bytes
  int64_t q_stride, q2_stride, k_stride, k2_stride, v_stride, o_stride;

  Problem(const Case& cs, uint32_t seed) : c(cs) {
    const int64_t n_heads = c.n_kv * c.n_q;
    q_stride = c.dk + c.pad;
    q2_stride = c.dk2 + c.pad;
    k_stride = c.n_kv * c.dk + c.pad;
    k2_stride = c.n_kv * c.dk2 + c.pad;
    v_stride = c.n_kv * c.dv + c.pad;
    o_stride = c.dv + c.pad;
    q = random_normal(n_heads * q_stride, c.sigma, seed);
    q2 = random_normal(std::max<int64_t>(1, n_heads * q2_stride), c.sigma, seed + 1);
    k = random_normal(c.n_pos * k_stride, 1.0, seed + 2);
    k2 = random_normal(std::max<int64_t>(1, c.n_pos * k2_stride), 1.0, seed + 3);
    v = random_normal(c.n_pos * v_stride, 1.0, seed + 4);
    if (c.rising) {
      for (int64_t s = 0; s < c.n_pos; ++s) {
        for (int64_t i = 0; i < k_stride; ++i) k[size_t(s * k_stride + i)] *= 1.0f + 0.01f * float(s);
      }
    }
    o.assign(size_t(n_heads * o_stride), 12345.0f);  // padding must keep this value
    // The scratch the contract promises, then guard floats that must stay untouched.
    scratch.assign(size_t(attention_scratch_floats(n_heads, c.dk + c.dk2) + kGuard), kSentinel);
  }

  // Rounds k, k2 and v to F16 (the float copies keep the rounded values too, so an F32 call
  // sees exactly what an F16 call widens) and makes args() pass the F16 rows.
  void to_f16() {
    const auto round = [](std::vector<float>& x, std::vector<uint16_t>& h) {
      h.resize(x.size());
      for (size_t i = 0; i < x.size(); ++i) {
        h[i] = fp32_to_fp16(x[i]);
        x[i] = fp16_to_fp32(h[i]);
      }
    };
    round(k, k16);
    round(k2, k2_16);
    round(v, v16);
  }

  // Rounds k and v to int8 (core/kv_int8.h) into head-major tiles of 16 positions and makes
  // args() pass them; the float copies are replaced by the values the tiles hold (int8 *
  // scale, rounded to float). A tile's unused positions (past n_pos) hold 0xFF bytes: int8 -1
  // and NaN scales, which a kernel must weigh 0. pad > 0 leaves a gap of 64-byte lines after
  // each piece and after each kv head's pieces.
  void to_i8() {
    const auto quantize = [&](std::vector<float>& x, int64_t width, int64_t stride, KvRole role,
                              std::vector<float>& pieces, int64_t* piece_stride, int64_t* head_stride) {
      const int64_t gap = (c.pad * 4 + 63) / 64 * 64;
      const int64_t n_tiles = (c.n_pos + kKvInt8Tile - 1) / kKvInt8Tile;
      *piece_stride = kv_int8_piece_bytes(width) + gap;
      *head_stride = n_tiles * *piece_stride + gap;
      pieces.assign(size_t((c.n_kv * *head_stride + 3) / 4), 0.0f);
      std::memset(pieces.data(), 0xFF, pieces.size() * sizeof(float));
      std::vector<char> row(size_t(kv_int8_row_bytes(c.n_kv, width)));
      std::vector<float> scale(size_t(c.n_kv));
      for (int64_t s = 0; s < c.n_pos; ++s) {
        quantize_kv_int8_row(&x[size_t(s * stride)], c.n_kv, width, row.data());
        char* piece0 = reinterpret_cast<char*>(pieces.data()) + s / kKvInt8Tile * *piece_stride;
        put_kv_int8_row(role, row.data(), c.n_kv, width, piece0, *head_stride, s % kKvInt8Tile);
        // The row's scales follow an odd number of bytes for odd widths: copied out, not loaded.
        std::memcpy(scale.data(), row.data() + c.n_kv * width, scale.size() * sizeof(float));
        for (int64_t i = 0; i < c.n_kv * width; ++i) {
          x[size_t(s * stride + i)] = float(int8_t(row[size_t(i)])) * scale[size_t(i / width)];
        }
      }
    };
    quantize(k, c.dk, k_stride, KvRole::key, k8, &k8_piece_stride, &k8_head_stride);
    quantize(v, c.dv, v_stride, KvRole::value, v8, &v8_piece_stride, &v8_head_stride);
  }

  AttentionArgs args() {
    AttentionArgs a;
    a.n_kv = c.n_kv;
    a.n_q = c.n_q;
    a.n_pos = c.n_pos;
    a.dk = c.dk;
    a.dk2 = c.dk2;
    a.dv = c.dv;
    a.q = q.data();
    a.q_stride = q_stride;
    a.q2 = c.dk2 > 0 ? q2.data() : nullptr;
    a.q2_stride = q2_stride;
    a.k = k.data();
    a.k_stride = k_stride;
    a.k2 = c.dk2 > 0 ? k2.data() : nullptr;
    a.k2_stride = k2_stride;
    a.v = v.data();
    a.v_stride = v_stride;
    if (!k16.empty()) {
      a.kv_type = DType::F16;
      a.k = k16.data();
      a.k2 = c.dk2 > 0 ? k2_16.data() : nullptr;
      a.v = v16.data();
    }
    if (!k8.empty()) {
      a.kv_type = DType::I8;
      a.k = k8.data();
      a.k_stride = k8_piece_stride;
      a.k_head_stride = k8_head_stride;
      a.v = v8.data();
      a.v_stride = v8_piece_stride;
      a.v_head_stride = v8_head_stride;
    }
    a.scale = float(1.0 / std::sqrt(double(c.dk + c.dk2)));
    a.o = o.data();
    a.o_stride = o_stride;
    a.scratch = scratch.data();
    return a;
  }

  bool scratch_guard_intact() const {
    for (size_t i = scratch.size() - size_t(kGuard); i < scratch.size(); ++i) {
      if (scratch[i] != kSentinel) return false;
    }
    return true;
  }

  double max_abs_v() const {
    double m = 0.0;
    for (float x : v) m = std::max(m, double(std::fabs(x)));
    return m;
  }
};

inline double max_abs_err_over(const std::vector<float>& got, const std::vector<float>& want) {
  double worst = 0.0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(double(got[i]) - double(want[i])));
  return worst;
}

inline std::string describe(const Case& c) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "n_kv %lld n_q %lld dk %lld dk2 %lld dv %lld n_pos %lld pad %lld sigma %g%s",
                (long long)c.n_kv, (long long)c.n_q, (long long)c.dk, (long long)c.dk2, (long long)c.dv,
                (long long)c.n_pos, (long long)c.pad, c.sigma, c.rising ? " rising" : "");
  return buf;
}

}  // namespace moxie::kernels::testing
