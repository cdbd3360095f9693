// Naive reference kernels for linear (y = x W^T + b): the definition the SGEMM path is tested against.
#pragma once
#include <cstdint>

namespace fastconv::ref {

// x [M, K], w [N, K], b [N] or null -> y [M, N]
void linear(const float* x, const float* w, const float* b, int64_t M, int64_t N, int64_t K, float* y);
// dx [M, K] = dy [M, N] * w [N, K]
void linear_grad_input(const float* dy, const float* w, int64_t M, int64_t N, int64_t K, float* dx);
// dw [N, K] = dy^T [N, M] * x [M, K]
void linear_grad_weight(const float* dy, const float* x, int64_t M, int64_t N, int64_t K, float* dw);

}  // namespace fastconv::ref
