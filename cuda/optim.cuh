// Host launchers of the optimizer kernels (cuda/optim.cu), semantics of cpu/ref/optim_ref.h over elements [0, n):
// each statement is the reference's float32 operation, rounded the same way (no FMA contraction), so the results
// agree with ref::*_update bit for bit where the reference itself is not contracted. Pointers are device pointers.
// The Params carry host scalars (lr, bias corrections, first_step); the launchers take them by value (they are
// kernel arguments, so a captured graph bakes them in). d_grad_scale, when not null, replaces p.grad_scale by a
// float the device computed (a clipping coefficient from sum_squares__cuda), read inside the kernel.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cpu/ref/optim_ref.h"

namespace fastconv::cuda {

// ref::sgd_update; buf may be null when p.momentum == 0.
void sgd_update__cuda(const ref::SgdParams& p, float* param, const float* grad, float* buf, int64_t n,
                      cudaStream_t stream, const float* d_grad_scale = nullptr);
// ref::adam_update (AdamW when p.decoupled); max_exp_avg_sq may be null unless p.amsgrad.
void adam_update__cuda(const ref::AdamParams& p, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                       float* max_exp_avg_sq, int64_t n, cudaStream_t stream, const float* d_grad_scale = nullptr);
// ref::rmsprop_update; buf may be null when p.momentum == 0, grad_avg when not p.centered.
void rmsprop_update__cuda(const ref::RmspropParams& p, float* param, const float* grad, float* square_avg, float* buf,
                          float* grad_avg, int64_t n, cudaStream_t stream, const float* d_grad_scale = nullptr);

// ref::sum_squares / ref::max_abs of x[0, n) into *out (one device double; 0 for n == 0). Deterministic: blocks sum
// fixed chunks of 4096 values into the workspace (double), one block combines them in a fixed order. max_abs skips
// NaN as the reference's std::max does.
size_t sum_squares_workspace_bytes(int64_t n);
void sum_squares__cuda(const float* x, int64_t n, double* out, void* workspace, cudaStream_t stream);
size_t max_abs_workspace_bytes(int64_t n);
void max_abs__cuda(const float* x, int64_t n, double* out, void* workspace, cudaStream_t stream);

}  // namespace fastconv::cuda
