#include "moxie/core/system_memory.h"

#include <unistd.h>

namespace moxie {

uint64_t page_size_bytes() {
  const long p = sysconf(_SC_PAGESIZE);
  return p > 0 ? uint64_t(p) : 4096;
}

uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  return pages > 0 ? uint64_t(pages) * page_size_bytes() : 0;
}

}  // namespace moxie
