// Depthwise convolution (groups == C, K = C * multiplier) by a direct kernel: each (image, channel) plane is
// processed as row updates y_row += w_tap * x_row, vectorised along W. The plane kernels exist per instruction set
// (scalar, AVX2, AVX-512); the drivers split planes across threads.
#pragma once
#include <cstdint>

#include "cpu/conv_params.h"

namespace fastconv {
enum class Isa;  // fastconv/cpu_features.h (not included: ISA files include this header)
}

namespace fastconv::cpu {

// One plane: y = bias + sum_taps w * x (overwrites y).
using DwForwardPlane = void (*)(const ConvParams& p, const float* x, const float* w, float bias, float* y);
// One (output channel -> input channel) pair: dx += transposed convolution of dy with w.
using DwBackwardDataPlane = void (*)(const ConvParams& p, const float* dy, const float* w, float* dx);
// dw[k_vol] += correlation of dy with x.
using DwBackwardWeightPlane = void (*)(const ConvParams& p, const float* dy, const float* x, float* dw);

struct DepthwiseKernels {
  DwForwardPlane forward;
  DwBackwardDataPlane backward_data;
  DwBackwardWeightPlane backward_weight;
};

#define FASTCONV_DW_DECLARE(isa)                                                                              \
  void conv_depthwise_forward__##isa(const ConvParams& p, const float* x, const float* w, float bias, float* y); \
  void conv_depthwise_backward_data__##isa(const ConvParams& p, const float* dy, const float* w, float* dx);     \
  void conv_depthwise_backward_weight__##isa(const ConvParams& p, const float* dy, const float* x, float* dw);
FASTCONV_DW_DECLARE(scalar)
FASTCONV_DW_DECLARE(avx2)
FASTCONV_DW_DECLARE(avx512)
#undef FASTCONV_DW_DECLARE

// The plane kernels of an instruction set (chosen at prepare time).
DepthwiseKernels depthwise_kernels(Isa isa);

void conv_depthwise_forward(const DepthwiseKernels& kn, const ConvParams& p, const float* x, const float* w,
                            const float* bias, float* y);
void conv_depthwise_backward_data(const DepthwiseKernels& kn, const ConvParams& p, const float* dy, const float* w,
                                  float* dx);
void conv_depthwise_backward_weight(const DepthwiseKernels& kn, const ConvParams& p, const float* dy, const float* x,
                                    float* dw);

}  // namespace fastconv::cpu
