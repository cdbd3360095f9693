// CUDA kernel entries of reshape and flatten: a device-to-device copy on the step's stream where the planner did
// not make the output a view of its input.
#if FASTCONV_WITH_CUDA
#include "fastconv/error.h"
#include "launch.cuh"
#include "ops/cuda/common.h"

namespace fastconv::cuda_ops {

void register_shape_kernels(KernelTable& t) {
  for (const char* op : {"reshape", "flatten"})
    add_cuda_kernel(t, op, "shape", "copy", [](const KernelCall&) -> Prepared {
      return {[](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
                if (in[0].data_ptr() == out[0].data_ptr() || out[0].nbytes() == 0) return;
                cuda::check(cudaMemcpyAsync(out[0].data_ptr(), in[0].data_ptr(), out[0].nbytes(),
                                            cudaMemcpyDeviceToDevice, stream_of(ctx)),
                            "cudaMemcpyAsync (reshape)");
              },
              0, ""};
    });
}

}  // namespace fastconv::cuda_ops
#endif
