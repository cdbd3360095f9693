// Element-wise arithmetic with NumPy broadcasting, and the broadcast/reduce pair autodiff needs.
#include "cpu/reduce.h"
#include "fastconv/parallel.h"
#include "ops/common.h"
#include "ops/shape_check.h"

namespace fastconv {
namespace {

std::vector<TensorDesc> infer_binary(const OpCall& c) {
  expect_inputs(c, 2);
  expect_dtype(c, 0, DType::f32, "input");
  expect_dtype(c, 1, DType::f32, "other");
  return {{broadcast_shapes(c.op, c.in[0].shape, c.in[1].shape), DType::f32}};
}

template <ref::BinaryOp OP>
void same_shape_kernel(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (OP == ref::BinaryOp::add) y[i] = a[i] + b[i];
    if constexpr (OP == ref::BinaryOp::sub) y[i] = a[i] - b[i];
    if constexpr (OP == ref::BinaryOp::mul) y[i] = a[i] * b[i];
    if constexpr (OP == ref::BinaryOp::div) y[i] = a[i] / b[i];
  }
}

bool same_shapes(const KernelCall& c) { return c.in[0].shape == c.out[0].shape && c.in[1].shape == c.out[0].shape; }

template <ref::BinaryOp OP>
Prepared prepare_same_shape(const KernelCall&) {
  return {[](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            parallel_binary(same_shape_kernel<OP>, fptr(in[0]), fptr(in[1]), fptr_mut(out[0]), out[0].numel());
          },
          0, "same_shape"};
}

template <ref::BinaryOp OP>
Prepared prepare_broadcast(const KernelCall& c) {
  const Shape a = c.in[0].shape, b = c.in[1].shape, o = c.out[0].shape;
  ref::BroadcastParams p;
  p.ndim = static_cast<int>(o.size());
  auto sa = broadcast_strides(a, o), sb = broadcast_strides(b, o);
  for (size_t i = 0; i < o.size(); ++i) {
    p.shape[i] = o[i];
    p.stride_a[i] = sa[i];
    p.stride_b[i] = sb[i];
  }
  return {[p](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            ref::binary(OP, p, fptr(in[0]), fptr(in[1]), fptr_mut(out[0]));
          },
          0, "ref"};
}

template <ref::BinaryOp OP>
void add_binary_kernels(KernelTable& k, const std::string& op) {
  add_cpu_kernel(k, op, "eltwise", "same_shape", 10, prepare_same_shape<OP>, same_shapes);
  add_cpu_kernel(k, op, "eltwise", "ref", 0, prepare_broadcast<OP>);
}

bool oki_reduce(const KernelCall& c) {
  cpu::OKI oki;
  return cpu::collapse_outer_kept_inner(c.in[0].shape, c.out[0].shape, &oki);
}
bool oki_broadcast(const KernelCall& c) {
  cpu::OKI oki;
  return cpu::collapse_outer_kept_inner(c.out[0].shape, c.in[0].shape, &oki);
}

// Gradient of a broadcast operand: sum over the broadcast axes.
ValueId reduce_to(Graph& g, ValueId grad, const Shape& target) {
  if (g.value(grad).desc.shape == target) return grad;
  return g.add1("sum_to", {grad}, {{"shape", target}});
}

std::vector<ValueId> backward_add_sub(BackwardCall& b, bool sub) {
  ValueId gy = b.grad_out[0];
  ValueId ga = b.needs_grad[0] ? reduce_to(b.g, gy, b.desc(b.in(0)).shape) : kNoValue;
  ValueId gb = kNoValue;
  if (b.needs_grad[1]) {
    ValueId t = sub ? b.g.add1("scale", {gy}, {{"alpha", -1.0}}) : gy;
    gb = reduce_to(b.g, t, b.desc(b.in(1)).shape);
  }
  return {ga, gb};
}

std::vector<ValueId> backward_mul(BackwardCall& b) {
  ValueId gy = b.grad_out[0], ga = kNoValue, gb = kNoValue;
  if (b.needs_grad[0]) ga = reduce_to(b.g, b.g.add1("mul", {gy, b.in(1)}), b.desc(b.in(0)).shape);
  if (b.needs_grad[1]) gb = reduce_to(b.g, b.g.add1("mul", {gy, b.in(0)}), b.desc(b.in(1)).shape);
  return {ga, gb};
}

std::vector<ValueId> backward_div(BackwardCall& b) {
  ValueId gy = b.grad_out[0], ga = kNoValue, gb = kNoValue;
  if (b.needs_grad[0]) ga = reduce_to(b.g, b.g.add1("div", {gy, b.in(1)}), b.desc(b.in(0)).shape);
  if (b.needs_grad[1]) {  // d(a/b)/db = -(a/b)/b
    ValueId t = b.g.add1("div", {b.g.add1("mul", {gy, b.out(0)}), b.in(1)});
    gb = reduce_to(b.g, b.g.add1("scale", {t}, {{"alpha", -1.0}}), b.desc(b.in(1)).shape);
  }
  return {ga, gb};
}

std::vector<TensorDesc> infer_unary_f32(const OpCall& c) {
  expect_inputs(c, 1);
  expect_dtype(c, 0, DType::f32, "input");
  return {c.in[0]};
}

Shape shape_attr(const OpCall& c) {
  Shape s = c.attr().get_int_list("shape");
  for (int64_t d : s) FC_CHECK(d >= 0, Value, c.op, ": 'shape' ", shape_str(s), " has a negative size");
  checked_numel(c.op, s, "argument 'shape'", "shape=" + shape_str(s));
  return s;
}

}  // namespace

void register_eltwise_ops(Registry& r, KernelTable& k) {
  r.add({"add", 2, 2, infer_binary, [](BackwardCall& b) { return backward_add_sub(b, false); }, false, 0}, {});
  r.add({"sub", 2, 2, infer_binary, [](BackwardCall& b) { return backward_add_sub(b, true); }, false, 0}, {});
  r.add({"mul", 2, 2, infer_binary, backward_mul, false, 0}, {});
  r.add({"div", 2, 2, infer_binary, backward_div, false, 0}, {});
  add_binary_kernels<ref::BinaryOp::add>(k, "add");
  add_binary_kernels<ref::BinaryOp::sub>(k, "sub");
  add_binary_kernels<ref::BinaryOp::mul>(k, "mul");
  add_binary_kernels<ref::BinaryOp::div>(k, "div");
  r.set_role(Role::accumulate, "add");

  // y = alpha * x + beta
  r.add({"scale", 1, 1, infer_unary_f32,
         [](BackwardCall& b) -> std::vector<ValueId> {
           double alpha = b.attr().get_float("alpha", 1.0);
           return {b.g.add1("scale", {b.grad_out[0]}, {{"alpha", alpha}})};
         },
         false, 0}, {"alpha", "beta"});
  add_cpu_kernel(k, "scale", "eltwise", "ref", 0, [](const KernelCall& c) -> Prepared {
    float alpha = float(c.attr().get_float("alpha", 1.0)), beta = float(c.attr().get_float("beta", 0.0));
    return {[alpha, beta](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
              const float* x = fptr(in[0]);
              float* y = fptr_mut(out[0]);
              parallel_for(out[0].numel(), 1 << 15, [&](int64_t b, int64_t e) {
                for (int64_t i = b; i < e; ++i) y[i] = alpha * x[i] + beta;
              });
            },
            0, ""};
  });

  // A tensor shaped like the input, filled with `value` (the seed of backward passes).
  r.add({"fill_like", 1, 1,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           expect_inputs(c, 1);
           c.attr().get_float("value");
           return {{c.in[0].shape, DType::f32}};
         },
         [](BackwardCall&) -> std::vector<ValueId> { return {kNoValue}; }, false, -1}, {"value"});
  add_cpu_kernel(k, "fill_like", "eltwise", "ref", 0, [](const KernelCall& c) -> Prepared {
    float v = float(c.attr().get_float("value"));
    return {[v](const std::vector<Tensor>&, const std::vector<Tensor>& out, const RunContext&) {
              float* y = fptr_mut(out[0]);
              for (int64_t i = 0, n = out[0].numel(); i < n; ++i) y[i] = v;
            },
            0, ""};
  });
  r.set_role(Role::fill_like, "fill_like");

  // Sum over broadcast axes down to `shape` (the reverse of broadcast_to).
  r.add({"sum_to", 1, 1,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           expect_inputs(c, 1);
           expect_dtype(c, 0, DType::f32, "input");
           Shape s = shape_attr(c);
           FC_CHECK(broadcast_shapes(c.op, s, c.in[0].shape) == c.in[0].shape, Value, c.op, ": shape ", shape_str(s),
                    " does not broadcast to the input shape ", shape_str(c.in[0].shape));
           return {{s, DType::f32}};
         },
         [](BackwardCall& b) -> std::vector<ValueId> {
           return {b.g.add1("broadcast_to", {b.grad_out[0]}, {{"shape", b.desc(b.in(0)).shape}})};
         },
         false, -1}, {"shape"});
  add_cpu_kernel(
      k, "sum_to", "eltwise", "outer_kept_inner", 10,
      [](const KernelCall& c) -> Prepared {
        cpu::OKI oki;
        cpu::collapse_outer_kept_inner(c.in[0].shape, c.out[0].shape, &oki);
        return {[oki](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
                  cpu::sum_oki(oki, fptr(in[0]), fptr_mut(out[0]), static_cast<double*>(ctx.workspace));
                },
                cpu::sum_oki_workspace_bytes(oki), ""};
      },
      oki_reduce);
  add_cpu_kernel(k, "sum_to", "eltwise", "ref", 0, [](const KernelCall& c) -> Prepared {
    ref::ReduceParams p = reduce_params(c.in[0].shape, c.out[0].shape);
    return {[p](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
              ref::sum_to(p, fptr(in[0]), fptr_mut(out[0]), out[0].numel(), static_cast<double*>(ctx.workspace));
            },
            size_t(shape_numel(c.out[0].shape)) * sizeof(double), ""};
  });

  r.add({"broadcast_to", 1, 1,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           expect_inputs(c, 1);
           expect_dtype(c, 0, DType::f32, "input");
           Shape s = shape_attr(c);
           FC_CHECK(broadcast_shapes(c.op, c.in[0].shape, s) == s, Value, c.op, ": input shape ",
                    shape_str(c.in[0].shape), " cannot be broadcast to ", shape_str(s));
           return {{s, DType::f32}};
         },
         [](BackwardCall& b) -> std::vector<ValueId> {
           return {reduce_to(b.g, b.grad_out[0], b.desc(b.in(0)).shape)};
         },
         false, -1}, {"shape"});
  add_cpu_kernel(
      k, "broadcast_to", "eltwise", "outer_kept_inner", 10,
      [](const KernelCall& c) -> Prepared {
        cpu::OKI oki;
        cpu::collapse_outer_kept_inner(c.out[0].shape, c.in[0].shape, &oki);
        return {[oki](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
                  cpu::broadcast_oki(oki, fptr(in[0]), fptr_mut(out[0]));
                },
                0, ""};
      },
      oki_broadcast);
  add_cpu_kernel(k, "broadcast_to", "eltwise", "ref", 0, [](const KernelCall& c) -> Prepared {
    ref::BroadcastParams p;
    const Shape& o = c.out[0].shape;
    p.ndim = static_cast<int>(o.size());
    auto sa = broadcast_strides(c.in[0].shape, o);
    for (size_t i = 0; i < o.size(); ++i) {
      p.shape[i] = o[i];
      p.stride_a[i] = sa[i];
    }
    return {[p](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
              static const float zero = 0.f;
              ref::binary(ref::BinaryOp::add, p, fptr(in[0]), &zero, fptr_mut(out[0]));
            },
            0, ""};
  });
}

}  // namespace fastconv
