// Sum reductions. The host splits x's axes into kept and reduced ones (size-1 axes dropped, neighbours of the same
// kind merged), so each output is a sum over a small N-D "reduced" space at a "kept" base offset. Short reductions
// run one thread per output, sequentially in the reference's order (coalesced over kept inner axes), or one warp per
// output when x's innermost axis is reduced and has more than 32 elements; long ones
// run blocks of kChunk-element slices, each reduced by a fixed shared-memory tree in double, and when an output has
// several slices a second pass adds their partials in slice order. Everything depends on the params only, never on
// the timing: the results are reproducible.
#include "reduce.cuh"

#include "launch.cuh"

namespace fastconv::cuda {
namespace {

using ref::kMaxDims;
using ref::ReduceParams;

constexpr unsigned kThreads = 256;
constexpr unsigned kMaxBlocks = 4096;
constexpr int64_t kSequentialMax = 256;  // reductions this short: one thread an output
constexpr int64_t kChunk = 8192;         // elements a block sums at most (32 per thread)
constexpr int64_t kTargetBlocks = 1024;  // slices are added until the grid has about this many blocks

struct Plan {
  int nk = 0, nr = 0;
  int64_t kshape[kMaxDims] = {}, kstride[kMaxDims] = {};  // kept axes, x strides
  int64_t rshape[kMaxDims] = {}, rstride[kMaxDims] = {};  // reduced axes, x strides
  int64_t M = 1, R = 1;                                    // outputs, elements per output
  int64_t slices = 1, chunk = 1;                           // slices per output of `chunk` reduced elements
  bool empty_input = false;
};

Plan make_plan(const ReduceParams& p) {
  Plan q;
  int64_t xs[kMaxDims] = {}, s = 1;
  for (int d = p.ndim - 1; d >= 0; --d) xs[d] = s, s *= p.shape[d];
  q.empty_input = s == 0;
  int last = -1;  // 0 kept, 1 reduced
  for (int d = 0; d < p.ndim; ++d) {
    if (p.shape[d] == 1) continue;
    const int kind = p.stride_out[d] == 0 ? 1 : 0;
    int& n = kind ? q.nr : q.nk;
    int64_t* shape = kind ? q.rshape : q.kshape;
    int64_t* stride = kind ? q.rstride : q.kstride;
    if (kind == last) {  // x is contiguous: the previous axis of this kind is the one just before d
      shape[n - 1] *= p.shape[d];
      stride[n - 1] = xs[d];
    } else {
      shape[n] = p.shape[d];
      stride[n] = xs[d];
      ++n;
    }
    last = kind;
  }
  for (int i = 0; i < q.nk; ++i) q.M *= q.kshape[i];
  for (int i = 0; i < q.nr; ++i) q.R *= q.rshape[i];
  if (q.R > kSequentialMax) {
    const int64_t max_slices = (q.R + kChunk - 1) / kChunk, want = (kTargetBlocks + q.M - 1) / q.M;
    q.slices = want < max_slices ? want : max_slices;
    if (q.slices < 1) q.slices = 1;
    q.chunk = (q.R + q.slices - 1) / q.slices;
    q.slices = (q.R + q.chunk - 1) / q.chunk;  // no empty slice
  }
  return q;
}

__device__ __forceinline__ int64_t kept_offset(const Plan& q, int64_t o) {
  int64_t off = 0;
  for (int i = q.nk - 1; i >= 0; --i) {
    const int64_t t = o / q.kshape[i];
    off += (o - t * q.kshape[i]) * q.kstride[i];
    o = t;
  }
  return off;
}

__device__ __forceinline__ int64_t reduced_offset(const Plan& q, int64_t r) {
  int64_t off = 0;
  for (int i = q.nr - 1; i >= 0; --i) {
    const int64_t t = r / q.rshape[i];
    off += (r - t * q.rshape[i]) * q.rstride[i];
    r = t;
  }
  return off;
}

// One thread an output, the reduced space walked in row-major order with an odometer (the reference's order).
__global__ void sum_sequential_kernel(Plan q, const float* x, float* out, float scale) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < q.M; o += stride) {
    const float* xo = x + kept_offset(q, o);
    int64_t idx[kMaxDims] = {}, off = 0;
    double acc = 0.0;
    for (int64_t r = 0; r < q.R; ++r) {
      acc += double(xo[off]);
      for (int i = q.nr - 1; i >= 0; --i) {
        off += q.rstride[i];
        if (++idx[i] < q.rshape[i]) break;
        off -= q.rstride[i] * q.rshape[i];
        idx[i] = 0;
      }
    }
    out[o] = float(acc) * scale;
  }
}

// One warp an output, for reductions over x's innermost axis of 33..kSequentialMax elements (where a thread an
// output would read with a stride): lanes take every 32nd element, then a fixed shuffle tree. Warps walk the
// outputs uniformly, so the full mask is always right.
__global__ void sum_warp_kernel(Plan q, const float* x, float* out, float scale) {
  const int64_t warps = (int64_t(gridDim.x) * blockDim.x) / 32;
  const unsigned lane = threadIdx.x % 32;
  for (int64_t o = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32; o < q.M; o += warps) {
    const float* xo = x + kept_offset(q, o);
    double acc = 0.0;
    for (int64_t r = lane; r < q.R; r += 32) acc += double(xo[reduced_offset(q, r)]);
    for (unsigned h = 16; h > 0; h /= 2) acc += __shfl_down_sync(0xffffffffu, acc, h);
    if (lane == 0) out[o] = float(acc) * scale;
  }
}

// One block a (output, slice) pair, grid-stride over the pairs (uniform per block, so the barriers are too).
// slices == 1: the block writes the output; else its double partial to part[o * slices + s].
__global__ void sum_slices_kernel(Plan q, const float* x, float* out, double* part, float scale) {
  __shared__ double buf[kThreads];
  const int64_t pairs = q.M * q.slices;
  for (int64_t w = blockIdx.x; w < pairs; w += gridDim.x) {
    const int64_t o = w / q.slices, s = w - o * q.slices;
    const int64_t lo = s * q.chunk, hi = lo + q.chunk < q.R ? lo + q.chunk : q.R;
    const float* xo = x + kept_offset(q, o);
    double acc = 0.0;
    for (int64_t r = lo + threadIdx.x; r < hi; r += blockDim.x) acc += double(xo[reduced_offset(q, r)]);
    buf[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned h = kThreads / 2; h > 0; h /= 2) {
      if (threadIdx.x < h) buf[threadIdx.x] += buf[threadIdx.x + h];
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      if (q.slices == 1) out[o] = float(buf[0]) * scale;
      else part[w] = buf[0];
    }
    __syncthreads();  // buf is reused by the next pair
  }
}

__global__ void sum_partials_kernel(const double* part, int64_t M, int64_t slices, float* out, float scale) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < M; o += stride) {
    double acc = 0.0;
    for (int64_t s = 0; s < slices; ++s) acc += part[o * slices + s];
    out[o] = float(acc) * scale;
  }
}

__global__ void fill_kernel(float value, float* y, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) y[i] = value;
}

dim3 grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return dim3(unsigned(blocks < int64_t(kMaxBlocks) ? blocks : int64_t(kMaxBlocks)));
}

}  // namespace

size_t sum_to_workspace_bytes(const ReduceParams& p, int64_t out_numel) {
  if (out_numel <= 0) return 0;
  const Plan q = make_plan(p);
  if (q.empty_input || q.slices <= 1) return 0;
  return size_t(q.M * q.slices) * sizeof(double);
}

void reduce_sum__cuda(const ReduceParams& p, const float* x, float* out, int64_t out_numel, float scale,
                      void* workspace, cudaStream_t stream) {
  if (out_numel <= 0) return;
  const Plan q = make_plan(p);
  if (q.empty_input) {  // nothing to add: float(0.0) * scale, NaN for a mean over nothing (as the reference)
    launch("reduce_fill__cuda", fill_kernel, grid_for(out_numel), dim3(kThreads), 0, stream, 0.f * scale, out,
           out_numel);
    return;
  }
  const bool inner_reduced = q.nr > 0 && q.rstride[q.nr - 1] == 1;
  if (q.slices <= 1 && q.R <= kSequentialMax && q.R > 32 && inner_reduced) {
    const int64_t blocks = (q.M * 32 + kThreads - 1) / kThreads;
    const dim3 grid(unsigned(blocks < int64_t(kMaxBlocks) ? blocks : int64_t(kMaxBlocks)));
    launch("sum_warp__cuda", sum_warp_kernel, grid, dim3(kThreads), 0, stream, q, x, out, scale);
    return;
  }
  if (q.slices <= 1 && q.R <= kSequentialMax) {
    launch("sum_sequential__cuda", sum_sequential_kernel, grid_for(q.M), dim3(kThreads), 0, stream, q, x, out, scale);
    return;
  }
  const int64_t pairs = q.M * q.slices;
  const dim3 grid(unsigned(pairs < int64_t(kMaxBlocks) ? pairs : int64_t(kMaxBlocks)));
  double* part = static_cast<double*>(workspace);
  launch("sum_slices__cuda", sum_slices_kernel, grid, dim3(kThreads), 0, stream, q, x, out, part, scale);
  if (q.slices > 1)
    launch("sum_partials__cuda", sum_partials_kernel, grid_for(q.M), dim3(kThreads), 0, stream,
           static_cast<const double*>(part), q.M, q.slices, out, scale);
}

void sum_to__cuda(const ReduceParams& p, const float* x, float* out, int64_t out_numel, void* workspace,
                  cudaStream_t stream) {
  reduce_sum__cuda(p, x, out, out_numel, 1.f, workspace, stream);
}

}  // namespace fastconv::cuda
