#include "moxie/quant/quant.h"

#include <string>

#include "moxie/core/error.h"
#include "moxie/quant/families.h"

namespace moxie::quant {
namespace {

struct Table {
  QuantFns fns[kDTypeSlots];
  Table() {
    register_float_quants(fns);
    register_block32_quants(fns);
    register_kquant_quants(fns);
  }
};

const Table& table() {
  static const Table t;
  return t;
}

void check_row(DType t, int64_t n, const char* what) {
  const int64_t block = dtype_info(t).block_size;
  if (n % block != 0) {
    throw Error(std::string(what) + ": row of " + std::to_string(n) + " elements is not a multiple of " +
                std::string(dtype_name(t)) + "'s block size " + std::to_string(block));
  }
}

}  // namespace

const QuantFns& quant_fns(DType t) { return table().fns[static_cast<uint32_t>(t)]; }

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  const QuantFns& f = quant_fns(t);
  if (!f.dequantize) throw Error("dequantize: type " + std::string(dtype_name(t)) + " is not supported");
  check_row(t, n, "dequantize");
  f.dequantize(src, dst, n);
}

void quantize_row(DType t, const float* src, void* dst, int64_t n) {
  const QuantFns& f = quant_fns(t);
  if (!f.quantize) throw Error("quantize: type " + std::string(dtype_name(t)) + " is not supported");
  check_row(t, n, "quantize");
  f.quantize(src, dst, n);
}

}  // namespace moxie::quant
