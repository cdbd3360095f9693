// CUDA kernel entries of the normalizations (cuda/norm.cu, cuda/norm_row.cu) and softmax / log_softmax
// (cuda/softmax.cu), with the CPU's attribute parsing (ops/norm.h, ops/activation.h).
#if FASTCONV_WITH_CUDA
#include "norm.cuh"
#include "ops/activation.h"
#include "ops/cuda/common.h"
#include "ops/norm.h"
#include "softmax.cuh"

namespace fastconv::cuda_ops {
namespace {

const float* opt(Args in, int i) { return i < 0 ? nullptr : fptr(in[size_t(i)]); }
float* opt_mut(Args in, int i) { return i < 0 ? nullptr : fptr_mut(in[size_t(i)]); }

}  // namespace

void register_norm_kernels(KernelTable& t) {
  add_cuda_kernel(t, "batch_norm", "norm", "batch_norm__cuda", [](const KernelCall& c) -> Prepared {
    const Slots s = slots(c.attr(), true);
    const ref::BatchNormParams p = bn_params(c, 0);
    return {[p, s](Args in, Args out, const RunContext& ctx) {
              cuda::batch_norm_forward__cuda(p, fptr(in[0]), opt(in, s.weight), opt(in, s.bias),
                                             opt_mut(in, s.running_mean), opt_mut(in, s.running_var),
                                             fptr_mut(out[0]), fptr_mut(out[1]), fptr_mut(out[2]), ctx.workspace,
                                             stream_of(ctx));
            },
            cuda::batch_norm_forward_workspace_bytes(p), ""};
  });
  add_cuda_kernel(t, "batch_norm_backward", "norm", "batch_norm__cuda", [](const KernelCall& c) -> Prepared {
    const Slots s = slots(c.attr(), false, 2);
    const ref::BatchNormParams p = bn_params(c, 1);
    return {[p, s](Args in, Args out, const RunContext& ctx) {
              cuda::batch_norm_backward__cuda(p, fptr(in[0]), fptr(in[1]), opt(in, s.weight), fptr(in[size_t(s.count)]),
                                              fptr(in[size_t(s.count + 1)]), fptr_mut(out[0]), fptr_mut(out[1]),
                                              fptr_mut(out[2]), ctx.workspace, stream_of(ctx));
            },
            cuda::batch_norm_backward_workspace_bytes(p), ""};
  });
  for (const char* name : {"group_norm", "layer_norm"}) {
    add_cuda_kernel(t, name, "norm", "row_norm__cuda", [](const KernelCall& c) -> Prepared {
      const Slots s = slots(c.attr(), false);
      Shape affine;
      const ref::RowNormParams p = row_params(c, 0, &affine);
      return {[p, s](Args in, Args out, const RunContext& ctx) {
                cuda::row_norm_forward__cuda(p, fptr(in[0]), opt(in, s.weight), opt(in, s.bias), fptr_mut(out[0]),
                                             fptr_mut(out[1]), fptr_mut(out[2]), stream_of(ctx));
              },
              0, ""};
    });
    add_cuda_kernel(t, std::string(name) + "_backward", "norm", "row_norm__cuda", [](const KernelCall& c) -> Prepared {
      const Slots s = slots(c.attr(), false, 2);
      Shape affine;
      const ref::RowNormParams p = row_params(c, 1, &affine);
      return {[p, s](Args in, Args out, const RunContext& ctx) {
                cuda::row_norm_backward__cuda(p, fptr(in[0]), fptr(in[1]), opt(in, s.weight),
                                              fptr(in[size_t(s.count)]), fptr(in[size_t(s.count + 1)]),
                                              fptr_mut(out[0]), fptr_mut(out[1]), fptr_mut(out[2]), ctx.workspace,
                                              stream_of(ctx));
              },
              cuda::row_norm_backward_workspace_bytes(p), ""};
    });
  }
  add_cuda_kernel(t, "local_response_norm", "norm", "lrn__cuda", [](const KernelCall& c) -> Prepared {
    const ref::LrnParams p = lrn_params(c);
    return {[p](Args in, Args out, const RunContext& ctx) {
              cuda::local_response_norm_forward__cuda(p, fptr(in[0]), fptr_mut(out[0]), fptr_mut(out[1]),
                                                      stream_of(ctx));
            },
            0, ""};
  });
  add_cuda_kernel(t, "local_response_norm_backward", "norm", "lrn__cuda", [](const KernelCall& c) -> Prepared {
    const ref::LrnParams p = lrn_params(c);
    return {[p](Args in, Args out, const RunContext& ctx) {
              cuda::local_response_norm_backward__cuda(p, fptr(in[0]), fptr(in[1]), fptr(in[2]), fptr(in[3]),
                                                       fptr_mut(out[0]), stream_of(ctx));
            },
            0, ""};
  });
  for (const char* name : {"softmax", "log_softmax"}) {
    add_cuda_kernel(t, name, "activation", "softmax__cuda", [](const KernelCall& c) -> Prepared {
      const ref::SoftmaxParams p = softmax_params(c);
      return {[p](Args in, Args out, const RunContext& ctx) {
                cuda::softmax_forward__cuda(p, fptr(in[0]), fptr_mut(out[0]), stream_of(ctx));
              },
              0, ""};
    });
    add_cuda_kernel(t, std::string(name) + "_backward", "activation", "softmax__cuda",
                    [](const KernelCall& c) -> Prepared {
                      const ref::SoftmaxParams p = softmax_params(c);
                      return {[p](Args in, Args out, const RunContext& ctx) {
                                cuda::softmax_backward__cuda(p, fptr(in[0]), fptr(in[1]), fptr_mut(out[0]),
                                                             stream_of(ctx));
                              },
                              0, ""};
                    });
  }
}

}  // namespace fastconv::cuda_ops
#endif
