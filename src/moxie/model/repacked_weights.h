#pragma once
// RepackedWeights: owns the copies of weight matrices that were re-laid out at load time for
// the fastest kernels (the _R16 layouts of quant/repack.h), as llama.cpp's CPU "repack"
// buffers do. Everything else stays in place in the file's mapping.
//
// Trade-off: a repacked matrix lives in anonymous memory instead of the page cache, so the
// model must fit in RAM. Model::open therefore repacks only when the weights fit comfortably
// (see model.h), and --no-repack keeps every weight in place. After a matrix is copied, its
// pages of the file mapping are released (MADV_DONTNEED), so resident memory does not hold
// both copies.
#include <cstdint>
#include <memory>
#include <vector>

#include "moxie/core/tensor.h"

namespace moxie {

namespace kernels {
struct KernelTable;
}

// One contiguous range of memory the forward pass reads.
struct MemoryRange {
  const void* data = nullptr;
  uint64_t bytes = 0;
};

class RepackedWeights {
 public:
  explicit RepackedWeights(const kernels::KernelTable& kt) : kt_(kt) {}
  RepackedWeights(const RepackedWeights&) = delete;
  RepackedWeights& operator=(const RepackedWeights&) = delete;
  ~RepackedWeights();

  // Whether w (a 2-D matrix or a stacked 3-D [n, rows, k] tensor as stored in the file) has a
  // repacked layout with a kernel on this CPU and whole 16-row groups per matrix.
  bool can_repack(const TensorView& w) const;
  // A view of a repacked copy of w (can_repack(w) must hold). Releases w's file pages.
  TensorView repack(const TensorView& w);
  // The same copy of a matrix made at load rather than read from the file (w's memory is the
  // caller's, left alone and not recorded as replaced).
  TensorView repack_derived(const TensorView& w);

  uint64_t bytes() const;  // all copies
  const std::vector<MemoryRange>& ranges() const { return ranges_; }
  // Whether the file tensor starting at data was copied (its mapping is no longer read).
  bool replaced(const void* data) const;

 private:
  const kernels::KernelTable& kt_;
  std::vector<MemoryRange> ranges_;        // each one allocated by repack()
  std::vector<const void*> replaced_;     // the file tensors they replace
};

}  // namespace moxie
