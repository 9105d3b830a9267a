#pragma once
// What the CPU we run on can execute, read once with CPUID (and XGETBV for OS support).
namespace moxie {

struct CpuFeatures {
  bool avx2 = false;     // with FMA and F16C
  bool avx512 = false;   // F, BW, VL, DQ
  bool avx512_vnni = false;
  bool avx512_bf16 = false;
};

const CpuFeatures& cpu_features();
// Number of physical cores (the default thread count); falls back to logical CPUs.
int physical_core_count();

}  // namespace moxie
