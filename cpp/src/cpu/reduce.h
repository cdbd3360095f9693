// Fast paths for sum_to / broadcast_to over the layouts that dominate training graphs; everything else uses the
// reference kernels in cpu/ref/eltwise_ref.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fastconv::cpu {

// A reduction or broadcast between a contiguous "full" shape and a "small" shape that keeps only the middle block:
// full = [outer, kept, inner], small = [kept] (all three may be 1). Found by collapse_outer_kept_inner.
struct OKI {
  int64_t outer = 1, kept = 1, inner = 1;
};
// True when `small` (broadcastable to `full`, same rank after left-padding with 1s) keeps one contiguous run of
// full's axes and reduces/broadcasts the axes before and after it.
bool collapse_outer_kept_inner(const std::vector<int64_t>& full, const std::vector<int64_t>& small, OKI* out);

// out[k] = sum over o, i of x[o][k][i]; float math in short blocks, combined in double. The double partials live
// in `ws` (sum_oki_workspace_bytes, 8-byte aligned): the same blocks and order on any thread count.
size_t sum_oki_workspace_bytes(const OKI& s);
void sum_oki(const OKI& s, const float* x, float* out, double* ws);
// y[o][k][i] = x[k]
void broadcast_oki(const OKI& s, const float* x, float* y);

}  // namespace fastconv::cpu
