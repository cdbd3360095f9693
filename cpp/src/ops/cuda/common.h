// Glue for the "cuda" backend's kernel entries (ops/cuda/*.cpp): every entry prepares a closure that launches a
// cuda/*.cu kernel on the step's stream (RunContext::stream). Compiled only with FASTCONV_WITH_CUDA.
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "ops/common.h"

namespace fastconv::cuda_ops {

using Args = const std::vector<Tensor>&;  // a kernel's inputs or outputs

inline cudaStream_t stream_of(const RunContext& ctx) { return static_cast<cudaStream_t>(ctx.stream); }

// Registers `prepare` as the "cuda" backend's kernel for `op` (algorithm `algo`) for input 0 of `dtypes` (empty:
// any); among the entries that apply, the highest priority wins.
void add_cuda_kernel(KernelTable& t, const std::string& op, const std::string& family, const std::string& algo,
                     PrepareFn prepare, CallPredicate applies = nullptr, int priority = 0,
                     std::vector<DType> dtypes = {DType::f32});

void register_activation_kernels(KernelTable& t);
void register_shape_kernels(KernelTable& t);
void register_pool_kernels(KernelTable& t);  // and interpolate
void register_conv_kernels(KernelTable& t);  // the bias gradient; the passes register with the CPU's (conv_prepare.cpp)
void register_linear_kernels(KernelTable& t);
void register_eltwise_kernels(KernelTable& t);  // and sum / mean
void register_norm_kernels(KernelTable& t);     // and softmax / log_softmax
void register_optim_kernels(KernelTable& t);
void register_loss_kernels(KernelTable& t);  // and dropout
void register_fold_kernels(KernelTable& t);  // unfold, fold
void register_resize_kernels(KernelTable& t);

}  // namespace fastconv::cuda_ops
