// Host launchers of the activation kernels (cuda/activation.cu). Their semantics are the CPU reference's
// (cpu/ref/activation_ref.h, relu's in cpu/ref/eltwise_ref.h), whose ActKind/ActParams they take, so the kinds
// cannot drift apart. Pointers are device pointers; n may be 0; the work is queued on `stream`.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "cpu/ref/activation_ref.h"

namespace fastconv::cuda {

// y = f(x), every ref::ActKind.
void activation_forward__cuda(const ref::ActParams& p, const float* x, float* y, int64_t n, cudaStream_t stream);
// dx = grad * f'(saved), `saved` being the output y for sigmoid and tanh and the input x otherwise
// (ref::act_backward_uses_output).
void activation_backward__cuda(const ref::ActParams& p, const float* grad, const float* saved, float* dx, int64_t n,
                               cudaStream_t stream);

// y = x < 0 ? 0 : x (NaN propagates); dx = y > 0 ? grad : 0.
void relu_forward__cuda(const float* x, float* y, int64_t n, cudaStream_t stream);
void relu_backward__cuda(const float* grad, const float* y, float* dx, int64_t n, cudaStream_t stream);

// prelu over a contiguous [outer, C, inner] view, every channel (ref::prelu with c0 = 0, c1 = C):
// y = x > 0 ? x : w[c] * x, one weight for every channel when p.shared.
void prelu_forward__cuda(const ref::PreluParams& p, const float* x, const float* w, float* y, cudaStream_t stream);
// dx = g * (x > 0 ? 1 : w[c]); dw_part[c] (C doubles) = sum over outer and inner of g * x where !(x > 0), summed in
// double (the caller sums the parts of a shared weight, as with ref::prelu_backward).
void prelu_backward__cuda(const ref::PreluParams& p, const float* g, const float* x, const float* w, float* dx,
                          double* dw_part, cudaStream_t stream);
// The weight gradient from those parts: dw[c] = float(dw_part[c]), or for a shared weight dw[0] = their sum in
// channel order (the CPU's order, so both backends give the same bits).
void prelu_weight_grad__cuda(const double* dw_part, float* dw, int64_t C, bool shared, cudaStream_t stream);

}  // namespace fastconv::cuda
