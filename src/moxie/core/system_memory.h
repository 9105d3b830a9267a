#pragma once
// What the operating system says about memory.
#include <cstdint>

namespace moxie {

uint64_t page_size_bytes();       // 4096 when the system does not say
uint64_t physical_memory_bytes();  // 0 when the system does not say

}  // namespace moxie
