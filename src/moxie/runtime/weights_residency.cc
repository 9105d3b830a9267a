#include "moxie/runtime/weights_residency.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "moxie/core/error.h"
#include "moxie/core/system_memory.h"
#include "moxie/gguf/reader.h"

namespace moxie {
namespace {

uint64_t page_size() { return page_size_bytes(); }

}  // namespace

uint64_t tensor_data_bytes(const GgufFile& file) {
  uint64_t total = 0;
  for (const GgufTensorInfo& t : file.tensors()) total += t.n_bytes;
  return total;
}

void touch_weights(const GgufFile& file, const std::function<void(uint64_t, uint64_t)>& progress) {
  const uint64_t total = tensor_data_bytes(file), page = page_size();
  const uint64_t report_every = std::max<uint64_t>(total / 100, 1);
  uint64_t done = 0, last_report = 0;
  volatile unsigned char sink = 0;  // keeps the reads from being optimised away
  if (progress) progress(0, total);
  for (const GgufTensorInfo& t : file.tensors()) {
    const auto* bytes = static_cast<const unsigned char*>(t.view.data);
    if (bytes == nullptr) continue;
    for (uint64_t off = 0; off < t.n_bytes; off += page) sink = sink + bytes[off];
    if (t.n_bytes > 0) sink = sink + bytes[t.n_bytes - 1];
    done += t.n_bytes;
    if (progress && done - last_report >= report_every) {
      progress(done, total);
      last_report = done;
    }
  }
  if (progress) progress(total, total);
}

void lock_weights(const GgufFile& file) {
  const uint64_t page = page_size();
  for (const GgufTensorInfo& t : file.tensors()) {
    if (t.view.data == nullptr || t.n_bytes == 0) continue;
    const auto begin = reinterpret_cast<uintptr_t>(t.view.data) & ~uintptr_t(page - 1);
    const uintptr_t end = reinterpret_cast<uintptr_t>(t.view.data) + t.n_bytes;
    if (mlock(reinterpret_cast<const void*>(begin), end - begin) != 0) {
      throw Error("--mlock: locking the weights of " + file.path() + " in memory failed at tensor '" +
                  std::string(t.name) + "': " + std::strerror(errno) +
                  (errno == ENOMEM || errno == EPERM ? " (raise the locked-memory limit, e.g. ulimit -l unlimited)" : ""));
    }
  }
}

std::string memory_warning(const GgufFile& file) {
  const uint64_t ram = physical_memory_bytes(), weights = tensor_data_bytes(file);
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
