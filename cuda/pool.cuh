// Host launchers of the pooling kernels (cuda/pool.cu). Semantics are the CPU reference's (cpu/ref/pool_ref.h),
// whose PoolParams / AdaptiveParams they take: each launcher does what the ref function does for planes
// [0, planes) (a plane = one (n, c) slice, contiguous). Pointers are device pointers; planes may be 0 (no launch);
// the work is queued on `stream`; no allocation, no synchronization (capture-safe).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "cpu/ref/pool_ref.h"

namespace fastconv::cuda {

// ref::avg_pool_divisor as a host/device function (the ref one lives in a .cpp and is host-only). Same logic,
// so the CUDA average pools divide by exactly what the reference does; a test checks both agree.
__host__ __device__ inline void pool_taps_in(int64_t start, int64_t k, int64_t d, int64_t lo, int64_t hi,
                                             int64_t* j0, int64_t* j1) {
  const int64_t a = lo - start, b = hi - start;
  *j0 = a <= 0 ? 0 : (a + d - 1) / d;
  *j1 = b <= 0 ? 0 : ((b + d - 1) / d < k ? (b + d - 1) / d : k);
  if (*j1 < *j0) *j1 = *j0;
}

__host__ __device__ inline int64_t avg_pool_divisor_hd(const ref::PoolParams& p, int64_t od, int64_t oh,
                                                       int64_t ow) {
  if (p.divisor_override) return p.divisor_override;
  const int64_t o[3] = {od, oh, ow};
  int64_t n = 1;
  for (int a = 0; a < 3; ++a) {
    const int64_t start = o[a] * p.s[a] - p.p[a];
    int64_t j0, j1;
    if (p.count_include_pad)
      pool_taps_in(start, p.k[a], p.d[a], -p.p[a], p.in[a] + p.pe[a], &j0, &j1);
    else
      pool_taps_in(start, p.k[a], p.d[a], 0, p.in[a], &j0, &j1);
    n *= j1 - j0;
  }
  return n;
}

// ref::max_pool: y = max (min when `min`) over each dilated window, idx = flat index of the winner in its input
// plane; first extreme wins ties, the last NaN wins (NaN propagates); an empty window gives -inf (+inf for min).
void max_pool_forward__cuda(const ref::PoolParams& p, const float* x, float* y, int64_t* idx, bool min,
                            int64_t planes, cudaStream_t stream);
// ref::avg_pool: window mean summed in double, divided by avg_pool_divisor (count_include_pad over [-p, in + pe),
// divisor_override).
void avg_pool_forward__cuda(const ref::PoolParams& p, const float* x, float* y, int64_t planes,
                            cudaStream_t stream);
// ref::avg_pool_backward, as a gather: each input element adds gy[o] / divisor(o) over the windows o covering
// it, in increasing o, in float — the reference's order, so the result is bitwise the same. No atomics.
void avg_pool_backward__cuda(const ref::PoolParams& p, const float* gy, float* gx, int64_t planes,
                             cudaStream_t stream);

// ref::index_scatter (max-pool backward with accumulate, max-unpool without): dst planes zeroed, then
// dst[plane, idx[i]] (+)= src[plane, i] in increasing i; out-of-range indices skipped. Indices are arbitrary, so
// no gather exists; determinism comes from one block per plane walking src in tiles of 256 in order: within a
// tile the first thread holding an index applies every entry of the tile with that index in order (last write
// wins / sums in order), so the result is bitwise the reference's. Parallelism is min(planes, 1024) blocks.
void index_scatter__cuda(int64_t src_plane, int64_t dst_plane, const float* src, const int64_t* idx, float* dst,
                         bool accumulate, int64_t planes, cudaStream_t stream);
// ref::index_gather: dst[plane, i] = src[plane, idx[i]] (0 for an out-of-range index); dst planes have idx_plane
// elements, src planes src_plane.
void index_gather__cuda(int64_t idx_plane, int64_t src_plane, const float* src, const int64_t* idx, float* dst,
                        int64_t planes, cudaStream_t stream);

// ref::adaptive_avg_pool2d / _backward / adaptive_max_pool2d. Window i covers
// [floor(i*in/out), ceil((i+1)*in/out)); global pooling is out 1x1. The backward is a gather in the reference's
// order (bitwise the same); max ties and NaN as in max_pool_forward__cuda.
void adaptive_avg_pool2d_forward__cuda(const ref::AdaptiveParams& p, const float* x, float* y, int64_t planes,
                                       cudaStream_t stream);
void adaptive_avg_pool2d_backward__cuda(const ref::AdaptiveParams& p, const float* gy, float* gx, int64_t planes,
                                        cudaStream_t stream);
void adaptive_max_pool2d_forward__cuda(const ref::AdaptiveParams& p, const float* x, float* y, int64_t* idx,
                                       int64_t planes, cudaStream_t stream);

}  // namespace fastconv::cuda
