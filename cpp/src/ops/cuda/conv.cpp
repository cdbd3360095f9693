// CUDA kernel entries of the convolutions, by pass (forward, backward data = conv_transpose, backward weight), with
// the CPU's geometry (ops/conv_common.h): direct depthwise kernels (cuda/conv_depthwise.cu) where groups == C, else
// im2col + GEMM (cuda/conv.cu) for one to three spatial axes, any groups, flipped kernels (convolve2d) included.
// Also the bias gradient and linear's three GEMMs. CompileOptions::precision reaches the GEMMs of im2col_gemm__cuda
// and linear (tf32 / bf16: tensor cores, labelled in the schedule); depthwise__cuda and the bias sums stay FP32.
#if FASTCONV_WITH_CUDA
#include "conv.cuh"
#include "conv_depthwise.cuh"
#include "gemm.cuh"
#include "ops/conv_common.h"
#include "ops/cuda/common.h"

namespace fastconv {
namespace {

// CompileOptions::precision (checked by the Executable) as the GEMM's, and the schedule label that shows it was
// used ("im2col_gemm__cuda bf16"; empty, the entry's own name, for fp32).
cuda::GemmPrecision gemm_precision(const KernelCall& c) {
  if (c.options.precision == "tf32") return cuda::GemmPrecision::tf32;
  if (c.options.precision == "bf16") return cuda::GemmPrecision::bf16;
  return cuda::GemmPrecision::fp32;
}
std::string precision_label(const std::string& algo, const KernelCall& c) {
  return c.options.precision == "fp32" ? std::string() : algo + " " + c.options.precision;
}

}  // namespace

namespace conv {

using cpu::ConvPass;
using cuda_ops::Args;

namespace {
bool depthwise(const cpu::ConvParams& p) { return p.groups == p.C && p.C > 0 && p.K % p.C == 0; }
const float* opt(Args in, size_t i) { return in.size() > i ? in[i].data<const float>() : nullptr; }
}  // namespace

void register_pass_cuda_kernels(KernelTable& k, const std::string& op, ConvPass pass, PassGeometry geometry) {
  cuda_ops::add_cuda_kernel(
      k, op, "conv", "depthwise__cuda",
      [geometry, pass](const KernelCall& c) -> Prepared {
        const PassCall g = geometry(c);
        const cpu::ConvParams p = g.p;
        const bool bias = g.has_bias;
        return {[p, pass, bias](Args in, Args out, const RunContext& ctx) {
                  cudaStream_t s = cuda_ops::stream_of(ctx);
                  if (pass == ConvPass::forward) {
                    cuda::conv_depthwise_forward__cuda(p, fptr(in[0]), fptr(in[1]), opt(in, 2), fptr_mut(out[0]), s);
                  } else if (pass == ConvPass::backward_data) {
                    cuda::conv_depthwise_backward_data__cuda(p, fptr(in[0]), fptr(in[1]), fptr_mut(out[0]), s);
                    if (bias) cuda::bias_add__cuda(fptr_mut(out[0]), fptr(in[2]), p.N, p.C,
                                                   p.in[0] * p.in[1] * p.in[2], s);
                  } else {
                    cuda::conv_depthwise_backward_weight__cuda(p, fptr(in[0]), fptr(in[1]), fptr_mut(out[0]), s);
                  }
                },
                0, ""};
      },
      [geometry](const KernelCall& c) {
        const PassCall g = geometry(c);
        return !g.flip && depthwise(g.p);
      },
      30);
  // A flipped kernel (convolve2d and its gradients) runs as the correlation with the flipped weights, flipped into
  // the head of the workspace; its weight gradient is computed there and flipped into the output.
  cuda_ops::add_cuda_kernel(
      k, op, "conv", "im2col_gemm__cuda",
      [geometry, pass](const KernelCall& c) -> Prepared {
        const PassCall g = geometry(c);
        const cpu::ConvParams p = g.p;
        const bool bias = g.has_bias, flip = g.flip;
        const int64_t kv = cpu::k_vol(p), kernels = p.K * cpu::group_in(p);
        const size_t head = flip ? (size_t(kernels * kv) * sizeof(float) + 255) / 256 * 256 : 0;
        const cuda::GemmPrecision prec = gemm_precision(c);
        return {[p, pass, bias, flip, kv, kernels, head, prec](Args in, Args out, const RunContext& ctx) {
                  cudaStream_t s = cuda_ops::stream_of(ctx);
                  float* flipped = static_cast<float*>(ctx.workspace);
                  void* ws = static_cast<char*>(ctx.workspace) + head;
                  const float* w = fptr(in[1]);
                  if (flip && pass != ConvPass::backward_weight) {
                    cuda::flip_taps__cuda(w, flipped, kernels, kv, s);
                    w = flipped;
                  }
                  if (pass == ConvPass::forward) {
                    cuda::conv_gemm_forward__cuda(p, fptr(in[0]), w, opt(in, 2), fptr_mut(out[0]), ws, s, prec);
                  } else if (pass == ConvPass::backward_data) {
                    cuda::conv_gemm_backward_data__cuda(p, fptr(in[0]), w, bias ? fptr(in[2]) : nullptr,
                                                        fptr_mut(out[0]), ws, s, prec);
                  } else {
                    float* dw = flip ? flipped : fptr_mut(out[0]);
                    cuda::conv_gemm_backward_weight__cuda(p, fptr(in[0]), fptr(in[1]), dw, ws, s, prec);
                    if (flip) cuda::flip_taps__cuda(dw, fptr_mut(out[0]), kernels, kv, s);
                  }
                },
                head + cuda::conv_gemm_workspace_bytes(p), precision_label("im2col_gemm__cuda", c)};
      },
      [geometry](const KernelCall& c) { return cuda::conv_gemm_applies(geometry(c).p); }, 10);
}

}  // namespace conv

namespace cuda_ops {

void register_conv_kernels(KernelTable& t) {
  for (int nd = 1; nd <= 3; ++nd)
    add_cuda_kernel(t, "conv" + std::to_string(nd) + "d_backward_bias", "conv", "reduce__cuda",
                    [nd](const KernelCall& c) -> Prepared {
                      cpu::ConvParams p;
                      p.N = c.in[0].shape[0], p.K = p.C = c.in[0].shape[1];
                      for (int i = 0; i < nd; ++i) p.out[3 - nd + i] = c.in[0].shape[size_t(i) + 2];
                      return {[p](Args in, Args out, const RunContext& ctx) {
                                cuda::conv_backward_bias__cuda(p, fptr(in[0]), fptr_mut(out[0]), stream_of(ctx));
                              },
                              0, ""};
                    });
}

void register_linear_kernels(KernelTable& t) {
  auto leading = [](const Shape& s) {
    int64_t m = 1;
    for (size_t i = 0; i + 1 < s.size(); ++i) m *= s[i];
    return m;
  };
  // y = x W^T (+ b)
  add_cuda_kernel(t, "linear", "linear", "sgemm__cuda", [leading](const KernelCall& c) -> Prepared {
    const int64_t M = leading(c.in[0].shape), N = c.in[1].shape[0], K = c.in[1].shape[1];
    const bool bias = c.in.size() == 3;
    const cuda::GemmPrecision prec = gemm_precision(c);
    return {[=](Args in, Args out, const RunContext& ctx) {
              cuda::sgemm__cuda(false, true, M, N, K, 1.f, fptr(in[0]), K, fptr(in[1]), K, 0.f, fptr_mut(out[0]), N,
                                stream_of(ctx), prec);
              if (bias) cuda::bias_add__cuda(fptr_mut(out[0]), fptr(in[2]), M, N, 1, stream_of(ctx));
            },
            0, precision_label("sgemm__cuda", c)};
  });
  // dx = dy W
  add_cuda_kernel(t, "linear_grad_input", "linear", "sgemm__cuda", [leading](const KernelCall& c) -> Prepared {
    const int64_t M = leading(c.in[0].shape), N = c.in[1].shape[0], K = c.in[1].shape[1];
    const cuda::GemmPrecision prec = gemm_precision(c);
    return {[=](Args in, Args out, const RunContext& ctx) {
              cuda::sgemm__cuda(false, false, M, K, N, 1.f, fptr(in[0]), N, fptr(in[1]), K, 0.f, fptr_mut(out[0]), K,
                                stream_of(ctx), prec);
            },
            0, precision_label("sgemm__cuda", c)};
  });
  // dW = dy^T x
  add_cuda_kernel(t, "linear_grad_weight", "linear", "sgemm__cuda", [leading](const KernelCall& c) -> Prepared {
    const int64_t M = leading(c.in[0].shape), N = c.in[0].shape.back(), K = c.in[1].shape.back();
    const cuda::GemmPrecision prec = gemm_precision(c);
    return {[=](Args in, Args out, const RunContext& ctx) {
              cuda::sgemm__cuda(true, false, N, K, M, 1.f, fptr(in[0]), N, fptr(in[1]), K, 0.f, fptr_mut(out[0]), K,
                                stream_of(ctx), prec);
            },
            0, precision_label("sgemm__cuda", c)};
  });
}

}  // namespace cuda_ops
}  // namespace fastconv
#endif
