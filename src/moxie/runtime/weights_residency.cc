#include "moxie/runtime/weights_residency.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "moxie/core/error.h"
#include "moxie/core/system_memory.h"
#include "moxie/gguf/reader.h"
#include "moxie/model/model.h"
#include "moxie/model/repacked_weights.h"

namespace moxie {

void touch_weights(const Model& model, const std::function<void(uint64_t, uint64_t)>& progress) {
  const std::vector<MemoryRange> ranges = model.weight_memory();
  uint64_t total = 0;
  for (const MemoryRange& r : ranges) total += r.bytes;
  const uint64_t page = page_size_bytes();
  const uint64_t report_every = std::max<uint64_t>(total / 100, 1);
  uint64_t done = 0, last_report = 0;
  volatile unsigned char sink = 0;  // keeps the reads from being optimised away
  if (progress) progress(0, total);
  for (const MemoryRange& r : ranges) {
    const auto* bytes = static_cast<const unsigned char*>(r.data);
    for (uint64_t off = 0; off < r.bytes; off += page) sink = sink + bytes[off];
    if (r.bytes > 0) sink = sink + bytes[r.bytes - 1];
    done += r.bytes;
    if (progress && done - last_report >= report_every) {
      progress(done, total);
      last_report = done;
    }
  }
  if (progress) progress(total, total);
}

void lock_weights(const Model& model) {
  const uint64_t page = page_size_bytes();
  for (const MemoryRange& r : model.weight_memory()) {
    if (r.bytes == 0) continue;
    const auto begin = reinterpret_cast<uintptr_t>(r.data) & ~uintptr_t(page - 1);
    const uintptr_t end = reinterpret_cast<uintptr_t>(r.data) + r.bytes;
    if (mlock(reinterpret_cast<const void*>(begin), end - begin) != 0) {
      throw Error("--mlock: locking the weights of " + model.file().path() + " in memory failed: " +
                  std::strerror(errno) +
                  (errno == ENOMEM || errno == EPERM ? " (raise the locked-memory limit, e.g. ulimit -l unlimited)" : ""));
    }
  }
}

std::string memory_warning(const GgufFile& file) {
  const uint64_t ram = physical_memory_bytes(), weights = file.tensor_data_bytes();
  if (ram == 0 || weights <= ram) return {};
  const double gib = 1024.0 * 1024.0 * 1024.0;
  char line[256];
  std::snprintf(line, sizeof line,
                "the weights (%.1f GiB) are larger than physical memory (%.1f GiB): they will be read from the page "
                "cache as needed, which is much slower",
                double(weights) / gib, double(ram) / gib);
  return line;
}

}  // namespace moxie
