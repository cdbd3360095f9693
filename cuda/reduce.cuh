// Host launchers of the sum reductions (cuda/reduce.cu): sum_to (the gradient of a broadcast operand: bias
// gradients, broadcasting backward) and sum/mean over axes (cpp/src/ops/reduce.cpp, which builds the same
// ref::ReduceParams with the reduced axes kept as size 1). Semantics of ref::sum_to (cpu/ref/eltwise_ref.h): out
// (contiguous, out_numel elements) = the sum of x (contiguous in p.shape) over the axes where p.stride_out is 0,
// accumulated in double, rounded to float once. Deterministic: every output is summed in a fixed order (a
// sequential loop, or fixed-size blocks each reduced by a fixed tree, their partials then added in order), the same
// on every run and every GPU; it agrees with the reference's sequential double sum to the float rounding of the
// result. Pointers are device pointers; launchers never allocate or synchronize (capture-safe).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cpu/ref/eltwise_ref.h"

namespace fastconv::cuda {

// Bytes of `workspace` the reductions below need for (p, out_numel) (0 when one pass does it; then workspace may be
// null). Aligned for doubles.
size_t sum_to_workspace_bytes(const ref::ReduceParams& p, int64_t out_numel);

// out = sum_to(x), as ref::sum_to.
void sum_to__cuda(const ref::ReduceParams& p, const float* x, float* out, int64_t out_numel, void* workspace,
                  cudaStream_t stream);

// out = float(sum) * scale: sum (scale 1) and mean (scale = 1 / float(count), NaN for an empty reduction) as
// cpp/src/ops/reduce.cpp computes them from the same params.
void reduce_sum__cuda(const ref::ReduceParams& p, const float* x, float* out, int64_t out_numel, float scale,
                      void* workspace, cudaStream_t stream);

}  // namespace fastconv::cuda
