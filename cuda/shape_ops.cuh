// Host launchers of the byte-moving shape ops (cuda/shape_ops.cu): cat, slice and slice_backward
// (cpp/src/ops/shape_ops.cpp), permute (cpp/src/ops/permute.cpp), and channel_shuffle / pixel_shuffle /
// pixel_unshuffle (cpu/ref/shuffle_ref.h). They move bytes, so they serve every dtype: sizes are given in elements
// of `esize` bytes (or `inner_bytes`). Every output element is written once, by a gather (no atomics); the copies use
// the widest unit (up to 16 bytes) that the pointers, row sizes and strides allow. Pointers are device pointers;
// host arrays (shapes, input lists) are only read by the launcher; empty tensors launch nothing; capture-safe.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cpu/ref/shuffle_ref.h"

namespace fastconv::cuda {

// The tensors of cat/slice seen as [outer, size along the axis, inner], inner counted in bytes (inner * esize).
// y = cat(xs[0..count), axis): y is [outer, sum(sizes), inner]; xs[i] is [outer, sizes[i], inner].
void cat__cuda(int64_t outer, int64_t inner_bytes, int count, const void* const* xs, const int64_t* sizes, void* y,
               cudaStream_t stream);

// x is [outer, n, inner]; y = x[:, start:start+length, :] ([outer, length, inner]).
struct SliceParams {
  int64_t outer = 1, n = 0, start = 0, length = 0, inner_bytes = 0;
};
void slice__cuda(const SliceParams& p, const void* x, void* y, cudaStream_t stream);
// gx = zeros [outer, n, inner] with g ([outer, length, inner]) at [:, start:start+length, :] (slice_backward).
void slice_backward__cuda(const SliceParams& p, const void* g, void* gx, cudaStream_t stream);

// y = x.permute(dims): output axis i is input axis dims[i] (rank <= 8, dims a permutation of 0..rank-1). x is
// contiguous of `shape` (rank values), elements of esize bytes.
void permute__cuda(int rank, const int64_t* shape, const int64_t* dims, size_t esize, const void* x, void* y,
                   cudaStream_t stream);

// ref::channel_shuffle over every plane: [outer, groups * per_group, inner], y[o, j * groups + i] = x[o, i * k + j].
void channel_shuffle__cuda(const ref::ChannelShuffleParams& p, const float* x, float* y, cudaStream_t stream);
// ref::pixel_shuffle over every plane (inverse: pixel_unshuffle).
void pixel_shuffle__cuda(const ref::PixelShuffleParams& p, const float* x, float* y, bool inverse,
                         cudaStream_t stream);

}  // namespace fastconv::cuda
