// Host launchers of the optimizer kernels (cuda/optim.cu), semantics of cpu/ref/optim_ref.h over elements [0, n):
// each statement is the reference's float32 operation, rounded the same way (no FMA contraction), so the results
// agree with ref::*_update bit for bit where the reference itself is not contracted. Pointers are device pointers.
// The Params carry host scalars (lr, bias corrections, first_step); the launchers take them by value (they are
// kernel arguments, so a captured graph bakes them in). d_grad_scale, when not null, replaces the magnitude of
// p.grad_scale by a float the device computed (a clipping coefficient from clip_coef__cuda), read inside the kernel;
// p.grad_scale's sign stays (-1: maximize), so the scale is sign * coefficient as on the CPU.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cpu/ref/optim_ref.h"

namespace fastconv::cuda {

// The step's learning rate (float64) and step index (int64, 0 on the first step) in device memory, read by the
// kernels instead of p.lr and the bias corrections / first_step the host would compute: a captured CUDA graph then
// follows the optimizer's counter and the schedule's learning rate on every replay. Null: the Params' values.
struct StepScalars {
  const double* lr = nullptr;
  const int64_t* step = nullptr;
};

// ref::sgd_update; buf may be null when p.momentum == 0.
void sgd_update__cuda(const ref::SgdParams& p, float* param, const float* grad, float* buf, int64_t n,
                      cudaStream_t stream, const float* d_grad_scale = nullptr, StepScalars dev = {});
// ref::adam_update (AdamW when p.decoupled); max_exp_avg_sq may be null unless p.amsgrad.
void adam_update__cuda(const ref::AdamParams& p, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                       float* max_exp_avg_sq, int64_t n, cudaStream_t stream, const float* d_grad_scale = nullptr,
                       StepScalars dev = {});
// ref::rmsprop_update; buf may be null when p.momentum == 0, grad_avg when not p.centered.
void rmsprop_update__cuda(const ref::RmspropParams& p, float* param, const float* grad, float* square_avg, float* buf,
                          float* grad_avg, int64_t n, cudaStream_t stream, const float* d_grad_scale = nullptr,
                          StepScalars dev = {});
// ref::adadelta_update.
void adadelta_update__cuda(const ref::AdadeltaParams& p, float* param, const float* grad, float* square_avg,
                           float* acc_delta, int64_t n, cudaStream_t stream, const float* d_grad_scale = nullptr,
                           StepScalars dev = {});
// ref::adagrad_update; with dev.step the kernel computes clr and first_step from the device step index.
void adagrad_update__cuda(const ref::AdagradParams& p, float* param, const float* grad, float* sum, int64_t n,
                          cudaStream_t stream, const float* d_grad_scale = nullptr, StepScalars dev = {});

// The clipping coefficient of torch.nn.utils.clip_grad_norm_ from per-gradient parts (count doubles: sums of squares,
// or maxima of |x| when inf): *coef = min(1, max_norm / (total + 1e-6)), total summed (or maxed) in part order.
void clip_coef__cuda(const double* parts, int count, bool inf, double max_norm, float* coef, cudaStream_t stream);
// counter_increment: *before = *counter, then *counter += 1 (one thread).
void counter_increment__cuda(int64_t* counter, int64_t* before, cudaStream_t stream);

// ref::sum_squares / ref::max_abs of x[0, n) into *out (one device double; 0 for n == 0). Deterministic: blocks sum
// fixed chunks of 4096 values into the workspace (double), one block combines them in a fixed order. max_abs skips
// NaN as the reference's std::max does.
size_t sum_squares_workspace_bytes(int64_t n);
void sum_squares__cuda(const float* x, int64_t n, double* out, void* workspace, cudaStream_t stream);
size_t max_abs_workspace_bytes(int64_t n);
void max_abs__cuda(const float* x, int64_t n, double* out, void* workspace, cudaStream_t stream);

}  // namespace fastconv::cuda
