// Host launchers of the element-wise arithmetic kernels (cuda/eltwise.cu): the ops of cpp/src/ops/eltwise.cpp with
// the semantics of the CPU reference (cpu/ref/eltwise_ref.h), whose BinaryOp/BroadcastParams they take. Pointers
// are device pointers; sizes may be 0 (nothing is launched); the work is queued on `stream`. Launchers only read
// their host arguments, so they are capture-safe.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "cpu/ref/eltwise_ref.h"

namespace fastconv::cuda {

// out[i] = a[ia] OP b[ib] over the index space p.shape (out contiguous; stride 0 on broadcast axes), as ref::binary:
// one FP32 operation an element, so the result is bit-identical to the reference.
void binary__cuda(ref::BinaryOp op, const ref::BroadcastParams& p, const float* a, const float* b, float* out,
                  cudaStream_t stream);

// y = alpha * x + beta (the "scale" op; beta defaults to 0 there), n elements.
void scale__cuda(float alpha, float beta, const float* x, float* y, int64_t n, cudaStream_t stream);

// y[0, n) = value (fill_like).
void fill__cuda(float value, float* y, int64_t n, cudaStream_t stream);

// out[i] = x[ix] over p.shape with the input's strides in p.stride_a (0 on broadcast axes; stride_b unused):
// broadcast_to, a plain copy of each source element.
void broadcast_to__cuda(const ref::BroadcastParams& p, const float* x, float* out, cudaStream_t stream);

}  // namespace fastconv::cuda
