// CUDA kernel entries of the losses (cuda/loss_ce.cu: cross_entropy, its backwards, nll_loss; cuda/loss_pointwise.cu:
// the element-wise losses, triplet margin, cosine similarity) and dropout
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

  for (const std::string& name : pointwise_loss_names()) {
    add_cuda_kernel(t, name, "loss", "pointwise__cuda", [](const KernelCall& c) -> Prepared {
      const PointwiseCall pc = pointwise_loss_call(c, 0);
      const int64_t n = shape_numel(c.in[0].shape);
      return {[pc, n](Args in, Args out, const RunContext& ctx) {
                cuda::pointwise_loss_forward__cuda(pc.p, pc.reduction, pc.mean_by_weight, fptr(in[0]), fptr(in[1]),
                                                   pc.weight_at < 0 ? nullptr : fptr(in[size_t(pc.weight_at)]),
                                                   pc.pos_weight_at < 0 ? nullptr : fptr(in[size_t(pc.pos_weight_at)]),
                                                   n, fptr_mut(out[0]), ctx.workspace, stream_of(ctx));
              },
              cuda::pointwise_loss_workspace_bytes(pc.reduction, n), ""};
    });
    // <loss>_backward(grad, input, target, weight?, pos_weight?; wrt)
    add_cuda_kernel(t, name + "_backward", "loss", "pointwise__cuda", [](const KernelCall& c) -> Prepared {
      const PointwiseCall pc = pointwise_loss_call(c, 1);
      const bool wrt_target = c.attr().get_str("wrt") == "target";
      const int64_t n = shape_numel(c.in[1].shape);
      return {[pc, n, wrt_target](Args in, Args out, const RunContext& ctx) {
                cuda::pointwise_loss_backward__cuda(
                    pc.p, pc.reduction, pc.mean_by_weight, wrt_target, fptr(in[0]), fptr(in[1]), fptr(in[2]),
                    pc.weight_at < 0 ? nullptr : fptr(in[1 + size_t(pc.weight_at)]),
                    pc.pos_weight_at < 0 ? nullptr : fptr(in[1 + size_t(pc.pos_weight_at)]), n, fptr_mut(out[0]),
                    ctx.workspace, stream_of(ctx));
              },
              cuda::pointwise_loss_backward_workspace_bytes(pc.reduction, pc.mean_by_weight, n), ""};
    });
  }
  add_cuda_kernel(t, "triplet_margin_loss", "loss", "triplet__cuda", [](const KernelCall& c) -> Prepared {
    const ref::TripletParams q = triplet_params(c, 0);
    return {[q](Args in, Args out, const RunContext& ctx) {
              cuda::triplet_margin_loss_forward__cuda(q, fptr(in[0]), fptr(in[1]), fptr(in[2]), fptr_mut(out[0]),
                                                      ctx.workspace, stream_of(ctx));
            },
            cuda::triplet_margin_loss_workspace_bytes(q), ""};
  });
  add_cuda_kernel(t, "triplet_margin_loss_backward", "loss", "triplet__cuda", [](const KernelCall& c) -> Prepared {
    const ref::TripletParams q = triplet_params(c, 1);
    return {[q](Args in, Args out, const RunContext& ctx) {
              cuda::triplet_margin_loss_backward__cuda(q, fptr(in[0]), fptr(in[1]), fptr(in[2]), fptr(in[3]),
                                                       fptr_mut(out[0]), fptr_mut(out[1]), fptr_mut(out[2]),
                                                       stream_of(ctx));
            },
            0, ""};
  });
  add_cuda_kernel(t, "cosine_similarity", "loss", "cosine__cuda", [](const KernelCall& c) -> Prepared {
    const ref::CosineParams q = cosine_params(c, 0, nullptr);
    return {[q](Args in, Args out, const RunContext& ctx) {
              cuda::cosine_similarity_forward__cuda(q, fptr(in[0]), fptr(in[1]), fptr_mut(out[0]), stream_of(ctx));
            },
            0, ""};
  });
  add_cuda_kernel(t, "cosine_similarity_backward", "loss", "cosine__cuda", [](const KernelCall& c) -> Prepared {
    const ref::CosineParams q = cosine_params(c, 1, nullptr);
    return {[q](Args in, Args out, const RunContext& ctx) {
              cuda::cosine_similarity_backward__cuda(q, fptr(in[0]), fptr(in[1]), fptr(in[2]), fptr_mut(out[0]),
                                                     fptr_mut(out[1]), stream_of(ctx));
            },
            0, ""};
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
