// CUDA kernel entries of resize and resize_backward (cuda/resize.cu), with the CPU's attribute parsing
// (ops/resize.h): the taps are computed on the host and uploaded when the node is prepared, then every run is one
// launch per resized axis, through two ping-pong halves of the workspace as on the CPU (ops/resize.cpp).
#if FASTCONV_WITH_CUDA
#include <algorithm>

#include "launch.cuh"
#include "ops/cuda/common.h"
#include "ops/resize.h"
#include "resize.cuh"

namespace fastconv::cuda_ops {
namespace {

Prepared resize_entry(const KernelCall& c, const Shape& in_shape, bool backward) {
  const ResizeCfg cfg = resize_cfg(c.op, c.attrs, in_shape);
  const std::vector<ref::ResizeAxis>& axes = cfg.axes;
  int64_t biggest = 0;  // the largest intermediate: the outputs of every forward stage but the last
  for (size_t k = 0; k + 1 < axes.size(); ++k) {
    const ref::ResizeAxis& a = backward ? axes[k + 1] : axes[k];
    biggest = std::max(biggest, a.outer * (backward ? a.in : a.out) * a.inner);
  }
  const size_t half = (size_t(biggest) * sizeof(float) + 255) / 256 * 256;
  const cuda::ResizeTables tables = cuda::resize_upload(axes, c.device.index);
  return {[tables, half, backward](Args in, Args out, const RunContext& ctx) {
            const size_t n = tables.axes.size();
            if (n == 0) {  // nothing resized: a copy
              if (out[0].nbytes())
                cuda::check(cudaMemcpyAsync(out[0].data_ptr(), in[0].data_ptr(), out[0].nbytes(),
                                            cudaMemcpyDeviceToDevice, stream_of(ctx)),
                            "cudaMemcpyAsync (resize)");
              return;
            }
            char* ws = static_cast<char*>(ctx.workspace);
            float* buf[2] = {reinterpret_cast<float*>(ws), reinterpret_cast<float*>(ws + half)};
            const float* src = fptr(in[0]);
            for (size_t s = 0; s < n; ++s) {
              float* dst = s + 1 == n ? fptr_mut(out[0]) : buf[s % 2];
              if (backward)
                cuda::resize_axis_backward__cuda(tables.axes[n - 1 - s], src, dst, stream_of(ctx));
              else
                cuda::resize_axis__cuda(tables.axes[s], src, dst, stream_of(ctx));
              src = dst;
            }
          },
          axes.size() > 1 ? 2 * half : 0, ""};
}

}  // namespace

void register_resize_kernels(KernelTable& t) {
  add_cuda_kernel(t, "resize", "upsample", "resize__cuda",
                  [](const KernelCall& c) { return resize_entry(c, c.in[0].shape, false); });
  add_cuda_kernel(t, "resize_backward", "upsample", "resize_backward__cuda", [](const KernelCall& c) {
    return resize_entry(c, c.attr().get_int_list("input_shape"), true);
  });
}

}  // namespace fastconv::cuda_ops
#endif
