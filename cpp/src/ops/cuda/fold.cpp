// CUDA kernel entries of unfold and fold (cuda/fold.cu: the same kernels as the convolution's column matrices), with
// the CPU's attribute parsing (ops/fold.h). Each is the other's backward, so these two entries also run both
// gradients.
#if FASTCONV_WITH_CUDA
#include "fold.cuh"
#include "ops/cuda/common.h"
#include "ops/fold.h"

namespace fastconv::cuda_ops {

void register_fold_kernels(KernelTable& t) {
  add_cuda_kernel(t, "unfold", "fold", "unfold__cuda", [](const KernelCall& c) -> Prepared {
    const ref::FoldParams f = unfold_params(c);
    return {[f](Args in, Args out, const RunContext& ctx) {
              cuda::unfold__cuda(f, fptr(in[0]), fptr_mut(out[0]), 0, f.N, stream_of(ctx));
            },
            0, ""};
  });
  add_cuda_kernel(t, "fold", "fold", "fold__cuda", [](const KernelCall& c) -> Prepared {
    const ref::FoldParams f = fold_params(c);
    return {[f](Args in, Args out, const RunContext& ctx) {
              cuda::fold__cuda(f, fptr(in[0]), fptr_mut(out[0]), 0, f.N, stream_of(ctx));
            },
            0, ""};
  });
}

}  // namespace fastconv::cuda_ops
#endif
