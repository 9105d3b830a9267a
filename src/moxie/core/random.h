#pragma once
// SplitMix64: a tiny, seedable generator whose output is the same on every platform (unlike
// std distributions), so seeded sampling and synthetic weights are reproducible everywhere.
#include <cstdint>

namespace moxie {

inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A double in [0, 1) from the top 53 bits.
inline double uniform01(uint64_t& state) { return double(splitmix64(state) >> 11) * 0x1p-53; }

}  // namespace moxie
