// Scalar reference of the decode attention kernel (api.h, AttentionArgs): the oracle the
// SIMD versions are tested against. Dots, softmax and the weighted sum of V run in double,
// head by head, straight from the definition; F16 cached rows are widened exactly, I8 tiles'
// elements multiplied by their scales exactly (no rounding of q or of the weights).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "moxie/core/half.h"
#include "moxie/kernels/registry.h"
#include "moxie/core/kv_int8.h"

namespace moxie::kernels {
namespace {

// One kv head's slice of a cached row: its elements (F32, F16) or, for I8 tiles, the piece
// holding it, its position in the tile, its role and its scale.
struct Slice {
  DType type;
  const void* x;
  int64_t width = 0, p = 0;
  KvRole role = KvRole::key;
  double scale = 1.0;
};

// Element i of a cached slice, exactly (F16 widened, I8 times its scale, in double).
double cached(const Slice& r, int64_t i) {
  if (r.type == DType::F16) return double(fp16_to_fp32(static_cast<const uint16_t*>(r.x)[i]));
  if (r.type == DType::I8) {
    return double(static_cast<const int8_t*>(r.x)[kv_int8_offset(r.role, r.width, r.p, i)]) * r.scale;
  }
  return double(static_cast<const float*>(r.x)[i]);
}

// Head g's slice of position s: F32/F16 rows at base + s * stride + g * width elements; I8
// pieces at base + g * head_stride + s / 16 * stride bytes (core/kv_int8.h).
Slice slice(DType type, const void* base, int64_t stride, int64_t head_stride, int64_t g, int64_t width, int64_t s,
            KvRole role) {
  if (type != DType::I8) return {type, static_cast<const char*>(base) + row_bytes(type, s * stride + g * width)};
  const char* piece = static_cast<const char*>(base) + g * head_stride + s / kKvInt8Tile * stride;
  const int64_t p = s % kKvInt8Tile;
  return {type, piece, width, p, role, double(kv_int8_piece_scales(piece, width)[p])};
}

double dot_double(const float* q, const Slice& k, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += double(q[i]) * cached(k, i);
  return s;
}

void attention_ref(const AttentionArgs& a) {
  const int64_t n_heads = a.n_kv * a.n_q;
  std::vector<double> p(size_t(a.n_pos));
  std::vector<double> o(size_t(a.dv));
  // Every head's output is computed before any is written: o may alias q.
  std::vector<float> out(size_t(n_heads * a.dv));
  for (int64_t i = 0; i < n_heads; ++i) {
    const int64_t g = i / a.n_q;  // kv head
    double max = -std::numeric_limits<double>::infinity();
    for (int64_t s = 0; s < a.n_pos; ++s) {
      double dot = dot_double(a.q + i * a.q_stride, slice(a.kv_type, a.k, a.k_stride, a.k_head_stride, g, a.dk, s, KvRole::key), a.dk);
      if (a.dk2 > 0) {
        dot += dot_double(a.q2 + i * a.q2_stride, slice(a.kv_type, a.k2, a.k2_stride, 0, g, a.dk2, s, KvRole::key), a.dk2);
      }
      p[size_t(s)] = double(a.scale) * dot;
      max = std::max(max, p[size_t(s)]);
    }
    double sum = 0.0;
    for (double& x : p) sum += (x = std::exp(x - max));
    std::fill(o.begin(), o.end(), 0.0);
    for (int64_t s = 0; s < a.n_pos; ++s) {
      const Slice v = slice(a.kv_type, a.v, a.v_stride, a.v_head_stride, g, a.dv, s, KvRole::value);
      for (int64_t d = 0; d < a.dv; ++d) o[size_t(d)] += p[size_t(s)] * cached(v, d);
    }
    for (int64_t d = 0; d < a.dv; ++d) out[size_t(i * a.dv + d)] = float(o[size_t(d)] / sum);
  }
  for (int64_t i = 0; i < n_heads; ++i) {
    for (int64_t d = 0; d < a.dv; ++d) a.o[i * a.o_stride + d] = out[size_t(i * a.dv + d)];
  }
}

}  // namespace

void register_attention_ref(KernelTable& t) { t.attention = attention_ref; }

}  // namespace moxie::kernels
