// Fast activation kernels, one per instruction set; ops/activation.cpp picks one with pick_isa.
#pragma once
#include <cstdint>

#include "cpu/ref/activation_ref.h"

namespace fastconv::cpu {

using UnaryKernel = void (*)(const float* x, float* y, int64_t n);
using UnaryBackwardKernel = void (*)(const float* grad, const float* y, float* dx, int64_t n);

void relu__avx512(const float* x, float* y, int64_t n);
void relu__avx2(const float* x, float* y, int64_t n);
void relu_backward__avx512(const float* grad, const float* y, float* dx, int64_t n);
void relu_backward__avx2(const float* grad, const float* y, float* dx, int64_t n);

// Point-wise activations with parameters (all but gelu, softplus and mish are vectorised; those fall back to the
// reference inside these entry points).
using ActKernel = void (*)(const ref::ActParams& p, const float* x, float* y, int64_t n);
using ActBackwardKernel = void (*)(const ref::ActParams& p, const float* grad, const float* saved, float* dx,
                                   int64_t n);
constexpr bool act_is_vectorised(ref::ActKind k) {
  return k != ref::ActKind::gelu && k != ref::ActKind::gelu_tanh && k != ref::ActKind::softplus &&
         k != ref::ActKind::mish &&
         k != ref::ActKind::pow;
}
void activation__avx512(const ref::ActParams& p, const float* x, float* y, int64_t n);
void activation__avx2(const ref::ActParams& p, const float* x, float* y, int64_t n);
void activation_backward__avx512(const ref::ActParams& p, const float* grad, const float* saved, float* dx, int64_t n);
void activation_backward__avx2(const ref::ActParams& p, const float* grad, const float* saved, float* dx, int64_t n);

// softmax / log_softmax over rows [o0, o1) of the outer axis (see ref::SoftmaxParams).
using SoftmaxKernel = void (*)(const ref::SoftmaxParams& p, const float* x, float* y, int64_t o0, int64_t o1);
using SoftmaxBackwardKernel = void (*)(const ref::SoftmaxParams& p, const float* grad, const float* y, float* dx,
                                       int64_t o0, int64_t o1);
void softmax__avx512(const ref::SoftmaxParams& p, const float* x, float* y, int64_t o0, int64_t o1);
void softmax__avx2(const ref::SoftmaxParams& p, const float* x, float* y, int64_t o0, int64_t o1);
void softmax_backward__avx512(const ref::SoftmaxParams& p, const float* grad, const float* y, float* dx, int64_t o0,
                              int64_t o1);
void softmax_backward__avx2(const ref::SoftmaxParams& p, const float* grad, const float* y, float* dx, int64_t o0,
                            int64_t o1);

}  // namespace fastconv::cpu
