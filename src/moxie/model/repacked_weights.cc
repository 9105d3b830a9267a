#include "moxie/model/repacked_weights.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <new>
#include <thread>

#include "moxie/core/error.h"
#include "moxie/core/huge_pages.h"
#include "moxie/core/system_memory.h"
#include "moxie/kernels/api.h"
#include "moxie/quant/repack.h"

namespace moxie {
namespace {

// Drops the mapping's pages that lie entirely inside [data, data + bytes): the copy replaces
// them. The mapping is a read-only file mapping, so a later read would simply fault them in.
void release_file_pages(const void* data, uint64_t bytes) {
  const uint64_t page = page_size_bytes();
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

// Repacks n_rows rows on all cores: each thread takes whole 16-row groups.
void repack_parallel(DType type, const char* src, int64_t src_stride, int64_t n_rows, int64_t k, char* dst) {
  const int64_t groups = n_rows / quant::kRepackRows;
  const int64_t dst_stride = row_bytes(quant::repacked_type(type), k);
  const int64_t nth = std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, std::max<int64_t>(groups, 1));
  const auto part = [&](int64_t i) {
    const int64_t g0 = groups * i / nth, g1 = groups * (i + 1) / nth;
    const int64_t r0 = g0 * quant::kRepackRows, rows = (g1 - g0) * quant::kRepackRows;
    quant::repack_rows(type, src + r0 * src_stride, src_stride, rows, k, dst + r0 * dst_stride);
  };
  std::vector<std::thread> threads;
  for (int64_t i = 1; i < nth; ++i) threads.emplace_back(part, i);
  part(0);
  for (std::thread& t : threads) t.join();
}

}  // namespace

RepackedWeights::~RepackedWeights() {
  for (const MemoryRange& r : ranges_) std::free(const_cast<void*>(r.data));
}

bool RepackedWeights::can_repack(const TensorView& w) const {
  const DType to = quant::repacked_type(w.type);
  if (to == w.type || !kt_.weights[uint32_t(to)].gemm) return false;
  if (w.n_dims < 2 || w.n_dims > 3 || w.ne[3] != 1) return false;
  if (w.ne[1] % quant::kRepackRows != 0 || w.ne[0] % dtype_info(w.type).block_size != 0) return false;
  return w.nb[1] == row_bytes(w.type, w.ne[0]) && w.nb[2] == w.nb[1] * w.ne[1];  // contiguous
}

TensorView RepackedWeights::repack(const TensorView& w) {
  const TensorView out = repack_derived(w);
  replaced_.push_back(w.data);
  release_file_pages(w.data, uint64_t(w.nb[1] * w.ne[1] * w.ne[2]));
  return out;
}

TensorView RepackedWeights::repack_derived(const TensorView& w) {
  if (!can_repack(w)) throw Error("repacking a weight this CPU or layout does not support (moxie bug)");
  const DType to = quant::repacked_type(w.type);
  const int64_t k = w.ne[0], n_rows = w.ne[1] * w.ne[2];
  TensorView out = w;
  out.type = to;
  out.nb[1] = row_bytes(to, k);
  out.nb[2] = out.nb[1] * w.ne[1];
  out.nb[3] = out.nb[2] * w.ne[2];
  const uint64_t bytes = uint64_t(out.nb[1] * n_rows);
  char* dst = static_cast<char*>(allocate_huge(bytes, "repacking the weights"));  // core/huge_pages.h
  try {
    repack_parallel(w.type, static_cast<const char*>(w.data), w.nb[1], n_rows, k, dst);
  } catch (...) {
    std::free(dst);
    throw;
  }
  ranges_.push_back({dst, bytes});
  out.data = dst;
  return out;
}

bool RepackedWeights::replaced(const void* data) const {
  return std::find(replaced_.begin(), replaced_.end(), data) != replaced_.end();
}

uint64_t RepackedWeights::bytes() const {
  uint64_t total = 0;
  for (const MemoryRange& r : ranges_) total += r.bytes;
  return total;
}

}  // namespace moxie
