#pragma once
// The online-softmax step between the chunks of the decode attention kernels (attention.cc,
// attention_i8.cc): only files compiled with the AVX-512 flags include it (lanes.h).
#include <immintrin.h>
#include <stdint.h>

#include "moxie/kernels/avx512/exp16.h"
#include "moxie/kernels/avx512/lanes.h"

namespace moxie::kernels {
namespace {

inline float max_of(const float* x, int64_t n) {
  __m512 m = _mm512_set1_ps(-__builtin_inff());
  for (int64_t i = 0; i < n; i += 16) m = _mm512_max_ps(m, _mm512_mask_loadu_ps(m, tail_mask(n - i), x + i));
  return _mm512_reduce_max_ps(m);
}

inline void scale_row(float* x, int64_t n, float f) {
  const __m512 vf = _mm512_set1_ps(f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 t = tail_mask(n - i);
    _mm512_mask_storeu_ps(x + i, t, _mm512_mul_ps(_mm512_maskz_loadu_ps(t, x + i), vf));
  }
}

// What the step updates, per head i < n_heads: scores sc[i * stride, + n), running max m[i]
// and sum l[i], and the output accumulated so far o[i * o_stride, + o_len).
struct SoftmaxState {
  int64_t n_heads;
  float* sc;
  int64_t stride;
  float *m, *l;
  float* o;
  int64_t o_stride, o_len;
};

// The step for one chunk of n scores per head: the running max m[i] becomes max(m[i], the
// chunk's max); what was summed so far (l[i] and o[i]) is rescaled by e^(m_old - m_new); the
// chunk's scores become e^(score - m_new) and are added to l[i].
inline void softmax_update(const SoftmaxState& st, int64_t n) {
  for (int64_t i = 0; i < st.n_heads; ++i) {
    float* x = st.sc + i * st.stride;
    const float chunk_max = max_of(x, n);
    const float m_new = st.m[i] > chunk_max ? st.m[i] : chunk_max;
    const float rescale = _mm512_cvtss_f32(exp16(_mm512_set1_ps(st.m[i] - m_new)));  // 0 for the first chunk
    if (rescale != 1.0f) scale_row(st.o + i * st.o_stride, st.o_len, rescale);
    st.l[i] = st.l[i] * rescale + exp_shifted_sum(x, n, m_new);
    st.m[i] = m_new;
  }
}

}  // namespace
}  // namespace moxie::kernels
