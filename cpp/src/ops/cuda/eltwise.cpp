// CUDA kernel entries of the element-wise ops (cuda/eltwise.cu) and the reductions (cuda/reduce.cu): add, sub,
// mul, div with broadcasting, scale, fill_like, broadcast_to, sum_to, sum, mean.
#if FASTCONV_WITH_CUDA
#include <limits>

#include "eltwise.cuh"
#include "ops/cuda/common.h"
#include "reduce.cuh"

namespace fastconv::cuda_ops {
namespace {


ref::BroadcastParams broadcast_params(const Shape& a, const Shape& b, const Shape& o) {
  ref::BroadcastParams p;
  p.ndim = static_cast<int>(o.size());
  const auto sa = broadcast_strides(a, o), sb = broadcast_strides(b, o);
  for (size_t i = 0; i < o.size(); ++i) {
    p.shape[i] = o[i];
    p.stride_a[i] = sa[i];
    p.stride_b[i] = sb[i];
  }
  return p;
}

}  // namespace

void register_eltwise_kernels(KernelTable& t) {
  const std::pair<const char*, ref::BinaryOp> binaries[] = {
      {"add", ref::BinaryOp::add}, {"sub", ref::BinaryOp::sub}, {"mul", ref::BinaryOp::mul}, {"div", ref::BinaryOp::div}};
  for (const auto& [name, op] : binaries)
    add_cuda_kernel(t, name, "eltwise", "binary__cuda", [op = op](const KernelCall& c) -> Prepared {
      const ref::BroadcastParams p = broadcast_params(c.in[0].shape, c.in[1].shape, c.out[0].shape);
      return {[op, p](Args in, Args out, const RunContext& ctx) {
                cuda::binary__cuda(op, p, fptr(in[0]), fptr(in[1]), fptr_mut(out[0]), stream_of(ctx));
              },
              0, ""};
    });
  add_cuda_kernel(t, "scale", "eltwise", "scale__cuda", [](const KernelCall& c) -> Prepared {
    const float alpha = float(c.attr().get_float("alpha", 1.0)), beta = float(c.attr().get_float("beta", 0.0));
    return {[alpha, beta](Args in, Args out, const RunContext& ctx) {
              cuda::scale__cuda(alpha, beta, fptr(in[0]), fptr_mut(out[0]), out[0].numel(), stream_of(ctx));
            },
            0, ""};
  });
  add_cuda_kernel(t, "fill_like", "eltwise", "fill__cuda", [](const KernelCall& c) -> Prepared {
    const float v = float(c.attr().get_float("value"));
    return {[v](Args, Args out, const RunContext& ctx) {
              cuda::fill__cuda(v, fptr_mut(out[0]), out[0].numel(), stream_of(ctx));
            },
            0, ""};
  });
  add_cuda_kernel(t, "broadcast_to", "eltwise", "broadcast_to__cuda", [](const KernelCall& c) -> Prepared {
    const ref::BroadcastParams p = broadcast_params(c.in[0].shape, c.in[0].shape, c.out[0].shape);
    return {[p](Args in, Args out, const RunContext& ctx) {
              cuda::broadcast_to__cuda(p, fptr(in[0]), fptr_mut(out[0]), stream_of(ctx));
            },
            0, ""};
  });
  add_cuda_kernel(t, "sum_to", "eltwise", "sum_to__cuda", [](const KernelCall& c) -> Prepared {
    const ref::ReduceParams p = reduce_params(c.in[0].shape, c.out[0].shape);
    const int64_t n = shape_numel(c.out[0].shape);
    return {[p, n](Args in, Args out, const RunContext& ctx) {
              cuda::sum_to__cuda(p, fptr(in[0]), fptr_mut(out[0]), n, ctx.workspace, stream_of(ctx));
            },
            cuda::sum_to_workspace_bytes(p, n), ""};
  });
  for (const bool mean : {false, true})
    add_cuda_kernel(t, mean ? "mean" : "sum", "reduce", "reduce_sum__cuda", [mean](const KernelCall& c) -> Prepared {
      Shape keep, out;
      reduced_shapes(c, &keep, &out);
      const ref::ReduceParams p = reduce_params(c.in[0].shape, keep);
      const int64_t n = shape_numel(keep);
      const int64_t count = n ? shape_numel(c.in[0].shape) / n : 0;
      const float scale = mean ? (count ? 1.f / float(count) : std::numeric_limits<float>::quiet_NaN()) : 1.f;
      return {[p, n, scale](Args in, Args out, const RunContext& ctx) {
                cuda::reduce_sum__cuda(p, fptr(in[0]), fptr_mut(out[0]), n, scale, ctx.workspace, stream_of(ctx));
              },
              cuda::sum_to_workspace_bytes(p, n), ""};
    });
}

}  // namespace fastconv::cuda_ops
#endif
