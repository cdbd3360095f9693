// Shared between the conv op files: conv.cpp (shape rules, backward rules, registration) and conv_prepare.cpp
// (algorithm choice and kernel glue).
#pragma once
#include <string>

#include "cpu/conv_gemm.h"
#include "cpu/conv_params.h"
#include "ops/op.h"

namespace fastconv::conv {

// Every algorithm a convolution pass can run with; chosen once in prepare (rules, or FASTCONV_CONV_ALGO).
enum class Algo { ref, im2col_gemm, gemm_1x1, depthwise_direct, winograd_f4x3 };
const char* algo_name(Algo a);

// The algorithm for one pass: the forced one (FASTCONV_CONV_ALGO) where it applies to these shapes, else the rules.
Algo choose_algo(const cpu::ConvParams& p, cpu::ConvPass pass);
bool algo_applies(Algo a, const cpu::ConvParams& p, cpu::ConvPass pass);

// Kernel inputs/outputs by pass:
//   forward:          in = {x, w[, bias]}           out = {y}
//   backward_data:    in = {dy, w[, bias_after]}    out = {dx}   (bias_after: conv_transpose adds its bias to dx)
//   backward_weight:  in = {dy, x}                  out = {dw}
// `flip_kernel`: the kernel is used spatially reversed (true convolution, convolve2d): the weight input is flipped
// into scratch, and a weight gradient is flipped back in place.
Prepared prepare_pass(const std::string& op, cpu::ConvPass pass, const cpu::ConvParams& p, bool has_bias,
                      Device d, bool flip_kernel = false);

}  // namespace fastconv::conv
