// sum / mean over all or some dimensions, torch semantics (dim=None reduces everything to a 0-d tensor).
#include <algorithm>
#include <limits>

#include "cpu/reduce.h"
#include "ops/common.h"

namespace fastconv {

// The input shape with reduced axes set to 1 (keepdim layout) and the output shape.
void reduced_shapes(const OpCall& c, Shape* keep, Shape* out) {
  const Shape& s = c.in[0].shape;
  const int64_t rank = static_cast<int64_t>(s.size());
  AttrReader a = c.attr();
  std::vector<char> red(s.size(), 0);
  if (a.has("dim")) {
    for (int64_t d : a.get_int_list("dim")) {
      int64_t ax = normalize_axis(c.op, d, rank);
      FC_CHECK(!red[size_t(ax)], Value, c.op, ": dim ", d, " appears more than once");
      red[size_t(ax)] = 1;
    }
  } else {
    std::fill(red.begin(), red.end(), 1);
  }
  bool keepdim = a.get_bool("keepdim", false);
  keep->clear();
  out->clear();
  for (size_t i = 0; i < s.size(); ++i) {
    keep->push_back(red[i] ? 1 : s[i]);
    if (!red[i] || keepdim) out->push_back(red[i] ? 1 : s[i]);
  }
}

namespace {

std::vector<TensorDesc> infer_reduce(const OpCall& c) {
  expect_inputs(c, 1);
  expect_dtype(c, 0, DType::f32, "input");
  Shape keep, out;
  reduced_shapes(c, &keep, &out);
  return {{out, DType::f32}};
}

// Fast: the input viewed as [outer, kept, inner] (cpu::sum_oki); else the reference over any broadcast pattern.
Prepared prepare_reduce(const KernelCall& c, bool mean, bool fast) {
  Shape keep, out;
  reduced_shapes(c, &keep, &out);
  ref::ReduceParams p = reduce_params(c.in[0].shape, keep);
  int64_t count = shape_numel(keep) ? shape_numel(c.in[0].shape) / shape_numel(keep) : 0;
  float scale = mean ? (count ? 1.f / float(count) : std::numeric_limits<float>::quiet_NaN()) : 1.f;
  cpu::OKI oki;
  fast = fast && cpu::collapse_outer_kept_inner(c.in[0].shape, keep, &oki);
  // Double partials: the fast path's, or one accumulator per output for the reference.
  const size_t ws = fast ? cpu::sum_oki_workspace_bytes(oki) : size_t(shape_numel(keep)) * sizeof(double);
  return {[p, scale, fast, oki](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
            float* y = fptr_mut(out[0]);
            double* acc = static_cast<double*>(ctx.workspace);
            if (fast)
              cpu::sum_oki(oki, fptr(in[0]), y, acc);
            else
              ref::sum_to(p, fptr(in[0]), y, out[0].numel(), acc);
            if (scale != 1.f)
              for (int64_t i = 0, n = out[0].numel(); i < n; ++i) y[i] *= scale;
          },
          ws, fast ? "outer_kept_inner" : "ref"};
}

bool collapses(const KernelCall& c) {
  Shape keep, out;
  reduced_shapes(c, &keep, &out);
  cpu::OKI oki;
  return cpu::collapse_outer_kept_inner(c.in[0].shape, keep, &oki);
}

std::vector<ValueId> backward_reduce(BackwardCall& b, bool mean) {
  Shape keep, out;
  const Shape in_shape = b.desc(b.in(0)).shape;
  std::vector<TensorDesc> in{b.desc(b.in(0))};
  reduced_shapes(OpCall{b.node.op, b.node.attrs, in}, &keep, &out);
  ValueId g = b.g.add1("reshape", {b.grad_out[0]}, {{"shape", keep}});
  g = b.g.add1("broadcast_to", {g}, {{"shape", in_shape}});
  if (mean) {
    int64_t count = shape_numel(in_shape) / std::max<int64_t>(1, shape_numel(keep));
    g = b.g.add1("scale", {g}, {{"alpha", 1.0 / double(std::max<int64_t>(1, count))}});
  }
  return {g};
}

}  // namespace

void register_reduce_ops(Registry& r, KernelTable& k) {
  r.add({"sum", 1, 1, infer_reduce, [](BackwardCall& b) { return backward_reduce(b, false); }, false, -1},
        {"dim", "keepdim"});
  r.add({"mean", 1, 1, infer_reduce, [](BackwardCall& b) { return backward_reduce(b, true); }, false, -1},
        {"dim", "keepdim"});
  for (const bool mean : {false, true}) {
    const char* op = mean ? "mean" : "sum";
    add_cpu_kernel(
        k, op, "reduce", "outer_kept_inner", 10, [mean](const KernelCall& c) { return prepare_reduce(c, mean, true); },
        collapses);
    add_cpu_kernel(k, op, "reduce", "ref", 0, [mean](const KernelCall& c) { return prepare_reduce(c, mean, false); });
  }
}

}  // namespace fastconv
