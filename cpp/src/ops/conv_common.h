// Shared between the conv op files: conv.cpp (shape rules, backward rules, registration) and conv_prepare.cpp
// (algorithm choice and kernel glue).
#pragma once
#include <string>

#include "cpu/conv_gemm.h"
#include "cpu/conv_params.h"
#include "fastconv/cpu_features.h"
#include "ops/op.h"

namespace fastconv::conv {

// Every algorithm a convolution pass can run with: one kernel-table entry each (conv_prepare.cpp), chosen once when
// a node is prepared (the rules, or an override: FASTCONV_ALGO=conv=<name>).
enum class Algo { ref, im2col_gemm, gemm_1x1, depthwise_direct, winograd_f4x3 };
const char* algo_name(Algo a);
Algo algo_from_name(const std::string& name);
bool algo_applies(Algo a, const cpu::ConvParams& p);

// Kernel inputs/outputs by pass:
//   forward:          in = {x, w[, bias]}           out = {y}
//   backward_data:    in = {dy, w[, bias_after]}    out = {dx}   (bias_after: conv_transpose adds its bias to dx)
//   backward_weight:  in = {dy, x}                  out = {dw}
// `flip_kernel`: the kernel is used spatially reversed (true convolution, convolve2d): the weight input is flipped
// into scratch, and a weight gradient is flipped back in place.
// What the conv kernels read from outside the call, resolved when a node is prepared (kernels read no global
// state): the instruction set, the thread count and the Winograd blocking override (conv.winograd_fused_tiles).
struct KernelConfig {
  Isa isa;
  int threads;
  int64_t winograd_fused_tiles;
  bool packed_weights = true;  // conv.packed_weights=0 packs forward weights per call again (A/B measurements)
};
KernelConfig kernel_config(const KernelCall& c);

Prepared prepare_pass(cpu::ConvPass pass, const cpu::ConvParams& p, bool has_bias, Algo algo, bool flip_kernel,
                      const KernelConfig& cfg);

// What a conv op's call means for its kernels: the geometry, whether a bias input is there, whether the kernel is
// used flipped. Each op gives one such function; register_pass_kernels adds an entry per algorithm for the op.
struct PassCall {
  cpu::ConvParams p;
  bool has_bias = false, flip = false;
};
using PassGeometry = std::function<PassCall(const OpCall&)>;
void register_pass_kernels(KernelTable& k, const std::string& op, cpu::ConvPass pass, PassGeometry geometry);
#if FASTCONV_WITH_CUDA
// The "cuda" backend's entries for the same op (ops/cuda/conv.cpp); register_pass_kernels calls it.
void register_pass_cuda_kernels(KernelTable& k, const std::string& op, cpu::ConvPass pass, PassGeometry geometry);
// ... and its implicit-GEMM and Winograd entries (ops/cuda/conv_implicit.cpp).
void register_pass_cuda_implicit_kernels(KernelTable& k, const std::string& op, cpu::ConvPass pass,
                                         PassGeometry geometry);
#endif

}  // namespace fastconv::conv
