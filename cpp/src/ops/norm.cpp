// The norm op family: batch_norm, group_norm, layer_norm, local_response_norm, each with a dedicated backward op.
// Optional tensors (weight, bias, running stats) are present or not according to has_* attributes, in a fixed
// order after the input; the Python wrappers set them. batch_norm writes the running statistics in place (they
// are inputs) and is marked side_effects so the update survives dead-code removal.
// Kernels: "channels" (parallel over channel blocks) and "ref"; FASTCONV_ALGO=norm=ref forces the reference (tests
// run both paths).
#include <algorithm>
#include <cstdlib>

#include "cpu/norm.h"
#include "cpu/ref/norm_ref.h"
#include "fastconv/parallel.h"
#include "ops/common.h"
#include "ops/norm.h"

namespace fastconv {

Slots slots(const AttrReader& a, bool with_running, int first) {
  Slots s;
  s.count = first;
  if (with_running && a.get_bool("has_running", false)) {
    s.running_mean = s.count++;
    s.running_var = s.count++;
  }
  if (a.get_bool("has_weight", false)) s.weight = s.count++;
  if (a.get_bool("has_bias", false)) s.bias = s.count++;
  return s;
}

namespace {

const float* opt(const std::vector<Tensor>& in, int i) { return i < 0 ? nullptr : fptr(in[size_t(i)]); }
float* opt_mut(const std::vector<Tensor>& in, int i) { return i < 0 ? nullptr : fptr_mut(in[size_t(i)]); }

void expect_count(const OpCall& c, const Slots& s) {
  FC_CHECK(int(c.in.size()) == s.count, Value, c.op, ": expected ", s.count,
           " inputs for the has_* attributes given, got ", c.in.size());
}

// A per-channel (or per-normalized-element) tensor must have exactly `want` shape.
void expect_param(const OpCall& c, int i, const char* arg, const Shape& want, const char* what) {
  if (i < 0) return;
  expect_dtype(c, size_t(i), DType::f32, arg);
  const Shape& got = c.in[size_t(i)].shape;
  FC_CHECK(shape_numel(got) == shape_numel(want) && (got.size() == 1 || got == want), Value, c.op, ": ", arg,
           " should contain ", shape_numel(want), " elements not ", shape_numel(got), " (", arg, " shape ",
           shape_str(got), ", expected ", shape_str(want), " ", what, ")");
}

// ---- batch_norm --------------------------------------------------------------------------------------------------

}  // namespace

ref::BatchNormParams bn_params(const OpCall& c, size_t x_index) {
  const Shape& s = c.in[x_index].shape;
  AttrReader a = c.attr();
  ref::BatchNormParams p;
  p.N = s[0];
  p.C = s[1];
  for (size_t i = 2; i < s.size(); ++i) p.S *= s[i];
  p.training = a.get_bool("training", false);
  p.momentum = float(a.get_float("momentum", 0.1));
  p.running_var_unbiased = a.get_bool("running_var_unbiased", true);
  p.eps = float(a.get_float("eps", 1e-5));
  return p;
}

std::vector<TensorDesc> infer_batch_norm(const OpCall& c) {
  AttrReader a = c.attr();
  const Slots s = slots(a, true);
  expect_count(c, s);
  expect_dtype(c, 0, DType::f32, "input");
  const Shape& x = c.in[0].shape;
  FC_CHECK(x.size() >= 2 && x.size() <= 5, Value, c.op, ": argument 'input' must be 2-D to 5-D ([N, C, *]), got shape ",
           shape_str(x));
  const bool training = a.get_bool("training", false);
  FC_CHECK(training || s.running_mean >= 0, Value, c.op,
           ": running_mean and running_var must be given in evaluation mode (training=False)");
  const std::string where = "for input shape " + shape_str(x) + " with " + std::to_string(x[1]) + " channels";
  const Shape ch{x[1]};
  expect_param(c, s.running_mean, "running_mean", ch, where.c_str());
  expect_param(c, s.running_var, "running_var", ch, where.c_str());
  expect_param(c, s.weight, "weight", ch, where.c_str());
  expect_param(c, s.bias, "bias", ch, where.c_str());
  ref::BatchNormParams p = bn_params(c, 0);
  FC_CHECK(!training || p.N * p.S != 1, Value, c.op, ": expected more than 1 value per channel when training, got input size ",
           shape_str(x));
  FC_CHECK(a.get_float("eps", 1e-5) >= 0, Value, c.op, ": argument 'eps' must be >= 0, got ", a.get_float("eps", 1e-5));
  return {c.in[0], {ch, DType::f32}, {ch, DType::f32}};
}

namespace {

template <bool Ref>
Prepared prepare_batch_norm(const KernelCall& c) {
  const Slots s = slots(c.attr(), true);
  const ref::BatchNormParams p = bn_params(c, 0);
  const bool r = Ref;
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, p.N * p.S));
  return {[p, s, r, grain](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float *x = fptr(in[0]), *w = opt(in, s.weight), *b = opt(in, s.bias);
            float *rm = opt_mut(in, s.running_mean), *rv = opt_mut(in, s.running_var);
            float *y = fptr_mut(out[0]), *sm = fptr_mut(out[1]), *si = fptr_mut(out[2]);
            if (r) return ref::batch_norm(p, x, w, b, rm, rv, y, sm, si);
            parallel_for(p.C, grain, [&](int64_t c0, int64_t c1) {
              cpu::batch_norm__channels(p, x, w, b, rm, rv, y, sm, si, c0, c1);
            });
          },
          0, r ? "ref" : "batch_norm__channels"};
}

std::vector<ValueId> backward_batch_norm(BackwardCall& b) { return batch_norm_backward_rule(b, "batch_norm_backward"); }

}  // namespace

std::vector<ValueId> batch_norm_backward_rule(BackwardCall& b, const std::string& backward_op) {
  const Slots s = slots(b.attr(), true);
  Attrs at = b.node.attrs;
  at.set("has_running", false).set("has_bias", false);
  std::vector<ValueId> in{b.grad_out[0], b.in(0)};
  if (s.weight >= 0) in.push_back(b.in(size_t(s.weight)));
  in.push_back(b.out(1));
  in.push_back(b.out(2));
  std::vector<ValueId> o = b.g.add(backward_op, in, at);
  std::vector<ValueId> grads(b.node.inputs.size(), kNoValue);
  grads[0] = o[0];
  if (s.weight >= 0) grads[size_t(s.weight)] = o[1];
  if (s.bias >= 0) grads[size_t(s.bias)] = o[2];
  return grads;
}

// inputs: grad, x, [weight], save_mean, save_invstd -> dx, dweight, dbias
std::vector<TensorDesc> infer_batch_norm_backward(const OpCall& c) {
  const Slots s = slots(c.attr(), false, 2);
  FC_CHECK(int(c.in.size()) == s.count + 2, Value, c.op, ": expected ", s.count + 2, " inputs, got ", c.in.size());
  FC_CHECK(c.in[1].shape.size() >= 2, Value, c.op, ": argument 'input' must be 2-D to 5-D ([N, C, *]), got shape ",
           shape_str(c.in[1].shape));
  const Shape ch{c.in[1].shape[1]};
  return {c.in[1], {ch, DType::f32}, {ch, DType::f32}};
}

namespace {

template <bool Ref>
Prepared prepare_batch_norm_backward(const KernelCall& c) {
  const Slots s = slots(c.attr(), false, 2);
  const ref::BatchNormParams p = bn_params(c, 1);
  const bool r = Ref;
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, p.N * p.S));
  return {[p, s, r, grain](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float *g = fptr(in[0]), *x = fptr(in[1]), *w = opt(in, s.weight);
            const float *sm = fptr(in[size_t(s.count)]), *si = fptr(in[size_t(s.count + 1)]);
            float *dx = fptr_mut(out[0]), *dw = fptr_mut(out[1]), *db = fptr_mut(out[2]);
            if (r) return ref::batch_norm_backward(p, g, x, w, sm, si, dx, dw, db);
            parallel_for(p.C, grain, [&](int64_t c0, int64_t c1) {
              cpu::batch_norm_backward__channels(p, g, x, w, sm, si, dx, dw, db, c0, c1);
            });
          },
          0, r ? "ref" : "batch_norm_backward__channels"};
}

// ---- group_norm / layer_norm (row norms) ------------------------------------------------------------------------

bool is_group(const std::string& op) { return op.rfind("group_norm", 0) == 0; }

}  // namespace

// The row view of x, and the shape of one affine parameter (weight/bias); validates the attributes.
ref::RowNormParams row_params(const OpCall& c, size_t x_index, Shape* affine) {
  const Shape& x = c.in[x_index].shape;
  AttrReader a = c.attr();
  ref::RowNormParams p;
  p.eps = float(a.get_float("eps", 1e-5));
  if (is_group(c.op)) {
    FC_CHECK(x.size() >= 2, Value, c.op, ": expected at least 2 dimensions for input ([N, C, *]), got shape ",
             shape_str(x));
    const int64_t G = a.get_int("num_groups"), C = x[1];
    FC_CHECK(G > 0, Value, c.op, ": argument 'num_groups' must be positive, got ", G);
    FC_CHECK(C % G == 0, Value, c.op, ": expected number of channels in input to be divisible by num_groups, but got input of shape ",
             shape_str(x), " and num_groups=", G);
    int64_t S = 1;
    for (size_t i = 2; i < x.size(); ++i) S *= x[i];
    // torch rejects this too (F.group_norm's _verify_batch_size), even though each group may hold several values.
    FC_CHECK(x[0] * S != 1, Value, c.op, ": expected more than 1 value per channel when training, got input size ",
             shape_str(x));
    p.M = x[0] * G;
    p.D = (C / G) * S;
    p.G = G;
    p.inner = S;
    *affine = {C};
  } else {
    const Shape ns = a.get_int_list("normalized_shape");
    bool ok = !ns.empty() && ns.size() <= x.size() && std::equal(ns.begin(), ns.end(), x.end() - long(ns.size()));
    FC_CHECK(ok, Value, c.op, ": given normalized_shape=", shape_str(ns), ", expected input with shape [*, ",
             shape_str(ns).substr(1), ", but got input of size ", shape_str(x));
    p.D = shape_numel(ns);
    p.M = p.D ? shape_numel(x) / p.D : 0;
    *affine = ns;
  }
  return p;
}

namespace {

std::vector<TensorDesc> infer_row_norm(const OpCall& c) {
  const Slots s = slots(c.attr(), false);
  expect_count(c, s);
  expect_dtype(c, 0, DType::f32, "input");
  Shape affine;
  ref::RowNormParams p = row_params(c, 0, &affine);
  const std::string what = is_group(c.op) ? "(one per channel)" : "(normalized_shape)";
  expect_param(c, s.weight, "weight", affine, what.c_str());
  expect_param(c, s.bias, "bias", affine, what.c_str());
  return {c.in[0], {{p.M}, DType::f32}, {{p.M}, DType::f32}};
}

template <bool Ref>
Prepared prepare_row_norm(const KernelCall& c) {
  const Slots s = slots(c.attr(), false);
  Shape affine;
  const ref::RowNormParams p = row_params(c, 0, &affine);
  const bool r = Ref;
  const int64_t grain = std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, p.D));
  return {[p, s, r, grain](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float *x = fptr(in[0]), *w = opt(in, s.weight), *b = opt(in, s.bias);
            float *y = fptr_mut(out[0]), *mean = fptr_mut(out[1]), *rstd = fptr_mut(out[2]);
            if (r) return ref::row_norm(p, x, w, b, y, mean, rstd);
            parallel_for(p.M, grain, [&](int64_t r0, int64_t r1) {
              cpu::row_norm__rows(p, x, w, b, y, mean, rstd, r0, r1);
            });
          },
          0, r ? "ref" : "row_norm__rows"};
}

std::vector<ValueId> backward_row_norm(BackwardCall& b) {
  const Slots s = slots(b.attr(), false);
  Attrs at = b.node.attrs;
  at.set("has_bias", false);
  std::vector<ValueId> in{b.grad_out[0], b.in(0)};
  if (s.weight >= 0) in.push_back(b.in(size_t(s.weight)));
  in.push_back(b.out(1));
  in.push_back(b.out(2));
  std::vector<ValueId> o = b.g.add(b.node.op + "_backward", in, at);
  std::vector<ValueId> grads(b.node.inputs.size(), kNoValue);
  grads[0] = o[0];
  if (s.weight >= 0) grads[size_t(s.weight)] = o[1];
  if (s.bias >= 0) grads[size_t(s.bias)] = o[2];
  return grads;
}

// inputs: grad, x, [weight], mean, rstd -> dx, dweight, dbias
std::vector<TensorDesc> infer_row_norm_backward(const OpCall& c) {
  const Slots s = slots(c.attr(), false, 2);
  FC_CHECK(int(c.in.size()) == s.count + 2, Value, c.op, ": expected ", s.count + 2, " inputs, got ", c.in.size());
  Shape affine;
  row_params(c, 1, &affine);
  return {c.in[1], {affine, DType::f32}, {affine, DType::f32}};
}

template <bool Ref>
Prepared prepare_row_norm_backward(const KernelCall& c) {
  const Slots s = slots(c.attr(), false, 2);
  Shape affine;
  const ref::RowNormParams p = row_params(c, 1, &affine);
  const bool r = Ref;
  const int64_t grain = std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, p.D));
  const int64_t agrain = std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, p.M * p.inner));
  return {[p, s, r, grain, agrain](const std::vector<Tensor>& in, const std::vector<Tensor>& out,
                                   const RunContext& ctx) {
            const float *g = fptr(in[0]), *x = fptr(in[1]), *w = opt(in, s.weight);
            const float *mean = fptr(in[size_t(s.count)]), *rstd = fptr(in[size_t(s.count + 1)]);
            float *dx = fptr_mut(out[0]), *dw = fptr_mut(out[1]), *db = fptr_mut(out[2]);
            if (r)
              return ref::row_norm_backward(p, g, x, w, mean, rstd, dx, dw, db, static_cast<double*>(ctx.workspace));
            parallel_for(p.M, grain, [&](int64_t r0, int64_t r1) {
              cpu::row_norm_backward_dx__rows(p, g, x, w, mean, rstd, dx, r0, r1);
            });
            parallel_for(p.affine_size(), agrain, [&](int64_t a0, int64_t a1) {
              cpu::row_norm_backward_affine(p, g, x, mean, rstd, dw, db, a0, a1);
            });
          },
          r ? sizeof(double) * size_t(2 * p.affine_size()) : 0, r ? "ref" : "row_norm_backward__rows"};
}

// ---- local_response_norm ------------------------------------------------------------------------------------------

}  // namespace

ref::LrnParams lrn_params(const OpCall& c) {
  const Shape& x = c.in[0].shape;
  AttrReader a = c.attr();
  FC_CHECK(x.size() >= 3, Value, c.op, ": expected 3D or higher dimensionality input ([N, C, *]), got shape ",
           shape_str(x));
  ref::LrnParams p;
  p.N = x[0];
  p.C = x[1];
  for (size_t i = 2; i < x.size(); ++i) p.S *= x[i];
  p.size = a.get_int("size");
  FC_CHECK(p.size >= 1, Value, c.op, ": argument 'size' must be >= 1, got ", p.size);
  p.alpha = float(a.get_float("alpha", 1e-4));
  p.beta = float(a.get_float("beta", 0.75));
  p.k = float(a.get_float("k", 1.0));
  return p;
}

namespace {

std::vector<TensorDesc> infer_lrn(const OpCall& c) {
  expect_dtype(c, 0, DType::f32, "input");
  lrn_params(c);
  return {c.in[0], c.in[0]};
}

Prepared prepare_lrn(const OpCall& c) {
  const ref::LrnParams p = lrn_params(c);
  return {[p](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float* x = fptr(in[0]);
            float *y = fptr_mut(out[0]), *scale = fptr_mut(out[1]);
            parallel_for(p.N, 1, [&](int64_t n0, int64_t n1) { ref::local_response_norm(p, x, y, scale, n0, n1); });
          },
          0, "ref"};
}

// inputs: grad, x, y, scale
Prepared prepare_lrn_backward(const OpCall& c) {
  const ref::LrnParams p = lrn_params(c);
  return {[p](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float *g = fptr(in[0]), *x = fptr(in[1]), *y = fptr(in[2]), *scale = fptr(in[3]);
            float* dx = fptr_mut(out[0]);
            parallel_for(p.N, 1, [&](int64_t n0, int64_t n1) {
              ref::local_response_norm_backward(p, g, x, y, scale, dx, n0, n1);
            });
          },
          0, "ref"};
}

}  // namespace

AttrNames batch_norm_attrs() {
  return {"eps", "has_bias", "has_running", "has_weight", "momentum", "running_var_unbiased", "training"};
}

namespace {
AttrNames row_norm_attrs(const std::string& op) {
  return {"eps", "has_bias", "has_weight", is_group(op) ? "num_groups" : "normalized_shape"};
}
}  // namespace

void register_norm_ops(Registry& r, KernelTable& k) {
  const AttrNames kBatchNormAttrs = batch_norm_attrs();
  r.add({"batch_norm", 1, 5, infer_batch_norm, backward_batch_norm, /*side_effects*/ true, -1}, kBatchNormAttrs);
  r.add({"batch_norm_backward", 4, 5, infer_batch_norm_backward, nullptr, false, -1}, kBatchNormAttrs);
  add_cpu_kernel(k, "batch_norm", "norm", "channels", 10, prepare_batch_norm<false>);
  add_cpu_kernel(k, "batch_norm", "norm", "ref", 0, prepare_batch_norm<true>);
  add_cpu_kernel(k, "batch_norm_backward", "norm", "channels", 10, prepare_batch_norm_backward<false>);
  add_cpu_kernel(k, "batch_norm_backward", "norm", "ref", 0, prepare_batch_norm_backward<true>);
  for (const char* name : {"group_norm", "layer_norm"}) {
    const std::string bwd = std::string(name) + "_backward";
    r.add({name, 1, 3, infer_row_norm, backward_row_norm, false, -1}, row_norm_attrs(name));
    r.add({bwd, 4, 5, infer_row_norm_backward, nullptr, false, -1}, row_norm_attrs(name));
    add_cpu_kernel(k, name, "norm", "rows", 10, prepare_row_norm<false>);
    add_cpu_kernel(k, name, "norm", "ref", 0, prepare_row_norm<true>);
    add_cpu_kernel(k, bwd, "norm", "rows", 10, prepare_row_norm_backward<false>);
    add_cpu_kernel(k, bwd, "norm", "ref", 0, prepare_row_norm_backward<true>);
  }
  r.add({"local_response_norm", 1, 1, infer_lrn,
         [](BackwardCall& b) -> std::vector<ValueId> {
           return {b.g.add1("local_response_norm_backward", {b.grad_out[0], b.in(0), b.out(0), b.out(1)},
                            b.node.attrs)};
         },
         false, -1}, {"alpha", "beta", "k", "size"});
  r.add({"local_response_norm_backward", 4, 4,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           std::vector<TensorDesc> in{c.in[1]};
           lrn_params(OpCall{c.op, c.attrs, in});
           return {c.in[1]};
         },
         nullptr, false, -1}, {"alpha", "beta", "k", "size"});
  add_cpu_kernel(k, "local_response_norm", "norm", "ref", 0, [](const KernelCall& c) { return prepare_lrn(c); });
  add_cpu_kernel(k, "local_response_norm_backward", "norm", "ref", 0, [](const KernelCall& c) {
    std::vector<TensorDesc> in{c.in[1]};
    return prepare_lrn_backward(OpCall{c.op, c.attrs, in});
  });
}

}  // namespace fastconv
