// Host launchers of the dropout kernels (cuda/dropout.cu), semantics of ref::dropout / ref::dropout_backward
// (cpu/ref/dropout_ref.h) over every entry [0, p.entries): the mask is the reference's counter-based hash of
// (seed, step, entry), bit for bit, so CPU and GPU draw the same mask. Pointers are device pointers.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "cpu/ref/dropout_ref.h"

namespace fastconv::cuda {

// y = x * mask * scale, mask[e] in {0, 1} for entry e (p.inner elements an entry: dropout2d's channels).
// d_step: when not null, the step is read from this device counter instead of p.step, so a captured CUDA graph draws
// a new mask on every replay once the counter moves; the seed, p and the scale stay baked in.
void dropout_forward__cuda(const ref::DropoutParams& p, const float* x, float* y, uint8_t* mask, cudaStream_t stream,
                           const uint64_t* d_step = nullptr);
// dx = grad * mask * scale.
void dropout_backward__cuda(const ref::DropoutParams& p, const float* grad, const uint8_t* mask, float* dx,
                            cudaStream_t stream);

}  // namespace fastconv::cuda
