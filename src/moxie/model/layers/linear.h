#pragma once
// Projections and row-wise helpers every layer uses.
#include <cstdint>
#include <initializer_list>

#include "moxie/core/tensor.h"

namespace moxie {

struct ForwardPass;

// y [n_rows][w.ne[1]] = x [n_rows][w.ne[0]] W^T (+ bias [w.ne[1]] when not null), threaded.
void linear(ForwardPass& p, const TensorView& w, const float* x, int64_t n_rows, float* y,
            const float* bias = nullptr);

// One projection of a shared input: y [n_rows][w.ne[1]] (+ bias when not null).
struct Projection {
  const TensorView& w;
  float* y;
  const float* bias = nullptr;
};
// Several projections of the same x [n_rows][k] (q/k/v, gate/up): activations are converted
// to each weight type's activation format once, not once per projection.
void linear_shared_input(ForwardPass& p, std::initializer_list<Projection> projections, const float* x,
                         int64_t n_rows);

// y[r] = rmsnorm(x[r]) * w for n_rows rows of n floats (w may be null); y may alias x.
void rms_norm_rows(ForwardPass& p, const float* x, const float* w, float* y, int64_t n_rows, int64_t n);

// h[r] += d[r] for n_rows rows of n floats.
void add_rows(ForwardPass& p, float* h, const float* d, int64_t n_rows, int64_t n);

// Adds bias [n] to each of n_rows rows of y.
void add_bias_rows(ForwardPass& p, float* y, const float* bias, int64_t n_rows, int64_t n);

}  // namespace moxie
