// linear: y = x W^T + b over the last dimension of x (torch.nn.functional.linear). Every product goes through the
// one SGEMM; the leading dimensions of x are flattened into the GEMM's M. Backward emits two GEMM-backed ops and
// a sum_to for the bias. Kernels: "sgemm" and the naive "ref" (FASTCONV_ALGO=linear=ref, for tests).
#include <algorithm>
#include <cstring>
#include <string>

#include "cpu/gemm/gemm.h"
#include "cpu/ref/linear_ref.h"
#include "fastconv/cpu_features.h"
#include "fastconv/parallel.h"
#include "ops/common.h"

namespace fastconv {
namespace {

// The product's plan (ISA tile, thread count) and its scratch size, fixed here; run passes the node's workspace.
struct Gemm {
  cpu::GemmContext g;
  size_t bytes;
  cpu::GemmContext at(const RunContext& ctx) const { return cpu::with_scratch(g, ctx.workspace, bytes); }
};
Gemm plan_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K) {
  const cpu::GemmContext g = cpu::gemm_context(active_isa(), get_num_threads());
  return {g, cpu::sgemm_scratch_bytes(g, ta, tb, M, N, K)};
}

int64_t leading(const Shape& s) {  // product of all but the last dim (safe when the last is 0)
  int64_t m = 1;
  for (size_t i = 0; i + 1 < s.size(); ++i) m *= s[i];
  return m;
}

std::vector<TensorDesc> infer_linear(const OpCall& c) {
  expect_dtype(c, 0, DType::f32, "input");
  expect_dtype(c, 1, DType::f32, "weight");
  const Shape &x = c.in[0].shape, &w = c.in[1].shape;
  FC_CHECK(!x.empty(), Value, "linear: argument 'input' must have at least 1 dimension, got a 0-d tensor");
  FC_CHECK(w.size() == 2, Value, "linear: argument 'weight' must be 2-D [out_features, in_features], got shape ",
           shape_str(w));
  FC_CHECK(x.back() == w[1], Value, "linear: input has ", x.back(), " features but weight expects ", w[1],
           " (input shape ", shape_str(x), ", weight shape ", shape_str(w), ")");
  if (c.in.size() == 3) {
    expect_dtype(c, 2, DType::f32, "bias");
    FC_CHECK(c.in[2].shape == Shape{w[0]}, Value, "linear: argument 'bias' must have shape [", w[0],
             "] (out_features of weight shape ", shape_str(w), "), got ", shape_str(c.in[2].shape));
  }
  Shape y = x;
  y.back() = w[0];
  return {{y, DType::f32}};
}

template <bool Ref>
Prepared prepare_linear(const KernelCall& c) {
  const int64_t M = leading(c.in[0].shape), N = c.in[1].shape[0], K = c.in[1].shape[1];
  const bool bias = c.in.size() == 3;
  if (Ref)
    return {[=](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
              ref::linear(fptr(in[0]), fptr(in[1]), bias ? fptr(in[2]) : nullptr, M, N, K, fptr_mut(out[0]));
            },
            0, "ref"};
  const Gemm gm = plan_gemm(false, true, M, N, K);
  return {[=](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
            float* y = fptr_mut(out[0]);
            if (bias) {  // y starts as the broadcast bias and the GEMM accumulates into it (beta = 1)
              const float* b = fptr(in[2]);
              parallel_for(M, std::max<int64_t>(1, 4096 / std::max<int64_t>(N, 1)), [&](int64_t lo, int64_t hi) {
                for (int64_t m = lo; m < hi; ++m) std::memcpy(y + m * N, b, size_t(N) * sizeof(float));
              });
            }
            cpu::sgemm(gm.at(ctx), false, true, M, N, K, 1.f, fptr(in[0]), K, fptr(in[1]), K, bias ? 1.f : 0.f, y, N);
          },
          gm.bytes, "sgemm"};
}

// linear_grad_input(dy [..., N], weight [N, K]) -> dx [..., K]
std::vector<TensorDesc> infer_grad_input(const OpCall& c) {
  expect_inputs(c, 2);
  Shape x = c.in[0].shape;
  FC_CHECK(!x.empty() && c.in[1].shape.size() == 2 && x.back() == c.in[1].shape[0], Value, c.op,
           ": grad shape ", shape_str(x), " does not match weight shape ", shape_str(c.in[1].shape));
  x.back() = c.in[1].shape[1];
  return {{x, DType::f32}};
}

template <bool Ref>
Prepared prepare_grad_input(const KernelCall& c) {
  const int64_t M = leading(c.in[0].shape), N = c.in[1].shape[0], K = c.in[1].shape[1];
  if (Ref)
    return {[=](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
              ref::linear_grad_input(fptr(in[0]), fptr(in[1]), M, N, K, fptr_mut(out[0]));
            },
            0, "ref"};
  const Gemm gm = plan_gemm(false, false, M, K, N);
  return {[=](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
            cpu::sgemm(gm.at(ctx), false, false, M, K, N, 1.f, fptr(in[0]), N, fptr(in[1]), K, 0.f, fptr_mut(out[0]),
                       K);
          },
          gm.bytes, "sgemm"};
}

// linear_grad_weight(dy [..., N], input [..., K]) -> dW [N, K]
std::vector<TensorDesc> infer_grad_weight(const OpCall& c) {
  expect_inputs(c, 2);
  const Shape &g = c.in[0].shape, &x = c.in[1].shape;
  FC_CHECK(!g.empty() && g.size() == x.size() && leading(g) == leading(x), Value, c.op, ": grad shape ", shape_str(g),
           " does not match input shape ", shape_str(x));
  return {{{g.back(), x.back()}, DType::f32}};
}

template <bool Ref>
Prepared prepare_grad_weight(const KernelCall& c) {
  const int64_t M = leading(c.in[0].shape), N = c.in[0].shape.back(), K = c.in[1].shape.back();
  if (Ref)
    return {[=](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
              ref::linear_grad_weight(fptr(in[0]), fptr(in[1]), M, N, K, fptr_mut(out[0]));
            },
            0, "ref"};
  const Gemm gm = plan_gemm(true, false, N, K, M);
  return {[=](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
            cpu::sgemm(gm.at(ctx), true, false, N, K, M, 1.f, fptr(in[0]), N, fptr(in[1]), K, 0.f, fptr_mut(out[0]),
                       K);
          },
          gm.bytes, "sgemm"};
}

std::vector<ValueId> backward_linear(BackwardCall& b) {
  std::vector<ValueId> g(b.node.inputs.size(), kNoValue);
  const ValueId dy = b.grad_out[0];
  if (b.needs_grad[0]) g[0] = b.g.add1("linear_grad_input", {dy, b.in(1)});
  if (b.needs_grad[1]) g[1] = b.g.add1("linear_grad_weight", {dy, b.in(0)});
  if (g.size() == 3 && b.needs_grad[2]) g[2] = b.g.add1("sum_to", {dy}, {{"shape", b.desc(b.in(2)).shape}});
  return g;
}

}  // namespace

void register_linear_ops(Registry& r, KernelTable& k) {
  r.add({"linear", 2, 3, infer_linear, backward_linear, false, -1}, {});
  r.add({"linear_grad_input", 2, 2, infer_grad_input, nullptr, false, -1}, {});
  r.add({"linear_grad_weight", 2, 2, infer_grad_weight, nullptr, false, -1}, {});
  add_cpu_kernel(k, "linear", "linear", "sgemm", 10, prepare_linear<false>);
  add_cpu_kernel(k, "linear", "linear", "ref", 0, prepare_linear<true>);
  add_cpu_kernel(k, "linear_grad_input", "linear", "sgemm", 10, prepare_grad_input<false>);
  add_cpu_kernel(k, "linear_grad_input", "linear", "ref", 0, prepare_grad_input<true>);
  add_cpu_kernel(k, "linear_grad_weight", "linear", "sgemm", 10, prepare_grad_weight<false>);
  add_cpu_kernel(k, "linear_grad_weight", "linear", "ref", 0, prepare_grad_weight<true>);
}

}  // namespace fastconv
