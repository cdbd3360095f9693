// Host launchers of the normalization kernels (cuda/norm.cu: batch norm; cuda/norm_row.cu: group/layer norm and
// local response norm). Semantics are the CPU reference's (cpu/ref/norm_ref.h), whose Params they take. Pointers are
// device pointers; `workspace` is device scratch of at least the matching *_workspace_bytes (8-byte aligned, its
// contents need not be kept between calls). Launchers never allocate, synchronize or read device memory on the host.
// Every reduction runs over chunks fixed by the shape alone, then combines the chunks in a fixed order, so results
// are bit-identical from run to run and independent of the grid size.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cpu/ref/norm_ref.h"

namespace fastconv::cuda {

// ref::batch_norm over x viewed as [N, C, S]. Training: per-channel partial sums (in double, shifted by the
// channel's first value) over fixed chunks of N*S values, combined in chunk order; running_mean / running_var (may
// be null) move by momentum towards the batch mean and the unbiased variance, as the reference. Eval: the running
// stats normalise (they must be given). save_mean / save_invstd receive the statistics used. weight/bias may be null.
size_t batch_norm_forward_workspace_bytes(const ref::BatchNormParams& p);
void batch_norm_forward__cuda(const ref::BatchNormParams& p, const float* x, const float* weight, const float* bias,
                              float* running_mean, float* running_var, float* y, float* save_mean, float* save_invstd,
                              void* workspace, cudaStream_t stream);
// ref::batch_norm_backward: dx, dweight, dbias (any may be null) from grad, x and the saved statistics.
size_t batch_norm_backward_workspace_bytes(const ref::BatchNormParams& p);
void batch_norm_backward__cuda(const ref::BatchNormParams& p, const float* grad, const float* x, const float* weight,
                               const float* save_mean, const float* save_invstd, float* dx, float* dweight,
                               float* dbias, void* workspace, cudaStream_t stream);

// ref::row_norm (group_norm / layer_norm): one block a row, two-pass statistics in double. p.inner >= 1.
void row_norm_forward__cuda(const ref::RowNormParams& p, const float* x, const float* weight, const float* bias,
                            float* y, float* mean, float* rstd, cudaStream_t stream);
// ref::row_norm_backward: dx per row; dweight / dbias (any of the three may be null) gathered per affine index over
// fixed chunks of its rows, then combined in order (the workspace replaces the reference's `acc`).
size_t row_norm_backward_workspace_bytes(const ref::RowNormParams& p);
void row_norm_backward__cuda(const ref::RowNormParams& p, const float* grad, const float* x, const float* weight,
                             const float* mean, const float* rstd, float* dx, float* dweight, float* dbias,
                             void* workspace, cudaStream_t stream);

// ref::local_response_norm / _backward over the whole batch (n0 = 0, n1 = p.N); one thread an element.
void local_response_norm_forward__cuda(const ref::LrnParams& p, const float* x, float* y, float* scale,
                                       cudaStream_t stream);
void local_response_norm_backward__cuda(const ref::LrnParams& p, const float* grad, const float* x, const float* y,
                                        const float* scale, float* dx, cudaStream_t stream);

}  // namespace fastconv::cuda
