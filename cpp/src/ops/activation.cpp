// Activations. relu is the worked example of the op contract: shape rule, ISA-dispatched kernels with a
// reference fallback, and a backward rule that emits a dedicated relu_backward node reading the saved output.
#include "cpu/activation.h"
#include "fastconv/cpu_features.h"
#include "fastconv/parallel.h"
#include "ops/common.h"

namespace fastconv {
namespace {

std::vector<TensorDesc> infer_same(const OpCall& c) {
  expect_dtype(c, 0, DType::f32, "input");
  for (size_t i = 1; i < c.in.size(); ++i)
    FC_CHECK(c.in[i].shape == c.in[0].shape, Value, c.op, ": input ", i, " has shape ", shape_str(c.in[i].shape),
             " but input 0 has shape ", shape_str(c.in[0].shape));
  return {c.in[0]};
}

Prepared prepare_relu(const OpCall& c, const std::vector<TensorDesc>&, Device d) {
  require_cpu(c.op, d);
  auto k = pick_isa<cpu::UnaryKernel>(ref::relu, cpu::relu__avx2, cpu::relu__avx512);
  return {[k](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            parallel_unary(k, fptr(in[0]), fptr_mut(out[0]), out[0].numel());
          },
          0, std::string("relu__") + isa_name(active_isa())};
}

Prepared prepare_relu_backward(const OpCall& c, const std::vector<TensorDesc>&, Device d) {
  require_cpu(c.op, d);
  auto k = pick_isa<cpu::UnaryBackwardKernel>(ref::relu_backward, cpu::relu_backward__avx2,
                                               cpu::relu_backward__avx512);
  return {[k](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float *g = fptr(in[0]), *y = fptr(in[1]);
            float* dx = fptr_mut(out[0]);
            parallel_for((out[0].numel() + 32767) / 32768, 1, [&](int64_t b, int64_t e) {
              int64_t lo = b * 32768, hi = std::min(out[0].numel(), e * 32768);
              k(g + lo, y + lo, dx + lo, hi - lo);
            });
          },
          0, std::string("relu_backward__") + isa_name(active_isa())};
}

}  // namespace

void register_activation_ops(Registry& r) {
  r.add({"relu", 1, 1, infer_same, prepare_relu,
         [](BackwardCall& b) -> std::vector<ValueId> {
           return {b.g.add1("relu_backward", {b.grad_out[0], b.out(0)})};
         },
         false, 0});
  r.add({"relu_backward", 2, 2, infer_same, prepare_relu_backward, nullptr, false, 0});
}

}  // namespace fastconv
