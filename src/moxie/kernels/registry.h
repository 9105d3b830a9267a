#pragma once
// Internal to kernels/: each kernel family fills its slots of a table, once per instruction
// set. A SIMD table starts as a copy of the one below it (avx512 <- avx2 <- scalar), so a
// family registers only what it implements. register_*_avx2/avx512 are only called when the
// CPU supports that set: their files are compiled with its -m flags.
//
// Rules for files in avx2/ and avx512/: include only <immintrin.h>, C headers, core/quant_blocks.h,
// this header and headers of their own folder (avx512/exp16.h) whose helpers sit in an anonymous
// namespace; keep every helper in an anonymous namespace; call no inline function from a header
// shared with other instruction sets and no std template (the linker may keep the AVX-512 copy of
// such a function for every caller, which then faults on AVX2-only CPUs).
#include "moxie/kernels/api.h"

namespace moxie::kernels {

void register_elementwise_ref(KernelTable& t);
void register_elementwise_avx2(KernelTable& t);
void register_elementwise_avx512(KernelTable& t);

void register_float_gemm_ref(KernelTable& t);  // F32, F16, BF16 weights
void register_float_gemm_avx2(KernelTable& t);
void register_float_gemm_avx512(KernelTable& t);

void register_block32_ref(KernelTable& t);  // Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, MXFP4 weights
void register_block32_avx2(KernelTable& t);
void register_block32_avx512(KernelTable& t);

void register_kquant_ref(KernelTable& t);  // Q4_K, Q5_K, Q6_K, Q8_K weights
void register_kquant_avx2(KernelTable& t);
void register_kquant_avx512(KernelTable& t);

void register_attention_ref(KernelTable& t);  // decode attention over cached K/V rows
void register_attention_avx2(KernelTable& t);
void register_attention_avx512(KernelTable& t);

// Q4_K_R16, Q8_0_R16 (quant/repack.h): AVX-512 only; registered after the families whose
// activation conversions they reuse. Other tables have no kernel, so nothing is repacked.
void register_repacked_avx512(KernelTable& t);

// One load per 64-byte line of rows [r0, r1) (row_bytes each, row r at x + r * stride_bytes), in
// address order, values unused. The attention kernels call it a few rows ahead of the rows they
// compute on: their own access order does not train the hardware stream prefetcher, and
// software prefetches are throttled by the few misses a core keeps outstanding (see the header
// of avx512/attention.cc). Compiled without instruction-set flags, so every folder may call it.
void touch_rows(const void* x, int64_t stride_bytes, int64_t r0, int64_t r1, int64_t row_bytes);
// The same rows prefetched into L2 (no load waits for them): the kernels ask for rows further
// ahead this way, so that the touches later find their lines on the way.
void prefetch_rows(const void* x, int64_t stride_bytes, int64_t r0, int64_t r1, int64_t row_bytes);

}  // namespace moxie::kernels
