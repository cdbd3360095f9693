// The "cuda" backend's implicit-GEMM and Winograd entries for the convolution passes (cuda/conv_implicit_gemm.cu,
// cuda/conv_winograd.cu), next to ops/cuda/conv.cpp's depthwise and im2col entries. Rules, highest priority first
// (docs/cuda.md, "Convolution algorithms"):
//   depthwise__cuda      30  groups == C (ops/cuda/conv.cpp)
//   winograd_f2x3__cuda  25  forward and backward data of 3x3, stride 1, dilation 1, groups 1, 2-D convolutions;
//                            preferred with >= 32 input and output channels, >= 32 tiles of 2x2 outputs, and maps
//                            that fill their tiles (the 16 products per tile must beat the direct 36 by 1.5x after
//                            cut tiles): below that the transforms and the 16 transformed copies of x and y
//                            cost more memory traffic than the products save
//   implicit_gemm__cuda  20  every pass, any geometry (1-, 2-, 3-D, groups); preferred except for pointwise
//                            convolutions (1x1, stride 1, no padding: im2col_gemm runs the GEMM on x itself, with
//                            no column matrix to save) and for strided backward data (its gather reads 1/stride^d
//                            of the taps as nonzero; im2col_gemm's col2im does not)
//   im2col_gemm__cuda    10  at most two spatial axes (ops/cuda/conv.cpp): pointwise convolutions, strided dgrad
// FASTCONV_ALGO=conv=implicit_gemm (or winograd_f2x3, im2col_gemm, with or without the __cuda suffix) forces one
// where it applies. Under CompileOptions::precision tf32 / bf16 neither entry here is preferred: both are FP32 SIMT
// kernels, and im2col_gemm__cuda's GEMM is the one with tensor-core paths (forced, they still run, in FP32). Flipped kernels (convolve2d) go to im2col_gemm__cuda, which flips them.
#if FASTCONV_WITH_CUDA
#include "conv_implicit_gemm.cuh"
#include "conv_winograd.cuh"
#include "ops/conv_common.h"
#include "ops/cuda/common.h"

namespace fastconv::conv {

using cpu::ConvParams;
using cpu::ConvPass;
using cuda_ops::Args;

namespace {

bool pointwise(const ConvParams& p) {
  for (int i = 0; i < 3; ++i)
    if (p.k[i] != 1 || p.stride[i] != 1 || p.pad[i] != 0 || p.in[i] != p.out[i]) return false;
  return true;
}

bool strided(const ConvParams& p) { return p.stride[0] > 1 || p.stride[1] > 1 || p.stride[2] > 1; }

bool implicit_pays(const ConvParams& p, ConvPass pass) {
  return !pointwise(p) && !(pass == ConvPass::backward_data && strided(p));
}

// The pass's own output map: y for forward, dx for backward data (a Winograd convolution of dy).
bool winograd_pays(const ConvParams& p, ConvPass pass) {
  if (p.C < 32 || p.K < 32) return false;
  const int64_t h = pass == ConvPass::forward ? p.out[1] : p.in[1], w = pass == ConvPass::forward ? p.out[2] : p.in[2];
  const int64_t tiles = p.N * ((h + 1) / 2) * ((w + 1) / 2);
  return tiles >= 32 && 2 * 9 * p.N * h * w >= 3 * 16 * tiles;
}

const float* opt(Args in, size_t i) { return in.size() > i ? in[i].data<const float>() : nullptr; }

KernelDef entry(const std::string& op, const std::string& algo, int priority) {
  KernelDef d;
  d.op = op;
  d.backend = "cuda";
  d.family = "conv";
  d.algo = algo;
  d.priority = priority;
  d.dtypes = {DType::f32};
  return d;
}

}  // namespace

void register_pass_cuda_implicit_kernels(KernelTable& k, const std::string& op, ConvPass pass,
                                         PassGeometry geometry) {
  KernelDef ig = entry(op, "implicit_gemm__cuda", 20);
  ig.applies = [geometry](const KernelCall& c) {
    const PassCall g = geometry(c);
    return !g.flip && cuda::conv_implicit_gemm_applies(g.p);
  };
  ig.preferred = [geometry, pass](const KernelCall& c) {
    return c.options.precision == "fp32" && implicit_pays(geometry(c).p, pass);
  };
  ig.prepare = [geometry, pass](const KernelCall& c) -> Prepared {
    const PassCall g = geometry(c);
    const ConvParams p = g.p;
    const bool bias = g.has_bias;
    const size_t ws = pass == ConvPass::backward_weight
                          ? cuda::conv_implicit_gemm_workspace_bytes(p, cuda::ImplicitPass::wgrad)
                          : 0;
    return {[p, pass, bias](Args in, Args out, const RunContext& ctx) {
              cudaStream_t s = cuda_ops::stream_of(ctx);
              if (pass == ConvPass::forward)
                cuda::conv_implicit_gemm_fprop__cuda(p, fptr(in[0]), fptr(in[1]), opt(in, 2), fptr_mut(out[0]), s);
              else if (pass == ConvPass::backward_data)
                cuda::conv_implicit_gemm_dgrad__cuda(p, fptr(in[0]), fptr(in[1]), bias ? fptr(in[2]) : nullptr,
                                                     fptr_mut(out[0]), s);
              else
                cuda::conv_implicit_gemm_wgrad__cuda(p, fptr(in[0]), fptr(in[1]), fptr_mut(out[0]), ctx.workspace,
                                                     s);
            },
            ws, ""};
  };
  k.add(std::move(ig));
  if (pass == ConvPass::backward_weight) return;  // Winograd runs forward and backward data only
  KernelDef wg = entry(op, "winograd_f2x3__cuda", 25);
  wg.applies = [geometry](const KernelCall& c) {
    const PassCall g = geometry(c);
    return !g.flip && cuda::conv_winograd_f2x3_applies(g.p);
  };
  wg.preferred = [geometry, pass](const KernelCall& c) {
    return c.options.precision == "fp32" && winograd_pays(geometry(c).p, pass);
  };
  wg.prepare = [geometry, pass](const KernelCall& c) -> Prepared {
    const PassCall g = geometry(c);
    const ConvParams p = g.p;
    const bool bias = g.has_bias;
    return {[p, pass, bias](Args in, Args out, const RunContext& ctx) {
              cudaStream_t s = cuda_ops::stream_of(ctx);
              if (pass == ConvPass::forward)
                cuda::conv_winograd_f2x3_forward__cuda(p, fptr(in[0]), fptr(in[1]), opt(in, 2), fptr_mut(out[0]),
                                                       ctx.workspace, s);
              else
                cuda::conv_winograd_f2x3_backward_data__cuda(p, fptr(in[0]), fptr(in[1]),
                                                             bias ? fptr(in[2]) : nullptr, fptr_mut(out[0]),
                                                             ctx.workspace, s);
            },
            cuda::conv_winograd_f2x3_workspace_bytes(p), ""};
  };
  k.add(std::move(wg));
}

}  // namespace fastconv::conv
#endif
