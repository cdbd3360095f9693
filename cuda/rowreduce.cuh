// Row-wise reductions shared by the softmax and loss kernels: a "row" (one softmax row, one loss position, one
// cosine vector) is handled by a group of G threads of a 256-thread block, G = 1 (a thread: rows strided along the
// contiguous axis, so neighbouring threads read neighbouring addresses), 32 (a warp) or kBlock (the whole block).
// Group reductions are xor butterflies (and, for a block, one fixed-order pass over the warps' results): every
// thread of the group gets the same bits, and the result depends only on the shape, never on timing.
// Templates and inline functions only, so every .cu that includes it gets its own copies.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace fastconv::cuda::rowreduce {

constexpr unsigned kThreads = 256;  // every kernel using Group runs blocks of exactly this many threads
// 1024 blocks of 256 threads is about one full wave on an H100 (132 SMs x 2048 threads); more rows take further
// grid-stride steps.
constexpr unsigned kMaxBlocks = 1024;
constexpr int kBlock = int(kThreads);

struct Sum {
  template <class T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
// std::max's a < b ? b : a: a NaN operand on the right is dropped, as in the references' std::max loops.
struct Max {
  template <class T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a < b ? b : a; }
};
// NaN wins (either side), so one NaN anywhere makes the row's maximum NaN.
struct NanMax {
  template <class T>
  __device__ __forceinline__ T operator()(T a, T b) const { return (a > b || a != a) ? a : b; }
};

template <class T, class Op>
__device__ __forceinline__ T warp_allreduce(T v, Op op) {
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Every thread of the block must call it (uniform control flow); all get the result.
template <class T, class Op>
__device__ T block_allreduce(T v, Op op) {
  __shared__ T part[kThreads / 32];
  v = warp_allreduce(v, op);
  if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
  __syncthreads();
  T r = part[0];
  for (unsigned i = 1; i < kThreads / 32; ++i) r = op(r, part[i]);
  __syncthreads();  // part is reused by the next call
  return r;
}

template <int G>
struct Group {
  static_assert(G == 1 || G == 32 || G == kBlock, "a group is a thread, a warp or the block");
  static constexpr int64_t kPerBlock = int64_t(kThreads) / G;
  __device__ static int lane() { return G == 1 ? 0 : int(threadIdx.x % unsigned(G)); }
  __device__ static int64_t first_row() { return int64_t(blockIdx.x) * kPerBlock + threadIdx.x / unsigned(G); }
  __device__ static int64_t row_stride() { return int64_t(gridDim.x) * kPerBlock; }
  // All threads of the group must call it together.
  template <class T, class Op>
  __device__ static T all(T v, Op op) {
    if constexpr (G == 1) return v;
    else if constexpr (G == 32) return warp_allreduce(v, op);
    else return block_allreduce(v, op);
  }
};

// Blocks for `rows` rows in groups of G, capped: a function of the shape alone, so are the partial sums.
inline unsigned blocks_for_rows(int64_t rows, int G) {
  const int64_t per = int64_t(kThreads) / G, b = (rows + per - 1) / per;
  return unsigned(b < int64_t(kMaxBlocks) ? (b > 0 ? b : 1) : int64_t(kMaxBlocks));
}

}  // namespace fastconv::cuda::rowreduce

namespace fastconv::cuda::rowreduce {

// The last thing every thread of the block does: the block's sums of a and b go to part[2 blockIdx], +1. Warp 0
// adds the 256 values in a fixed order (8 each, then a butterfly); the other warps just leave.
__device__ inline void block_partials(double a, double b, double* part) {
  __shared__ double sa[kThreads], sb[kThreads];
  sa[threadIdx.x] = a;
  sb[threadIdx.x] = b;
  __syncthreads();
  if (threadIdx.x >= 32) return;
  double x = 0, y = 0;
  for (unsigned j = threadIdx.x; j < kThreads; j += 32) {
    x += sa[j];
    y += sb[j];
  }
  x = warp_allreduce(x, Sum());
  y = warp_allreduce(y, Sum());
  if (threadIdx.x == 0) {
    part[2 * int64_t(blockIdx.x)] = x;
    part[2 * int64_t(blockIdx.x) + 1] = y;
  }
}

}  // namespace fastconv::cuda::rowreduce
