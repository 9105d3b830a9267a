#pragma once
// A Hugging Face tensor read as a row-major matrix [rows, cols] of floats (a 1-D tensor is
// one row; leading dimensions of a 3-D one fold into rows). Decodes F32, F16, BF16 and
// FP8 E4M3 with DeepSeek-V3's block scales: weight = fp8 * weight_scale_inv[r / B0][c / B1],
// where weight_scale_inv is [ceil(rows / B0), ceil(cols / B1)] (B = 128 x 128 in V3).
#include <cstdint>
#include <string>

namespace moxie::convert {

struct StTensor;

class HfMatrix {
 public:
  // scale_inv is required for F8_E4M3 tensors and must be absent otherwise.
  HfMatrix(const StTensor& t, const StTensor* scale_inv = nullptr, int64_t block_rows = 128, int64_t block_cols = 128);

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  const std::string& name() const;
  // out[i] = element (row, col + i) for i < n.
  void read(int64_t row, int64_t col, int64_t n, float* out) const;

 private:
  float scale(int64_t row, int64_t col) const;
  const StTensor* t_;
  const StTensor* scale_;
  int64_t rows_ = 1, cols_ = 1, block_rows_, block_cols_, scale_cols_ = 0;
};

}  // namespace moxie::convert
