// Host launchers of the implicit-GEMM convolutions (cuda/conv_implicit_gemm.cu), CUTLASS's three problems with the
// semantics of ref::conv_forward / conv_backward_data / conv_backward_weight (cpu/ref/conv_ref.h) for any
// cpu::ConvParams (1-, 2- and 3-D, stride, padding incl. far-side, dilation, groups), exact FP32 (float FMA, no
// tensor cores), no column matrix: the GEMM operands are gathered from NCHW tensors into shared memory on the fly.
//   fprop: y[N, K, out] = x (*) w (+ bias[k])                GEMM M = N*out, N = K/G, K = C/G*kvol, per group
//   dgrad: dx[N, C, in] = the transposed conv of dy with w  GEMM M = N*in,  N = C/G, K = K/G*kvol (+ bias_after[c])
//   wgrad: dw[K, C/G, k] = sum over N*out of dy * x          GEMM M = K/G,   N = C/G*kvol, K = N*out
// Layouts: x [N, C, in], w [K, C / groups, k], y / dy [N, K, out]. Pointers are device pointers; the work is queued
// on `stream`; every result is overwritten, accumulated in a fixed order (the same bits every run). wgrad splits
// its N*out reduction over blocks, each writing its partial sums into `workspace`
// (conv_implicit_gemm_workspace_bytes), then adds the partials in split order: no atomics.
// Throws fastconv::Error (Value) for parameters it cannot run (conv_implicit_gemm_applies false).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

#include "cpu/conv_params.h"

namespace fastconv::cuda {

enum class ImplicitPass { fprop, dgrad, wgrad };

// Groups divide C and K, and every tensor and GEMM extent fits the kernels' 32-bit index math.
bool conv_implicit_gemm_applies(const cpu::ConvParams& p);
size_t conv_implicit_gemm_workspace_bytes(const cpu::ConvParams& p, ImplicitPass pass);  // wgrad's partials

void conv_implicit_gemm_fprop__cuda(const cpu::ConvParams& p, const float* x, const float* w, const float* bias,
                                    float* y, cudaStream_t stream);
void conv_implicit_gemm_dgrad__cuda(const cpu::ConvParams& p, const float* dy, const float* w,
                                    const float* bias_after, float* dx, cudaStream_t stream);
void conv_implicit_gemm_wgrad__cuda(const cpu::ConvParams& p, const float* dy, const float* x, float* dw,
                                    void* workspace, cudaStream_t stream);

}  // namespace fastconv::cuda
