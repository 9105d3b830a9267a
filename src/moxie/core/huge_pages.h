#pragma once
// Big buffers that a decode step streams through (the repacked weights): 2 MiB
// aligned and advised to the kernel as huge pages, so a pass over them costs a TLB miss per
// 2 MiB rather than per 4 KiB, and the hardware prefetchers, which stop at page boundaries,
// run on. With transparent huge pages in "madvise" mode (Debian's default) nothing else gets
// them.
#include <cstdint>

namespace moxie {

// At least `bytes` (rounded up to 2 MiB), uninitialised; free with std::free. Throws
// moxie::Error naming `what` when out of memory.
void* allocate_huge(uint64_t bytes, const char* what);

}  // namespace moxie
