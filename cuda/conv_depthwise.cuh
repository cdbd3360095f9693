// Host launchers of the direct depthwise convolution kernels (cuda/conv_depthwise.cu), the semantics of
// ref::conv_forward, conv_backward_data, conv_backward_weight and conv_backward_bias (cpu/ref/conv_ref.h) for
// cpu::ConvParams with groups == C and K a multiple of C (channel multiplier K / C, output channel k reading input
// channel k / (K / C)); 1-, 2- and 3-D, any stride, padding and dilation. Layouts: x [N, C, in], w [K, 1, k],
// y / dy [N, K, out]. Pointers are device pointers; empty shapes queue nothing; the work is queued on `stream`.
// Throws fastconv::Error (Value) for parameters that are not depthwise.
#pragma once
#include <cuda_runtime.h>

#include "cpu/conv_params.h"

namespace fastconv::cuda {

// y = x (*) w (+ bias[k] when bias is non-null); float fma over the taps in the reference's order.
void conv_depthwise_forward__cuda(const cpu::ConvParams& p, const float* x, const float* w, const float* bias,
                                  float* y, cudaStream_t stream);
// dx (overwritten) = the transposed convolution of dy with w: a gather, one thread an input element summing every
// (output channel of its group, tap) contribution in the reference's order, in float.
void conv_depthwise_backward_data__cuda(const cpu::ConvParams& p, const float* dy, const float* w, float* dx,
                                        cudaStream_t stream);
// dw (overwritten) = sum over the batch and output positions of dy * x: one block a weight element, products
// summed in double per thread and then in a fixed tree, so the result is reproducible.
void conv_depthwise_backward_weight__cuda(const cpu::ConvParams& p, const float* dy, const float* x, float* dw,
                                          cudaStream_t stream);
// db[K] = sum over the batch and output positions of dy, in double, fixed order (any groups).
void conv_backward_bias__cuda(const cpu::ConvParams& p, const float* dy, float* db, cudaStream_t stream);

}  // namespace fastconv::cuda
