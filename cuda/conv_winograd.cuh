// Host launchers of the Winograd F(2x2, 3x3) convolution (cuda/conv_winograd.cu), exact FP32, for 3x3 kernels
// with stride 1, dilation 1, groups 1 on 2-D NCHW tensors (conv_winograd_f2x3_applies): the semantics of
// ref::conv_forward and ref::conv_backward_data (cpu/ref/conv_ref.h), any padding, any output size (far-side
// padding). Layouts: x [N, C, H, W], w [K, C, 3, 3], y / dy [N, K, out_h, out_w]. Pointers are device pointers;
// `workspace` is conv_winograd_f2x3_workspace_bytes(p) bytes of device memory; the work is queued on `stream`.
// Images go through the transforms and products in chunks (so that the workspace stays bounded whatever the batch):
// `chunk` images each, 0 for the rule (V and M of a chunk under 64 MiB); the workspace depends on it.
// Throws fastconv::Error (Value) for parameters it cannot run.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cpu/conv_params.h"

namespace fastconv::cuda {

bool conv_winograd_f2x3_applies(const cpu::ConvParams& p);
size_t conv_winograd_f2x3_workspace_bytes(const cpu::ConvParams& p, int64_t chunk = 0);  // either pass

// y = x (*) w (+ bias[k]).
void conv_winograd_f2x3_forward__cuda(const cpu::ConvParams& p, const float* x, const float* w, const float* bias,
                                      float* y, void* workspace, cudaStream_t stream, int64_t chunk = 0);
// dx (overwritten) = the transposed convolution of dy with w (+ bias_after[c]): a Winograd convolution of dy with
// the channel-transposed, 180-degree-rotated filters and padding 2 - pad.
void conv_winograd_f2x3_backward_data__cuda(const cpu::ConvParams& p, const float* dy, const float* w,
                                            const float* bias_after, float* dx, void* workspace,
                                            cudaStream_t stream, int64_t chunk = 0);

}  // namespace fastconv::cuda
