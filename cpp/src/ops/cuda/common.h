// Glue for the "cuda" backend's kernel entries (ops/cuda/*.cpp): every entry prepares a closure that launches a
// cuda/*.cu kernel on the step's stream (RunContext::stream). Compiled only with FASTCONV_WITH_CUDA.
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "ops/common.h"

namespace fastconv::cuda_ops {

inline cudaStream_t stream_of(const RunContext& ctx) { return static_cast<cudaStream_t>(ctx.stream); }

// Registers `prepare` as the "cuda" backend's kernel for `op` (algorithm `algo`, FP32 inputs).
void add_cuda_kernel(KernelTable& t, const std::string& op, const std::string& family, const std::string& algo,
                     PrepareFn prepare, CallPredicate applies = nullptr);

void register_activation_kernels(KernelTable& t);
void register_shape_kernels(KernelTable& t);
void register_pool_kernels(KernelTable& t);  // and interpolate

}  // namespace fastconv::cuda_ops
