// CUDA kernel entries of the class losses (cuda/loss_ce.cu: cross_entropy, its backwards, nll_loss) and dropout
// (cuda/dropout.cu, which reads the step from the graph's device counter: each replay draws a new mask), with the
// CPU's attribute parsing (ops/loss.h, ops/dropout.h).
#if FASTCONV_WITH_CUDA
#include "dropout.cuh"
#include "loss.cuh"
#include "ops/cuda/common.h"
#include "ops/dropout.h"
#include "ops/loss.h"

namespace fastconv::cuda_ops {
namespace {

const int64_t* index_ptr(const Tensor& t, bool prob) { return prob ? nullptr : t.data<const int64_t>(); }
const float* prob_ptr(const Tensor& t, bool prob) { return prob ? t.data<const float>() : nullptr; }

}  // namespace

void register_loss_kernels(KernelTable& t) {
  add_cuda_kernel(t, "cross_entropy", "loss", "cross_entropy__cuda", [](const KernelCall& c) -> Prepared {
    const CeCall k = cross_entropy_call(c);
    return {[k](Args in, Args out, const RunContext& ctx) {
              cuda::cross_entropy_forward__cuda(k.p, fptr(in[0]), index_ptr(in[1], k.prob), prob_ptr(in[1], k.prob),
                                                k.weighted ? fptr(in[2]) : nullptr, fptr_mut(out[0]),
                                                fptr_mut(out[1]), ctx.workspace, stream_of(ctx));
            },
            cuda::cross_entropy_workspace_bytes(k.p), ""};
  });
  // cross_entropy_backward / _target_backward(grad, input, target, lse, weight?)
  add_cuda_kernel(t, "cross_entropy_backward", "loss", "cross_entropy__cuda", [](const KernelCall& c) -> Prepared {
    const CeCall k = cross_entropy_backward_call(c);
    return {[k](Args in, Args out, const RunContext& ctx) {
              cuda::cross_entropy_backward__cuda(k.p, fptr(in[0]), fptr(in[1]), index_ptr(in[2], k.prob),
                                                 prob_ptr(in[2], k.prob), k.weighted ? fptr(in[4]) : nullptr,
                                                 fptr(in[3]), fptr_mut(out[0]), ctx.workspace, stream_of(ctx));
            },
            cuda::cross_entropy_backward_workspace_bytes(k.p), ""};
  });
  add_cuda_kernel(t, "cross_entropy_target_backward", "loss", "cross_entropy__cuda",
                  [](const KernelCall& c) -> Prepared {
                    const CeCall k = cross_entropy_backward_call(c);
                    return {[k](Args in, Args out, const RunContext& ctx) {
                              cuda::cross_entropy_target_backward__cuda(k.p, fptr(in[0]), fptr(in[1]),
                                                                        k.weighted ? fptr(in[4]) : nullptr,
                                                                        fptr(in[3]), fptr_mut(out[0]), stream_of(ctx));
                            },
                            0, ""};
                  });
  add_cuda_kernel(t, "nll_loss", "loss", "nll_loss__cuda", [](const KernelCall& c) -> Prepared {
    const CeCall k = nll_loss_call(c);
    return {[k](Args in, Args out, const RunContext& ctx) {
              cuda::nll_loss_forward__cuda(k.p, fptr(in[0]), in[1].data<const int64_t>(),
                                           k.weighted ? fptr(in[2]) : nullptr, fptr_mut(out[0]), ctx.workspace,
                                           stream_of(ctx));
            },
            cuda::nll_loss_workspace_bytes(k.p), ""};
  });
  // nll_loss_backward(grad, input, target, weight?)
  add_cuda_kernel(t, "nll_loss_backward", "loss", "nll_loss__cuda", [](const KernelCall& c) -> Prepared {
    const CeCall k = nll_loss_backward_call(c);
    return {[k](Args in, Args out, const RunContext& ctx) {
              cuda::nll_loss_backward__cuda(k.p, fptr(in[0]), in[2].data<const int64_t>(),
                                            k.weighted ? fptr(in[3]) : nullptr, fptr_mut(out[0]), ctx.workspace,
                                            stream_of(ctx));
            },
            cuda::nll_loss_backward_workspace_bytes(k.p), ""};
  });

  for (const char* name : {"dropout", "dropout2d"}) {
    add_cuda_kernel(t, name, "dropout", "dropout__cuda", [](const KernelCall& c) -> Prepared {
      const ref::DropoutParams p = dropout_params(c, c.in[0].shape);
      return {[p](Args in, Args out, const RunContext& ctx) {
                // The step counter is int64 >= 0: the same bits as the kernel's uint64.
                const uint64_t* step = in.size() > 1 ? static_cast<const uint64_t*>(in[1].data_ptr()) : nullptr;
                cuda::dropout_forward__cuda(p, fptr(in[0]), fptr_mut(out[0]), out[1].data<uint8_t>(),
                                            stream_of(ctx), step);
              },
              0, ""};
    });
    add_cuda_kernel(t, std::string(name) + "_backward", "dropout", "dropout__cuda", [](const KernelCall& c) -> Prepared {
      const ref::DropoutParams p = dropout_params(c, c.in[0].shape);
      return {[p](Args in, Args out, const RunContext& ctx) {
                cuda::dropout_backward__cuda(p, fptr(in[0]), in[1].data<const uint8_t>(), fptr_mut(out[0]),
                                             stream_of(ctx));
              },
              0, ""};
    });
  }
}

}  // namespace fastconv::cuda_ops
#endif
