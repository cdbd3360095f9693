// The dropout op family: dropout (element-wise) and dropout2d (whole channels of [N, C, *]). Randomness comes
// from the `seed` attribute and the step number through a counter-based hash (cpu/ref/dropout_ref.h): the same seed
// and step give the same mask on any thread count. The step is an optional second input, the int64 [1] value of
// the graph's step counter (train.h: step_counter), so every run of a compiled graph draws a fresh mask without
// the host writing anything; without it (eager calls) the step is 0. The mask (uint8, one entry per element or per
// channel) is an output that the backward reads.
// Eval mode is the identity and is handled by the Python wrapper (no node is recorded).
// Kernels: "parallel" and the single-threaded "ref" (FASTCONV_ALGO=dropout=ref).
#include "cpu/dropout.h"
#include "cpu/ref/dropout_ref.h"
#include "ops/common.h"
#include "ops/dropout.h"

namespace fastconv {
namespace {

bool channelwise(const std::string& op) { return op.rfind("dropout2d", 0) == 0; }

// The mask shape for x: x itself, or [N, C] for dropout2d.
Shape mask_shape(const OpCall& c, const Shape& x) {
  if (!channelwise(c.op)) return x;
  FC_CHECK(x.size() >= 2, Value, c.op, ": expected an input with at least 2 dimensions ([N, C, *]), got shape ",
           shape_str(x));
  return {x[0], x[1]};
}

}  // namespace

ref::DropoutParams dropout_params(const OpCall& c, const Shape& x) {
  AttrReader a = c.attr();
  ref::DropoutParams p;
  const double prob = a.get_float("p", 0.5);
  FC_CHECK(prob >= 0.0 && prob <= 1.0, Value, c.op, ": dropout probability has to be between 0 and 1, but got ", prob);
  p.p = float(prob);
  p.seed = uint64_t(a.get_int("seed"));
  p.entries = shape_numel(mask_shape(c, x));
  p.inner = p.entries ? shape_numel(x) / p.entries : 1;
  return p;
}

namespace {

std::vector<TensorDesc> infer_dropout(const OpCall& c) {
  FC_CHECK(c.in.size() == 1 || c.in.size() == 2, Value, c.op, ": expected inputs (input[, step]), got ", c.in.size());
  expect_dtype(c, 0, DType::f32, "input");
  if (c.in.size() == 2) {
    expect_dtype(c, 1, DType::i64, "step");
    FC_CHECK(shape_numel(c.in[1].shape) == 1, Value, c.op, ": 'step' must have one element, got shape ",
             shape_str(c.in[1].shape));
  }
  dropout_params(c, c.in[0].shape);
  return {c.in[0], {mask_shape(c, c.in[0].shape), DType::u8}};
}

template <bool Ref>
Prepared prepare_dropout(const KernelCall& c) {
  const ref::DropoutParams base = dropout_params(c, c.in[0].shape);
  const bool r = Ref;
  return {[base, r](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            ref::DropoutParams p = base;
            p.step = in.size() > 1 ? uint64_t(in[1].data<const int64_t>()[0]) : 0;
            const float* x = fptr(in[0]);
            float* y = fptr_mut(out[0]);
            uint8_t* m = out[1].data<uint8_t>();
            if (r) return ref::dropout(p, x, y, m, 0, p.entries);
            cpu::dropout__parallel(p, x, y, m);
          },
          0, r ? "ref" : "dropout__parallel"};
}

// inputs: grad, mask
std::vector<TensorDesc> infer_dropout_backward(const OpCall& c) {
  expect_inputs(c, 2);
  expect_dtype(c, 0, DType::f32, "grad");
  expect_dtype(c, 1, DType::u8, "mask");
  FC_CHECK(c.in[1].shape == mask_shape(c, c.in[0].shape), Value, c.op, ": mask shape ", shape_str(c.in[1].shape),
           " does not match grad shape ", shape_str(c.in[0].shape));
  dropout_params(c, c.in[0].shape);
  return {c.in[0]};
}

template <bool Ref>
Prepared prepare_dropout_backward(const KernelCall& c) {
  const ref::DropoutParams p = dropout_params(c, c.in[0].shape);
  const bool r = Ref;
  return {[p, r](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float* g = fptr(in[0]);
            const uint8_t* m = in[1].data<const uint8_t>();
            float* dx = fptr_mut(out[0]);
            if (r) return ref::dropout_backward(p, g, m, dx, 0, p.entries);
            cpu::dropout_backward__parallel(p, g, m, dx);
          },
          0, r ? "ref" : "dropout_backward__parallel"};
}

}  // namespace

void register_dropout_ops(Registry& r, KernelTable& k) {
  for (const char* name : {"dropout", "dropout2d"}) {
    const std::string bwd = std::string(name) + "_backward";
    r.add({name, 1, 2, infer_dropout,
           [bwd](BackwardCall& b) -> std::vector<ValueId> {
             std::vector<ValueId> g(b.node.inputs.size(), kNoValue);
             g[0] = b.g.add1(bwd, {b.grad_out[0], b.out(1)}, b.node.attrs);
             return g;
           },
           false, 0}, {"p", "seed"});
    r.add({bwd, 2, 2, infer_dropout_backward, nullptr, false, 0}, {"p", "seed"});
    add_cpu_kernel(k, name, "dropout", "parallel", 10, prepare_dropout<false>);
    add_cpu_kernel(k, name, "dropout", "ref", 0, prepare_dropout<true>);
    add_cpu_kernel(k, bwd, "dropout", "parallel", 10, prepare_dropout_backward<false>);
    add_cpu_kernel(k, bwd, "dropout", "ref", 0, prepare_dropout_backward<true>);
  }
}

}  // namespace fastconv
