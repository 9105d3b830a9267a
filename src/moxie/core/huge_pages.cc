#include "moxie/core/huge_pages.h"

#include <sys/mman.h>

#include <cstdlib>
#include <string>

#include "moxie/core/error.h"

namespace moxie {

void* allocate_huge(uint64_t bytes, const char* what) {
  constexpr uint64_t kHugePage = 2ull << 20;
  const uint64_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* p = std::aligned_alloc(kHugePage, rounded > 0 ? rounded : kHugePage);
  if (!p) throw Error(std::string(what) + ": out of memory allocating " + std::to_string(bytes) + " bytes");
  madvise(p, rounded, MADV_HUGEPAGE);  // advice only: failure changes nothing
  return p;
}

}  // namespace moxie
