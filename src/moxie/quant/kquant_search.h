#pragma once
// Internal to quant/: the scale searches and 6-bit scale packing the K-quant reference
// quantizers share. They reimplement ggml's make_qkx2_quants / make_qx_quants from their
// definition (ggml-quants.c) so that moxie quantizes a row to the same blocks ggml would.
#include <cstdint>

namespace moxie::quant::kq {

// Round to nearest, ties to even (ggml's nearest_int). Values beyond +-4194303 (where ggml's
// float trick stops working) are clamped first, and NaN becomes 0, so no input is undefined.
int nearest_int(float f);

// Fits x[0..n) ~= scale * L[i] - the_min with L[i] in [0, nmax], minimising the weighted
// squared (or absolute, use_mad) error: a first guess from the range, then nstep + 1 trial
// inverse scales (rmin + rdelta * is + nmax) / (max - min), each refined by least squares.
// Returns scale; *the_min is >= 0 (the min is never above 0). Laux: n bytes of scratch.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad);

// Fits x[0..n) ~= scale * (L[i] - nmax) with L[i] in [0, 2 * nmax), weights x[i]^2 (ggml's
// rmse_type 1, the only kind the K-quants use). The scale may be negative: it is chosen so
// that the value of largest magnitude maps to -nmax. Returns scale (0 for an all-zero x).
float make_qx_quants(int n, int nmax, const float* x, int8_t* L);

// The 12-byte packing of eight 6-bit scales and eight 6-bit mins in Q4_K / Q5_K blocks.
// Sub-blocks 0..3 keep scale and min in the low 6 bits of bytes j and j + 4; sub-blocks 4..7
// keep their low 4 bits in byte j + 4 (scale low nibble, min high nibble) and their top
// 2 bits in the top 2 bits of bytes j - 4 (scale) and j (min).
void get_scale_min_k4(int j, const uint8_t* packed, uint8_t* scale, uint8_t* min);
// Sets sub-block j's scale and min (both < 64). packed must start zeroed.
void put_scale_min_k4(int j, uint8_t scale, uint8_t min, uint8_t* packed);

}  // namespace moxie::quant::kq
