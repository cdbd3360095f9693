// Host launchers of unfold (im2col) and fold (col2im) (cuda/fold.cu), the semantics of ref::unfold and ref::fold
// (cpu/ref/fold_ref.h), whose FoldParams they take: torch.nn.functional's layout, the column matrix of image n being
// [C * kh * kw, L = oh * ow] at col + n * C * kh * kw * L. Both work on images [n0, n1) of the batch at x and col
// (the offsets of image n are the same as the reference's). Pointers are device pointers; an empty range queues
// nothing; the work is queued on `stream`.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "cpu/conv_params.h"
#include "cpu/ref/fold_ref.h"

namespace fastconv::cuda {

// col = the input value each kernel tap sees at each block position, 0 in the padding.
void unfold__cuda(const ref::FoldParams& p, const float* x, float* col, int64_t n0, int64_t n1, cudaStream_t stream);
// x (overwritten) = sum of every column entry taken from that position. A gather, one thread an image element
// summing its taps in the reference's order (kernel row, then column) in float: no atomics, the reference's bits.
void fold__cuda(const ref::FoldParams& p, const float* col, float* x, int64_t n0, int64_t n1, cudaStream_t stream);

// The same for one image of a convolution over up to three spatial axes (cpu::ConvParams; p.N is not read): col
// [C * kd * kh * kw, od * oh * ow] (rows: channel, then the kernel taps; columns: the output positions) from x
// [C, D, H, W], and x (overwritten) from col, its taps summed in (depth, row, column) order in float.
void conv_unfold__cuda(const cpu::ConvParams& p, const float* x, float* col, cudaStream_t stream);
void conv_fold__cuda(const cpu::ConvParams& p, const float* col, float* x, cudaStream_t stream);

}  // namespace fastconv::cuda
