#pragma once
#include <cstddef>
#include <vector>

namespace fastconv {

struct Interval {
  size_t size;
  int first, last;  // inclusive schedule positions
};

// Greedy best-fit by size (largest first, lowest free offset among buffers whose lifetimes overlap).
// Returns one offset per interval (64-byte aligned) and the arena size in *peak.
std::vector<size_t> plan_offsets(const std::vector<Interval>& iv, size_t* peak);

}  // namespace fastconv
