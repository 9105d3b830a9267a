#include <cstdlib>
#include <cstring>

#include "moxie/core/cpu_features.h"
#include "moxie/kernels/registry.h"

namespace moxie::kernels {
namespace {

struct Tables {
  KernelTable table[kIsaCount];
  bool supported[kIsaCount] = {true, false, false};
  Isa best = Isa::scalar;

  Tables() {
    KernelTable& ref = table[int(Isa::scalar)];
    ref.isa = Isa::scalar;
    register_elementwise_ref(ref);
    register_float_gemm_ref(ref);
    register_block32_ref(ref);
    register_kquant_ref(ref);
    register_attention_ref(ref);

    const CpuFeatures& cpu = cpu_features();
    if (cpu.avx2) {
      KernelTable& t = table[int(Isa::avx2)];
      t = ref;
      t.isa = Isa::avx2;
      register_elementwise_avx2(t);
      register_float_gemm_avx2(t);
      register_block32_avx2(t);
      register_kquant_avx2(t);
      register_attention_avx2(t);
      supported[int(Isa::avx2)] = true;
      best = Isa::avx2;
    }
    if (cpu.avx512 && cpu.avx512_vnni && cpu.avx512_bf16) {
      KernelTable& t = table[int(Isa::avx512)];
      t = table[int(Isa::avx2)];
      t.isa = Isa::avx512;
      register_elementwise_avx512(t);
      register_float_gemm_avx512(t);
      register_block32_avx512(t);
      register_kquant_avx512(t);
      register_attention_avx512(t);
      register_repacked_avx512(t);
      supported[int(Isa::avx512)] = true;
      best = Isa::avx512;
    }
    // MOXIE_ISA caps the choice, never raises it above what the CPU runs.
    if (const char* cap = std::getenv("MOXIE_ISA")) {
      for (int i = 0; i < kIsaCount; ++i) {
        if (std::strcmp(cap, isa_name(Isa(i))) == 0 && i < int(best)) best = Isa(i);
      }
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "?";
}

const KernelTable& active() {
  const Tables& t = tables();
  return t.table[int(t.best)];
}

const KernelTable* table_for(Isa isa) {
  const Tables& t = tables();
  return t.supported[int(isa)] ? &t.table[int(isa)] : nullptr;
}

}  // namespace moxie::kernels
