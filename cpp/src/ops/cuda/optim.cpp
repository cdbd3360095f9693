// CUDA kernel entries of the training-step ops (cuda/optim.cu): the optimizer updates, which read the group's
// learning rate and the step index from device memory (a replayed CUDA graph follows the schedule and the
// counter), the gradient-clipping coefficient (per-gradient sums of squares, or maxima, combined on the device) and
// the step counter.
#if FASTCONV_WITH_CUDA
#include <algorithm>
#include <cmath>

#include "ops/cuda/common.h"
#include "ops/optim.h"
#include "optim.cuh"

namespace fastconv::cuda_ops {
namespace {

cuda::StepScalars step_scalars(Args in) { return {in[2].data<const double>(), in[3].data<const int64_t>()}; }

}  // namespace

void register_optim_kernels(KernelTable& t) {
  add_cuda_kernel(t, "sgd_update", "optim", "sgd__cuda", [](const KernelCall& c) -> Prepared {
    const ref::SgdParams p = sgd_params(c);
    const bool clipped = c.attr().get_bool("clipped", false);
    return {[p, clipped](Args in, Args, const RunContext& ctx) {
              float* buf = p.momentum != 0 ? fptr_mut(in[kFirstSlot]) : nullptr;
              cuda::sgd_update__cuda(p, fptr_mut(in[0]), fptr(in[1]), buf, in[0].numel(), stream_of(ctx),
                                     clipped ? fptr(in.back()) : nullptr, step_scalars(in));
            },
            0, ""};
  });
  add_cuda_kernel(t, "adam_update", "optim", "adam__cuda", [](const KernelCall& c) -> Prepared {
    const ref::AdamParams p = adam_params(c);
    const bool clipped = c.attr().get_bool("clipped", false);
    return {[p, clipped](Args in, Args, const RunContext& ctx) {
              float* vmax = p.amsgrad ? fptr_mut(in[kFirstSlot + 2]) : nullptr;
              cuda::adam_update__cuda(p, fptr_mut(in[0]), fptr(in[1]), fptr_mut(in[kFirstSlot]),
                                      fptr_mut(in[kFirstSlot + 1]), vmax, in[0].numel(), stream_of(ctx),
                                      clipped ? fptr(in.back()) : nullptr, step_scalars(in));
            },
            0, ""};
  });
  add_cuda_kernel(t, "rmsprop_update", "optim", "rmsprop__cuda", [](const KernelCall& c) -> Prepared {
    const ref::RmspropParams p = rmsprop_params(c);
    const bool clipped = c.attr().get_bool("clipped", false);
    return {[p, clipped](Args in, Args, const RunContext& ctx) {
              size_t k = kFirstSlot;
              float* sq = fptr_mut(in[k++]);
              float* buf = p.momentum > 0 ? fptr_mut(in[k++]) : nullptr;
              float* gavg = p.centered ? fptr_mut(in[k++]) : nullptr;
              cuda::rmsprop_update__cuda(p, fptr_mut(in[0]), fptr(in[1]), sq, buf, gavg, in[0].numel(),
                                         stream_of(ctx), clipped ? fptr(in.back()) : nullptr, step_scalars(in));
            },
            0, ""};
  });
  add_cuda_kernel(t, "adadelta_update", "optim", "adadelta__cuda", [](const KernelCall& c) -> Prepared {
    const ref::AdadeltaParams p = adadelta_params(c);
    const bool clipped = c.attr().get_bool("clipped", false);
    return {[p, clipped](Args in, Args, const RunContext& ctx) {
              cuda::adadelta_update__cuda(p, fptr_mut(in[0]), fptr(in[1]), fptr_mut(in[kFirstSlot]),
                                          fptr_mut(in[kFirstSlot + 1]), in[0].numel(), stream_of(ctx),
                                          clipped ? fptr(in.back()) : nullptr, step_scalars(in));
            },
            0, ""};
  });
  add_cuda_kernel(t, "adagrad_update", "optim", "adagrad__cuda", [](const KernelCall& c) -> Prepared {
    const ref::AdagradParams p = adagrad_params(c);
    const bool clipped = c.attr().get_bool("clipped", false);
    return {[p, clipped](Args in, Args, const RunContext& ctx) {
              cuda::adagrad_update__cuda(p, fptr_mut(in[0]), fptr(in[1]), fptr_mut(in[kFirstSlot]), in[0].numel(),
                                         stream_of(ctx), clipped ? fptr(in.back()) : nullptr, step_scalars(in));
            },
            0, ""};
  });
  // Workspace: one double per gradient, then the largest gradient's reduction scratch.
  add_cuda_kernel(t, "clip_grad_coef", "optim", "clip__cuda", [](const KernelCall& c) -> Prepared {
    const double max_norm = c.attr().get_float("max_norm");
    const bool inf = std::isinf(c.attr().get_float("norm_type", 2.0));
    const size_t head = (c.in.size() * sizeof(double) + 63) / 64 * 64;
    size_t scratch = 0;
    for (const TensorDesc& d : c.in) {
      const int64_t n = shape_numel(d.shape);
      scratch = std::max(scratch, inf ? cuda::max_abs_workspace_bytes(n) : cuda::sum_squares_workspace_bytes(n));
    }
    return {[max_norm, inf, head](Args in, Args out, const RunContext& ctx) {
              double* parts = static_cast<double*>(ctx.workspace);
              void* scratch = static_cast<char*>(ctx.workspace) + head;
              for (size_t i = 0; i < in.size(); ++i) {
                if (inf)
                  cuda::max_abs__cuda(fptr(in[i]), in[i].numel(), parts + i, scratch, stream_of(ctx));
                else
                  cuda::sum_squares__cuda(fptr(in[i]), in[i].numel(), parts + i, scratch, stream_of(ctx));
              }
              cuda::clip_coef__cuda(parts, int(in.size()), inf, max_norm, fptr_mut(out[0]), stream_of(ctx));
            },
            head + scratch, ""};
  });
  add_cuda_kernel(
      t, "counter_increment", "optim", "counter__cuda",
      [](const KernelCall&) -> Prepared {
        return {[](Args in, Args out, const RunContext& ctx) {
                  cuda::counter_increment__cuda(in[0].data<int64_t>(), out[0].data<int64_t>(), stream_of(ctx));
                },
                0, ""};
      },
      nullptr, 0, {DType::i64});
}

}  // namespace fastconv::cuda_ops
#endif
