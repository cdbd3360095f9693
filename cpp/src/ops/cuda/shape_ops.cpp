// CUDA kernel entries of the byte-moving ops (cuda/shape_ops.cu): reshape and flatten (a device-to-device copy on
// the step's stream where the planner did not make the output a view of its input), cat, slice, slice_backward and
// permute, every dtype; pad (cuda/pad.cu), pixel_shuffle / pixel_unshuffle / channel_shuffle.
#if FASTCONV_WITH_CUDA
#include "fastconv/error.h"
#include "launch.cuh"
#include "ops/cuda/common.h"
#include "ops/pad.h"
#include "ops/shuffle.h"
#include "pad.cuh"
#include "shape_ops.cuh"

namespace fastconv::cuda_ops {
namespace {

// A tensor seen as [outer, size(dim), inner].
void blocks(const Shape& s, int64_t dim, int64_t* outer, int64_t* inner) {
  *outer = *inner = 1;
  for (int64_t i = 0; i < dim; ++i) *outer *= s[size_t(i)];
  for (size_t i = size_t(dim) + 1; i < s.size(); ++i) *inner *= s[i];
}

}  // namespace

void register_shape_kernels(KernelTable& t) {
  const std::vector<DType> any;
  add_cuda_kernel(
      t, "cat", "shape", "cat__cuda",
      [](const KernelCall& c) -> Prepared {
        const int64_t dim = normalize_axis(c.op, c.attr().get_int("dim", 0), int64_t(c.in[0].shape.size()));
        int64_t outer, inner;
        blocks(c.out[0].shape, dim, &outer, &inner);
        const int64_t inner_bytes = inner * int64_t(dtype_size(c.out[0].dtype));
        std::vector<int64_t> sizes;
        for (const TensorDesc& d : c.in) sizes.push_back(d.shape[size_t(dim)]);
        return {[outer, inner_bytes, sizes](Args in, Args out, const RunContext& ctx) {
                  const void* few[16];  // the step allocates nothing for up to 16 inputs (Inception's have 4)
                  std::vector<const void*> many(in.size() > 16 ? in.size() : 0);
                  const void** xs = many.empty() ? few : many.data();
                  for (size_t i = 0; i < in.size(); ++i) xs[i] = in[i].data_ptr();
                  cuda::cat__cuda(outer, inner_bytes, int(in.size()), xs, sizes.data(), out[0].data_ptr(),
                                  stream_of(ctx));
                },
                0, ""};
      },
      nullptr, 0, any);
  add_cuda_kernel(
      t, "slice", "shape", "slice__cuda",
      [](const KernelCall& c) -> Prepared {
        AttrReader a = c.attr();
        const int64_t dim = normalize_axis(c.op, a.get_int("dim"), int64_t(c.in[0].shape.size()));
        cuda::SliceParams p;
        int64_t inner;
        blocks(c.in[0].shape, dim, &p.outer, &inner);
        p.n = c.in[0].shape[size_t(dim)];
        p.start = a.get_int("start");
        p.length = a.get_int("length");
        p.inner_bytes = inner * int64_t(dtype_size(c.in[0].dtype));
        return {[p](Args in, Args out, const RunContext& ctx) {
                  cuda::slice__cuda(p, in[0].data_ptr(), out[0].data_ptr(), stream_of(ctx));
                },
                0, ""};
      },
      nullptr, 0, any);
  add_cuda_kernel(
      t, "slice_backward", "shape", "slice__cuda",
      [](const KernelCall& c) -> Prepared {
        AttrReader a = c.attr();
        const Shape& s = c.out[0].shape;
        const int64_t dim = normalize_axis(c.op, a.get_int("dim"), int64_t(s.size()));
        cuda::SliceParams p;
        int64_t inner;
        blocks(s, dim, &p.outer, &inner);
        p.n = s[size_t(dim)];
        p.start = a.get_int("start");
        p.length = c.in[0].shape[size_t(dim)];
        p.inner_bytes = inner * int64_t(dtype_size(c.out[0].dtype));
        return {[p](Args in, Args out, const RunContext& ctx) {
                  cuda::slice_backward__cuda(p, in[0].data_ptr(), out[0].data_ptr(), stream_of(ctx));
                },
                0, ""};
      },
      nullptr, 0, any);
  add_cuda_kernel(
      t, "permute", "shape", "permute__cuda",
      [](const KernelCall& c) -> Prepared {
        const Shape shape = c.in[0].shape;
        const int64_t rank = int64_t(shape.size());
        std::vector<int64_t> dims = c.attr().get_int_list("dims");
        for (int64_t& d : dims) d = d < 0 ? d + rank : d;  // validated by the shape rule
        FC_CHECK(rank <= 8, NotImplemented, c.op, ": the CUDA kernel permutes up to 8 dimensions, got ", rank);
        const size_t esize = dtype_size(c.in[0].dtype);
        return {[shape, dims, esize](Args in, Args out, const RunContext& ctx) {
                  cuda::permute__cuda(int(shape.size()), shape.data(), dims.data(), esize, in[0].data_ptr(),
                                      out[0].data_ptr(), stream_of(ctx));
                },
                0, ""};
      },
      nullptr, 0, any);

  add_cuda_kernel(t, "pad", "pad", "pad__cuda", [](const KernelCall& c) -> Prepared {
    const PadCfg cfg = pad_cfg(c.op, c.attrs, c.in[0].shape);
    const ref::PadParams p = cfg.p;
    const int64_t planes = cfg.planes;
    return {[p, planes](Args in, Args out, const RunContext& ctx) {
              cuda::pad_forward__cuda(p, planes, fptr(in[0]), fptr_mut(out[0]), stream_of(ctx));
            },
            0, ""};
  });
  add_cuda_kernel(t, "pad_backward", "pad", "pad__cuda", [](const KernelCall& c) -> Prepared {
    const PadCfg cfg = pad_cfg(c.op, c.attrs, c.attr().get_int_list("input_shape"));
    const ref::PadParams p = cfg.p;
    const int64_t planes = cfg.planes;
    return {[p, planes](Args in, Args out, const RunContext& ctx) {
              cuda::pad_backward__cuda(p, planes, fptr(in[0]), fptr_mut(out[0]), stream_of(ctx));
            },
            0, ""};
  });
  for (const char* name : {"pixel_shuffle", "pixel_unshuffle"})
    add_cuda_kernel(t, name, "shuffle", "pixel_shuffle__cuda", [](const KernelCall& c) -> Prepared {
      Shape out_shape;
      const ref::PixelShuffleParams p = pixel_params(c, &out_shape);
      const bool inverse = c.op == "pixel_unshuffle";
      return {[p, inverse](Args in, Args out, const RunContext& ctx) {
                cuda::pixel_shuffle__cuda(p, fptr(in[0]), fptr_mut(out[0]), inverse, stream_of(ctx));
              },
              0, ""};
    });
  add_cuda_kernel(t, "channel_shuffle", "shuffle", "channel_shuffle__cuda", [](const KernelCall& c) -> Prepared {
    const ref::ChannelShuffleParams p = channel_params(c);
    return {[p](Args in, Args out, const RunContext& ctx) {
              cuda::channel_shuffle__cuda(p, fptr(in[0]), fptr_mut(out[0]), stream_of(ctx));
            },
            0, ""};
  });
  for (const char* op : {"reshape", "flatten"})
    add_cuda_kernel(t, op, "shape", "copy", [](const KernelCall&) -> Prepared {
      return {[](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
                if (in[0].data_ptr() == out[0].data_ptr() || out[0].nbytes() == 0) return;
                cuda::check(cudaMemcpyAsync(out[0].data_ptr(), in[0].data_ptr(), out[0].nbytes(),
                                            cudaMemcpyDeviceToDevice, stream_of(ctx)),
                            "cudaMemcpyAsync (reshape)");
              },
              0, ""};
    }, nullptr, 0, any);
}

}  // namespace fastconv::cuda_ops
#endif
