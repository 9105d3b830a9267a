#include "moxie/convert/hf_matrix.h"

#include <algorithm>
#include <cstring>

#include "moxie/convert/fp8.h"
#include "moxie/convert/safetensors.h"
#include "moxie/core/error.h"
#include "moxie/core/half.h"

namespace moxie::convert {
namespace {

// 256-entry table built once from the format definition above.
struct Fp8Table {
  float v[256];
  Fp8Table() {
    for (int b = 0; b < 256; ++b) v[b] = fp8_e4m3fn_to_fp32(uint8_t(b));
  }
};
const Fp8Table& fp8_table() {
  static const Fp8Table t;
  return t;
}

float scale_element(const StTensor& s, int64_t i) {
  if (s.dtype == StDType::F32) {
    float v;
    std::memcpy(&v, s.data + i * 4, 4);
    return v;
  }
  uint16_t h;
  std::memcpy(&h, s.data + i * 2, 2);
  return s.dtype == StDType::BF16 ? bf16_to_fp32(h) : fp16_to_fp32(h);
}

}  // namespace

HfMatrix::HfMatrix(const StTensor& t, const StTensor* scale_inv, int64_t block_rows, int64_t block_cols)
    : t_(&t), scale_(scale_inv), block_rows_(block_rows), block_cols_(block_cols) {
  const std::string where = t.file + ": tensor \"" + t.name + "\": ";
  switch (t.dtype) {
    case StDType::F32: case StDType::F16: case StDType::BF16: case StDType::F8_E4M3: break;
    default: throw Error(where + "dtype " + t.dtype_text + " is not supported for weights (F32, F16, BF16, F8_E4M3)");
  }
  if (t.shape.empty() || t.shape.size() > 3) throw Error(where + "expected 1 to 3 dimensions");
  cols_ = t.shape.back();
  rows_ = cols_ == 0 ? 0 : t.n_elements() / cols_;
  if (t.dtype != StDType::F8_E4M3) {
    if (scale_inv) throw Error(where + "has a weight_scale_inv but is not FP8");
    return;
  }
  if (!scale_inv) throw Error(where + "is F8_E4M3 but the checkpoint has no \"" + t.name + "_scale_inv\" block scales");
  const int64_t want_r = (rows_ + block_rows - 1) / block_rows, want_c = (cols_ + block_cols - 1) / block_cols;
  const auto& ss = scale_inv->shape;
  if (ss.size() != 2 || ss[0] != want_r || ss[1] != want_c) {
    throw Error(scale_inv->file + ": tensor \"" + scale_inv->name + "\": expected shape [" + std::to_string(want_r) +
                ", " + std::to_string(want_c) + "] for " + std::to_string(block_rows) + "x" +
                std::to_string(block_cols) + " blocks of [" + std::to_string(rows_) + ", " + std::to_string(cols_) + "]");
  }
  if (scale_inv->dtype != StDType::F32 && scale_inv->dtype != StDType::BF16 && scale_inv->dtype != StDType::F16) {
    throw Error(scale_inv->file + ": tensor \"" + scale_inv->name + "\": dtype " + scale_inv->dtype_text +
                " is not supported for block scales (F32, BF16, F16)");
  }
  scale_cols_ = want_c;
}

const std::string& HfMatrix::name() const { return t_->name; }

float HfMatrix::scale(int64_t row, int64_t col) const {
  return scale_element(*scale_, (row / block_rows_) * scale_cols_ + col / block_cols_);
}

void HfMatrix::read(int64_t row, int64_t col, int64_t n, float* out) const {
  const int64_t first = row * cols_ + col;
  const unsigned char* p = t_->data;
  switch (t_->dtype) {
    case StDType::F32:
      std::memcpy(out, p + first * 4, size_t(n) * 4);
      return;
    case StDType::F16:
    case StDType::BF16: {
      const bool bf = t_->dtype == StDType::BF16;
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + (first + i) * 2, 2);
        out[i] = bf ? bf16_to_fp32(h) : fp16_to_fp32(h);
      }
      return;
    }
    case StDType::F8_E4M3: {
      const Fp8Table& table = fp8_table();
      for (int64_t i = 0; i < n;) {  // one scale per run of columns inside a block
        const int64_t c = col + i, run = std::min(n - i, block_cols_ - c % block_cols_);
        const float s = scale(row, c);
        for (int64_t j = 0; j < run; ++j) out[i + j] = table.v[p[first + i + j]] * s;
        i += run;
      }
      return;
    }
    default: break;
  }
}

}  // namespace moxie::convert
