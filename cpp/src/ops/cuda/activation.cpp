// CUDA kernel entries of the activation ops: cuda/activation.cu, with the CPU's attribute parsing (ops/activation.h).
#if FASTCONV_WITH_CUDA
#include "activation.cuh"
#include "ops/activation.h"
#include "ops/cuda/common.h"

namespace fastconv::cuda_ops {

void register_activation_kernels(KernelTable& t) {
  add_cuda_kernel(t, "relu", "activation", "relu__cuda", [](const KernelCall&) -> Prepared {
    return {[](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
              cuda::relu_forward__cuda(fptr(in[0]), fptr_mut(out[0]), out[0].numel(), stream_of(ctx));
            },
            0, ""};
  });
  add_cuda_kernel(t, "relu_backward", "activation", "relu__cuda", [](const KernelCall&) -> Prepared {
    return {[](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
              cuda::relu_backward__cuda(fptr(in[0]), fptr(in[1]), fptr_mut(out[0]), out[0].numel(), stream_of(ctx));
            },
            0, ""};
  });
  for (const char* name : {"leaky_relu", "elu", "sigmoid", "tanh", "threshold", "hardtanh", "relu6", "gelu",
                           "softplus", "hardsigmoid", "hardswish", "silu", "mish", "selu", "pow"}) {
    add_cuda_kernel(t, name, "activation", "activation__cuda", [](const KernelCall& c) -> Prepared {
      const ref::ActParams p = act_params(c);
      return {[p](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
                cuda::activation_forward__cuda(p, fptr(in[0]), fptr_mut(out[0]), out[0].numel(), stream_of(ctx));
              },
              0, ""};
    });
    add_cuda_kernel(t, std::string(name) + "_backward", "activation", "activation__cuda",
                    [](const KernelCall& c) -> Prepared {
                      const ref::ActParams p = act_params(c);
                      return {[p](const std::vector<Tensor>& in, const std::vector<Tensor>& out,
                                  const RunContext& ctx) {
                                cuda::activation_backward__cuda(p, fptr(in[0]), fptr(in[1]), fptr_mut(out[0]),
                                                                out[0].numel(), stream_of(ctx));
                              },
                              0, ""};
                    });
  }
  add_cuda_kernel(t, "prelu", "activation", "prelu__cuda", [](const KernelCall& c) -> Prepared {
    const ref::PreluParams p = prelu_params(c);
    return {[p](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
              cuda::prelu_forward__cuda(p, fptr(in[0]), fptr(in[1]), fptr_mut(out[0]), stream_of(ctx));
            },
            0, ""};
  });
  // The per-channel double parts live in the node's workspace, as on the CPU.
  add_cuda_kernel(t, "prelu_backward", "activation", "prelu_backward__cuda", [](const KernelCall& c) -> Prepared {
    const ref::PreluParams p = prelu_params(OpCall{c.op, c.attrs, {c.in[1], c.in[2]}});
    return {[p](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
              double* part = static_cast<double*>(ctx.workspace);
              cuda::prelu_backward__cuda(p, fptr(in[0]), fptr(in[1]), fptr(in[2]), fptr_mut(out[0]), part,
                                         stream_of(ctx));
              cuda::prelu_weight_grad__cuda(part, fptr_mut(out[1]), p.C, p.shared, stream_of(ctx));
            },
            size_t(p.C) * sizeof(double), ""};
  });
}

}  // namespace fastconv::cuda_ops
#endif
