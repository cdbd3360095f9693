// CUDA kernel entries of the pooling ops (cuda/pool.cu) and interpolate (cuda/upsample.cu), with the CPU's
// attribute parsing (ops/pool.h, ops/upsample.h).
#if FASTCONV_WITH_CUDA
#include "ops/cuda/common.h"
#include "ops/pool.h"
#include "ops/upsample.h"
#include "pool.cuh"
#include "upsample.cuh"

namespace fastconv::cuda_ops {
namespace {

const int64_t* iptr(const Tensor& t) { return t.data<const int64_t>(); }

// grad (or values) scattered to the input positions their indices name: max pooling's backward, max_unpool2d.
Prepared scatter_entry(const KernelCall& c, int nd, bool accumulate) {
  const int64_t src = spatial_numel(c.in[0].shape, nd), dst = spatial_numel(c.out[0].shape, nd);
  const int64_t planes = dst ? shape_numel(c.out[0].shape) / dst : 0;
  return {[=](Args in, Args out, const RunContext& ctx) {
            cuda::index_scatter__cuda(src, dst, fptr(in[0]), iptr(in[1]), fptr_mut(out[0]), accumulate, planes,
                                      stream_of(ctx));
          },
          0, ""};
}

ref::AdaptiveParams global_params(const Shape& in4) {  // global pooling is adaptive pooling to 1 x 1
  ref::AdaptiveParams p;
  p.in_h = in4[2];
  p.in_w = in4[3];
  return p;
}

}  // namespace

void register_pool_kernels(KernelTable& t) {
  for (int nd = 1; nd <= 3; ++nd) {
    const std::string sfx = std::to_string(nd) + "d";
    for (const bool is_min : {false, true}) {
      if (is_min && nd != 2) continue;
      const std::string name = (is_min ? "min_pool" : "max_pool") + sfx;
      add_cuda_kernel(t, name, "pool", "max_pool__cuda", [nd, is_min](const KernelCall& c) -> Prepared {
        const PoolCfg cfg = pool_cfg(c.op, c.attrs, c.in[0].shape, nd, true);
        const ref::PoolParams p = cfg.p;
        const int64_t planes = cfg.planes;
        return {[=](Args in, Args out, const RunContext& ctx) {
                  cuda::max_pool_forward__cuda(p, fptr(in[0]), fptr_mut(out[0]), out[1].data<int64_t>(), is_min,
                                               planes, stream_of(ctx));
                },
                0, ""};
      });
      add_cuda_kernel(t, name + "_backward", "pool", "index_scatter__cuda",
                      [nd](const KernelCall& c) { return scatter_entry(c, nd, true); });
    }
    add_cuda_kernel(t, "avg_pool" + sfx, "pool", "avg_pool__cuda", [nd](const KernelCall& c) -> Prepared {
      const PoolCfg cfg = pool_cfg(c.op, c.attrs, c.in[0].shape, nd, false);
      const ref::PoolParams p = cfg.p;
      const int64_t planes = cfg.planes;
      return {[=](Args in, Args out, const RunContext& ctx) {
                cuda::avg_pool_forward__cuda(p, fptr(in[0]), fptr_mut(out[0]), planes, stream_of(ctx));
              },
              0, ""};
    });
    add_cuda_kernel(t, "avg_pool" + sfx + "_backward", "pool", "avg_pool__cuda",
                    [nd](const KernelCall& c) -> Prepared {
                      const PoolCfg cfg = pool_cfg(c.op, c.attrs, input_shape_attr(c), nd, false);
                      const ref::PoolParams p = cfg.p;
                      const int64_t planes = cfg.planes;
                      return {[=](Args in, Args out, const RunContext& ctx) {
                                cuda::avg_pool_backward__cuda(p, fptr(in[0]), fptr_mut(out[0]), planes,
                                                              stream_of(ctx));
                              },
                              0, ""};
                    });
  }

  add_cuda_kernel(t, "adaptive_avg_pool2d", "pool", "adaptive__cuda", [](const KernelCall& c) -> Prepared {
    Shape os;
    const ref::AdaptiveParams p = adaptive_cfg(c, c.in[0].shape, &os);
    const int64_t planes = shape_numel(os) / (p.out_h * p.out_w);
    return {[=](Args in, Args out, const RunContext& ctx) {
              cuda::adaptive_avg_pool2d_forward__cuda(p, fptr(in[0]), fptr_mut(out[0]), planes, stream_of(ctx));
            },
            0, ""};
  });
  add_cuda_kernel(t, "adaptive_avg_pool2d_backward", "pool", "adaptive__cuda", [](const KernelCall& c) -> Prepared {
    Shape os;
    const ref::AdaptiveParams p = adaptive_cfg(c, input_shape_attr(c), &os);
    const int64_t planes = shape_numel(os) / (p.out_h * p.out_w);
    return {[=](Args in, Args out, const RunContext& ctx) {
              cuda::adaptive_avg_pool2d_backward__cuda(p, fptr(in[0]), fptr_mut(out[0]), planes, stream_of(ctx));
            },
            0, ""};
  });
  add_cuda_kernel(t, "adaptive_max_pool2d", "pool", "adaptive__cuda", [](const KernelCall& c) -> Prepared {
    Shape os;
    const ref::AdaptiveParams p = adaptive_cfg(c, c.in[0].shape, &os);
    const int64_t planes = shape_numel(os) / (p.out_h * p.out_w);
    return {[=](Args in, Args out, const RunContext& ctx) {
              cuda::adaptive_max_pool2d_forward__cuda(p, fptr(in[0]), fptr_mut(out[0]), out[1].data<int64_t>(),
                                                      planes, stream_of(ctx));
            },
            0, ""};
  });
  add_cuda_kernel(t, "adaptive_max_pool2d_backward", "pool", "index_scatter__cuda",
                  [](const KernelCall& c) { return scatter_entry(c, 2, true); });

  add_cuda_kernel(t, "global_avg_pool2d", "pool", "adaptive__cuda", [](const KernelCall& c) -> Prepared {
    const ref::AdaptiveParams p = global_params(c.in[0].shape);
    const int64_t planes = c.in[0].shape[0] * c.in[0].shape[1];
    return {[=](Args in, Args out, const RunContext& ctx) {
              cuda::adaptive_avg_pool2d_forward__cuda(p, fptr(in[0]), fptr_mut(out[0]), planes, stream_of(ctx));
            },
            0, ""};
  });
  add_cuda_kernel(t, "global_avg_pool2d_backward", "pool", "adaptive__cuda", [](const KernelCall& c) -> Prepared {
    const ref::AdaptiveParams p = global_params(c.out[0].shape);
    const int64_t planes = c.out[0].shape[0] * c.out[0].shape[1];
    return {[=](Args in, Args out, const RunContext& ctx) {
              cuda::adaptive_avg_pool2d_backward__cuda(p, fptr(in[0]), fptr_mut(out[0]), planes, stream_of(ctx));
            },
            0, ""};
  });

  add_cuda_kernel(t, "max_unpool2d", "pool", "index_scatter__cuda",
                  [](const KernelCall& c) { return scatter_entry(c, 2, false); });
  add_cuda_kernel(t, "max_unpool2d_backward", "pool", "index_gather__cuda", [](const KernelCall& c) -> Prepared {
    const int64_t src = spatial_numel(c.in[0].shape, 2), ip = spatial_numel(c.out[0].shape, 2);
    const int64_t planes = shape_numel(c.out[0].shape) / ip;
    return {[=](Args in, Args out, const RunContext& ctx) {
              cuda::index_gather__cuda(ip, src, fptr(in[0]), iptr(in[1]), fptr_mut(out[0]), planes, stream_of(ctx));
            },
            0, ""};
  });

  add_cuda_kernel(t, "interpolate", "upsample", "upsample__cuda", [](const KernelCall& c) -> Prepared {
    const UpCfg cfg = upsample_cfg(c.op, c.attrs, c.in[0].shape);
    const ref::UpsampleParams p = cfg.p;
    const int64_t planes = cfg.planes;
    return {[=](Args in, Args out, const RunContext& ctx) {
              cuda::upsample_forward__cuda(p, fptr(in[0]), fptr_mut(out[0]), planes, stream_of(ctx));
            },
            0, ""};
  });
  add_cuda_kernel(t, "interpolate_backward", "upsample", "upsample__cuda", [](const KernelCall& c) -> Prepared {
    const UpCfg cfg = upsample_cfg(c.op, c.attrs, c.attr().get_int_list("input_shape"));
    const ref::UpsampleParams p = cfg.p;
    const int64_t planes = cfg.planes;
    return {[=](Args in, Args out, const RunContext& ctx) {
              cuda::upsample_backward__cuda(p, fptr(in[0]), fptr_mut(out[0]), planes, stream_of(ctx));
            },
            0, ""};
  });
}

}  // namespace fastconv::cuda_ops
#endif
