// Fast activation kernels, one per instruction set; ops/activation.cpp picks one with pick_isa.
#pragma once
#include <cstdint>

namespace fastconv::cpu {

using UnaryKernel = void (*)(const float* x, float* y, int64_t n);
using UnaryBackwardKernel = void (*)(const float* grad, const float* y, float* dx, int64_t n);

void relu__avx512(const float* x, float* y, int64_t n);
void relu__avx2(const float* x, float* y, int64_t n);
void relu_backward__avx512(const float* grad, const float* y, float* dx, int64_t n);
void relu_backward__avx2(const float* grad, const float* y, float* dx, int64_t n);

}  // namespace fastconv::cpu
