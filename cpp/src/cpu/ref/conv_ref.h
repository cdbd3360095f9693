// Naive reference convolution kernels: direct loops over every index. They define the semantics (cross-correlation
// as in torch.nn.functional.conv*d, zero padding, groups, dilation) that every fast algorithm is tested against.
#pragma once
#include <cstddef>

#include "cpu/conv_params.h"

namespace fastconv::ref {

// The double accumulators of forward (out_vol doubles) and backward-weight (k_vol doubles) come from `acc` (a
// compiled node's workspace, conv_ref_workspace_bytes long); null: the kernel allocates them (tests, references).
size_t conv_ref_workspace_bytes(const cpu::ConvParams& p);

// y[N,K,out] = sum_{c in group, kernel taps} x[N,C,in] * w[K,C/groups,k] (+ bias[K] when bias is non-null)
void conv_forward(const cpu::ConvParams& p, const float* x, const float* w, const float* bias, float* y,
                  double* acc = nullptr);
// dx[N,C,in] = d(sum y*dy)/dx: the transposed convolution of dy with w (overwrites dx)
void conv_backward_data(const cpu::ConvParams& p, const float* dy, const float* w, float* dx);
// dw[K,C/groups,k] = sum over batch and output positions of dy * x (overwrites dw)
void conv_backward_weight(const cpu::ConvParams& p, const float* dy, const float* x, float* dw,
                          double* acc = nullptr);
// db[K] = sum over batch and output positions of dy
void conv_backward_bias(const cpu::ConvParams& p, const float* dy, float* db);

}  // namespace fastconv::ref
