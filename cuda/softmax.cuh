// Host launchers of the softmax kernels (cuda/softmax.cu): softmax and log_softmax over the middle axis of a
// contiguous [outer, dim, inner] view, the semantics of the CPU reference (cpu/ref/activation_ref.h, ref::softmax
// and ref::softmax_backward over every outer row), whose SoftmaxParams they take. FP32 math with the row maximum
// subtracted first, so logits of any finite size give finite results; a NaN anywhere in a row makes the whole row
// NaN, as in the reference and torch. Pointers are device pointers; empty views launch nothing.
#pragma once
#include <cuda_runtime.h>

#include "cpu/ref/activation_ref.h"

namespace fastconv::cuda {

// y = softmax(x) (p.log: log_softmax(x)) along `dim`.
void softmax_forward__cuda(const ref::SoftmaxParams& p, const float* x, float* y, cudaStream_t stream);
// softmax: dx = y * (g - sum(g * y)); log_softmax: dx = g - exp(y) * sum(g); `y` is the forward's output.
void softmax_backward__cuda(const ref::SoftmaxParams& p, const float* grad, const float* y, float* dx,
                            cudaStream_t stream);

}  // namespace fastconv::cuda
