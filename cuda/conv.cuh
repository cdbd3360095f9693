// Host launchers of the convolutions the GEMM runs (cuda/conv.cu): im2col (cuda/fold.cu) + the tiled SGEMM
// (cuda/gemm.cu), one image at a time, every group in one strided-batched product. The semantics of
// ref::conv_forward / conv_backward_data / conv_backward_weight (cpu/ref/conv_ref.h) for any cpu::ConvParams (one to
// three spatial axes, any groups); depthwise convolutions also have direct kernels (cuda/conv_depthwise.cuh).
// Layouts: x [N, C, in], w [K, C / groups, k], y / dy [N, K, out]. Pointers are device pointers; the work is
// queued on `stream`; `workspace` is conv_gemm_workspace_bytes(p) bytes of device memory (the column matrix of one
// image). `precision` is the GEMM's (gemm.cuh): tf32 / bf16 round the weights and the column matrix (or dy) on the
// tensor cores; the fold, unfold, bias and the images' sum in backward weight (beta = 1, FP32 C) stay FP32.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cpu/conv_params.h"
#include "gemm.cuh"

namespace fastconv::cuda {

bool conv_gemm_applies(const cpu::ConvParams& p);  // groups divide both channel counts
size_t conv_gemm_workspace_bytes(const cpu::ConvParams& p);

// y = x (*) w (+ bias[k]).
void conv_gemm_forward__cuda(const cpu::ConvParams& p, const float* x, const float* w, const float* bias, float* y,
                             void* workspace, cudaStream_t stream, GemmPrecision precision = GemmPrecision::fp32);
// dx (overwritten) = the transposed convolution of dy with w (+ bias_after[c]: conv_transpose's bias).
void conv_gemm_backward_data__cuda(const cpu::ConvParams& p, const float* dy, const float* w, const float* bias_after,
                                   float* dx, void* workspace, cudaStream_t stream,
                                   GemmPrecision precision = GemmPrecision::fp32);
// dw (overwritten) = sum over the batch of dy_n x col(x_n)^T, images added in order (reproducible).
void conv_gemm_backward_weight__cuda(const cpu::ConvParams& p, const float* dy, const float* x, float* dw,
                                     void* workspace, cudaStream_t stream,
                                     GemmPrecision precision = GemmPrecision::fp32);

// w_out[q, t] = w[q, kv - 1 - t] for `kernels` kernels of kv taps each (w_out distinct from w): a true
// convolution (convolve2d, the flipped kernel) runs as the correlation with the flipped weights, and the weight
// gradient of the flipped kernel is flipped back.
void flip_taps__cuda(const float* w, float* w_out, int64_t kernels, int64_t kv, cudaStream_t stream);

// y[o, c, i] += bias[c] over a contiguous [outer, C, inner] tensor (conv and linear biases).
void bias_add__cuda(float* y, const float* bias, int64_t outer, int64_t C, int64_t inner, cudaStream_t stream);

}  // namespace fastconv::cuda
