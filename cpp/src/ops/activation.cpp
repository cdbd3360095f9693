// Activations. relu is the worked example of the op contract: shape rule, ISA-dispatched kernels with a
// reference fallback, and a backward rule that emits a dedicated relu_backward node reading the saved output.
// The parameterised point-wise activations share one kernel entry per ISA (ref::ActParams says which), each with
// a `<name>_backward` op; softmax / log_softmax reduce along `dim`; prelu has a learnable weight (one per channel or
// one shared) and a backward op giving both gradients. pow (torch.pow with a scalar exponent) is a point-wise
// activation here too: LpPool and the normalisations' inverse standard deviation compose it.
#include <algorithm>

#include "cpu/activation.h"
#include "cpu/ref/activation_ref.h"
#include "fastconv/cpu_features.h"
#include "fastconv/parallel.h"
#include "ops/activation.h"
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

// Vec: the active ISA's kernel ("relu__avx512"); else the reference ("ref"), still split over threads.
template <bool Vec>
Prepared prepare_relu(const KernelCall&) {
  auto k = Vec ? pick_isa<cpu::UnaryKernel>(ref::relu, cpu::relu__avx2, cpu::relu__avx512) : ref::relu;
  return {[k](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            parallel_unary(k, fptr(in[0]), fptr_mut(out[0]), out[0].numel());
          },
          0, Vec ? std::string("relu__") + isa_name(active_isa()) : "ref"};
}

template <bool Vec>
Prepared prepare_relu_backward(const KernelCall&) {
  auto k = Vec ? pick_isa<cpu::UnaryBackwardKernel>(ref::relu_backward, cpu::relu_backward__avx2,
                                                    cpu::relu_backward__avx512)
               : ref::relu_backward;
  return {[k](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float *g = fptr(in[0]), *y = fptr(in[1]);
            float* dx = fptr_mut(out[0]);
            parallel_for((out[0].numel() + 32767) / 32768, 1, [&](int64_t b, int64_t e) {
              int64_t lo = b * 32768, hi = std::min(out[0].numel(), e * 32768);
              k(g + lo, y + lo, dx + lo, hi - lo);
            });
          },
          0, Vec ? std::string("relu_backward__") + isa_name(active_isa()) : "ref"};
}

// ---- parameterised point-wise activations ----------------------------------------------------------------------

constexpr int64_t kChunk = 1 << 14;  // transcendental kernels: smaller chunks still amortise the task cost

std::string base_name(const std::string& op) {
  const std::string suffix = "_backward";
  return op.size() > suffix.size() && op.compare(op.size() - suffix.size(), suffix.size(), suffix) == 0
             ? op.substr(0, op.size() - suffix.size())
             : op;
}

}  // namespace

// Attributes -> kernel params; this is where the activations' arguments are validated.
ref::ActParams act_params(const OpCall& c) {
  const std::string name = base_name(c.op);
  AttrReader a = c.attr();
  ref::ActParams p;
  if (name == "leaky_relu") {
    p.kind = ref::ActKind::leaky_relu;
    p.a = float(a.get_float("negative_slope", 0.01));
  } else if (name == "elu") {
    p.kind = ref::ActKind::elu;
    p.a = float(a.get_float("alpha", 1.0));
  } else if (name == "sigmoid") {
    p.kind = ref::ActKind::sigmoid;
  } else if (name == "tanh") {
    p.kind = ref::ActKind::tanh;
  } else if (name == "threshold") {
    p.kind = ref::ActKind::threshold;
    p.a = float(a.get_float("threshold"));
    p.b = float(a.get_float("value"));
  } else if (name == "hardtanh" || name == "relu6") {
    p.kind = ref::ActKind::hardtanh;
    p.a = name == "relu6" ? 0.f : float(a.get_float("min_val", -1.0));
    p.b = name == "relu6" ? 6.f : float(a.get_float("max_val", 1.0));
    FC_CHECK(p.a <= p.b, Value, c.op, ": min_val cannot be greater than max_val (got min_val=", p.a,
             ", max_val=", p.b, ")");
  } else if (name == "gelu") {
    std::string ap = a.get_str("approximate", "none");
    FC_CHECK(ap == "none" || ap == "tanh", Value, c.op, ": argument 'approximate' must be 'none' or 'tanh', got '",
             ap, "'");
    p.kind = ap == "tanh" ? ref::ActKind::gelu_tanh : ref::ActKind::gelu;
  } else if (name == "softplus") {
    p.kind = ref::ActKind::softplus;
    p.a = float(a.get_float("beta", 1.0));
    p.b = float(a.get_float("threshold", 20.0));
    FC_CHECK(p.a != 0.f, Value, c.op, ": argument 'beta' must be non-zero, got 0");
  } else if (name == "hardsigmoid") {
    p.kind = ref::ActKind::hardsigmoid;
  } else if (name == "hardswish") {
    p.kind = ref::ActKind::hardswish;
  } else if (name == "silu") {
    p.kind = ref::ActKind::silu;
  } else if (name == "mish") {
    p.kind = ref::ActKind::mish;
  } else if (name == "pow") {  // torch.pow with a scalar exponent
    p.kind = ref::ActKind::pow;
    p.a = float(a.get_float("exponent"));
  } else if (name == "selu") {  // torch's fixed constants (Klambauer et al. 2017)
    p.kind = ref::ActKind::selu;
    p.a = 1.6732632423543772848170429916717f;
    p.b = 1.0507009873554804934193349852946f;
  } else {
    fail(ErrorKind::Runtime, c.op, ": not a point-wise activation");
  }
  return p;
}

namespace {

std::vector<TensorDesc> infer_act(const OpCall& c) {
  act_params(c);
  return infer_same(c);
}

// Vectorised kinds take the active ISA's kernel; gelu/softplus use the reference (std::erf / log1p), still
// split over threads.
template <bool Vec>
Prepared prepare_act(const KernelCall& c) {
  ref::ActParams p = act_params(c);
  const bool vec = Vec && cpu::act_is_vectorised(p.kind);
  cpu::ActKernel k = vec ? pick_isa<cpu::ActKernel>(ref::activation, cpu::activation__avx2, cpu::activation__avx512)
                         : ref::activation;
  return {[k, p](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float* x = fptr(in[0]);
            float* y = fptr_mut(out[0]);
            const int64_t n = out[0].numel();
            parallel_for((n + kChunk - 1) / kChunk, 1, [&](int64_t b, int64_t e) {
              k(p, x + b * kChunk, y + b * kChunk, std::min(n, e * kChunk) - b * kChunk);
            });
          },
          0, base_name(c.op) + "__" + (vec ? isa_name(active_isa()) : "ref")};
}

template <bool Vec>
Prepared prepare_act_backward(const KernelCall& c) {
  ref::ActParams p = act_params(c);
  const bool vec = Vec && cpu::act_is_vectorised(p.kind);
  cpu::ActBackwardKernel k = vec ? pick_isa<cpu::ActBackwardKernel>(ref::activation_backward,
                                                                    cpu::activation_backward__avx2,
                                                                    cpu::activation_backward__avx512)
                                 : ref::activation_backward;
  return {[k, p](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float *g = fptr(in[0]), *s = fptr(in[1]);
            float* dx = fptr_mut(out[0]);
            const int64_t n = out[0].numel();
            parallel_for((n + kChunk - 1) / kChunk, 1, [&](int64_t b, int64_t e) {
              const int64_t lo = b * kChunk;
              k(p, g + lo, s + lo, dx + lo, std::min(n, e * kChunk) - lo);
            });
          },
          0, c.op + "__" + (vec ? isa_name(active_isa()) : "ref")};
}

std::vector<ValueId> backward_act(BackwardCall& b) {
  std::vector<TensorDesc> in{b.desc(b.in(0))};
  ref::ActParams p = act_params(OpCall{b.node.op, b.node.attrs, in});
  ValueId saved = ref::act_backward_uses_output(p.kind) ? b.out(0) : b.in(0);
  return {b.g.add1(b.node.op + "_backward", {b.grad_out[0], saved}, b.node.attrs)};
}

// ---- softmax / log_softmax ------------------------------------------------------------------------------------

}  // namespace

ref::SoftmaxParams softmax_params(const OpCall& c) {
  const Shape& s = c.in[0].shape;
  const int64_t rank = int64_t(s.size());
  // A 0-d input behaves as a 1-element vector (torch accepts dim 0 or -1 there).
  const int64_t dim = normalize_axis(c.op, c.attr().get_int("dim"), std::max<int64_t>(rank, 1));
  ref::SoftmaxParams p;
  p.log = base_name(c.op) == "log_softmax";
  for (int64_t i = 0; i < rank; ++i) (i < dim ? p.outer : i == dim ? p.dim : p.inner) *= s[size_t(i)];
  return p;
}

namespace {

std::vector<TensorDesc> infer_softmax(const OpCall& c) {
  expect_dtype(c, 0, DType::f32, "input");
  softmax_params(c);
  return infer_same(c);
}

template <bool Backward, bool Vec>
Prepared prepare_softmax(const KernelCall& c) {
  ref::SoftmaxParams p = softmax_params(c);
  const int64_t grain = std::max<int64_t>(1, kChunk / std::max<int64_t>(1, p.dim * p.inner));
  const std::string algo = Vec ? c.op + "__" + isa_name(active_isa()) : "ref";
  if constexpr (Backward) {
    auto k = Vec ? pick_isa<cpu::SoftmaxBackwardKernel>(ref::softmax_backward, cpu::softmax_backward__avx2,
                                                        cpu::softmax_backward__avx512)
                 : ref::softmax_backward;
    return {[k, p, grain](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
              const float *g = fptr(in[0]), *y = fptr(in[1]);
              float* dx = fptr_mut(out[0]);
              parallel_for(p.outer, grain, [&](int64_t b, int64_t e) { k(p, g, y, dx, b, e); });
            },
            0, algo};
  } else {
    auto k = Vec ? pick_isa<cpu::SoftmaxKernel>(ref::softmax, cpu::softmax__avx2, cpu::softmax__avx512)
                 : ref::softmax;
    return {[k, p, grain](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
              const float* x = fptr(in[0]);
              float* y = fptr_mut(out[0]);
              parallel_for(p.outer, grain, [&](int64_t b, int64_t e) { k(p, x, y, b, e); });
            },
            0, algo};
  }
}

// ---- prelu ----------------------------------------------------------------------------------------------------

}  // namespace

ref::PreluParams prelu_params(const OpCall& c) {
  expect_dtype(c, 0, DType::f32, "input");
  expect_dtype(c, 1, DType::f32, "weight");
  const Shape &x = c.in[0].shape, &w = c.in[1].shape;
  FC_CHECK(w.size() <= 1, Value, c.op, ": argument 'weight' must be a scalar or 1-D, got shape ", shape_str(w));
  ref::PreluParams p;
  // torch: dim 1 holds the channels; inputs of rank < 2 have one channel.
  const int64_t channels = x.size() >= 2 ? x[1] : 1, nw = shape_numel(w);
  FC_CHECK(nw == 1 || nw == channels, Value, c.op, ": argument 'weight' has ", nw,
           " elements but the input has ", channels, " channel(s) (dim 1 of shape ", shape_str(x),
           "); expected 1 or ", channels);
  p.shared = nw == 1;
  p.C = channels;
  p.outer = x.empty() ? 1 : x[0];
  for (size_t i = 2; i < x.size(); ++i) p.inner *= x[i];
  if (x.size() < 2) {  // a vector is one channel of x.size() elements
    p.outer = 1;
    p.inner = shape_numel(x);
  }
  return p;
}

namespace {

int64_t prelu_grain(const ref::PreluParams& p) {
  return std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, p.outer * p.inner));
}

Prepared prepare_prelu(const KernelCall& c) {
  const ref::PreluParams p = prelu_params(c);
  return {[p](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float *x = fptr(in[0]), *w = fptr(in[1]);
            float* y = fptr_mut(out[0]);
            parallel_for(p.C, prelu_grain(p), [&](int64_t c0, int64_t c1) { ref::prelu(p, x, w, y, c0, c1); });
          },
          0, "ref"};
}

// One double per channel of scratch for the weight-gradient parts, summed at the end for a shared weight.
Prepared prepare_prelu_backward(const KernelCall& c) {
  const ref::PreluParams p = prelu_params(OpCall{c.op, c.attrs, {c.in[1], c.in[2]}});
  return {[p](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
            const float *g = fptr(in[0]), *x = fptr(in[1]), *w = fptr(in[2]);
            float *dx = fptr_mut(out[0]), *dw = fptr_mut(out[1]);
            double* part = static_cast<double*>(ctx.workspace);
            parallel_for(p.C, prelu_grain(p),
                         [&](int64_t c0, int64_t c1) { ref::prelu_backward(p, g, x, w, dx, part, c0, c1); });
            if (p.shared) {
              double s = 0;
              for (int64_t i = 0; i < p.C; ++i) s += part[i];
              dw[0] = float(s);
            } else {
              for (int64_t i = 0; i < p.C; ++i) dw[i] = float(part[i]);
            }
          },
          size_t(p.C) * sizeof(double), "ref"};
}

std::vector<ValueId> backward_prelu(BackwardCall& b) {
  if (b.grad_out[0] == kNoValue) return {kNoValue, kNoValue};
  std::vector<ValueId> o = b.g.add("prelu_backward", {b.grad_out[0], b.in(0), b.in(1)});
  return {b.needs_grad[0] ? o[0] : kNoValue, b.needs_grad[1] ? o[1] : kNoValue};
}

}  // namespace

// What act_params reads for each activation (its backward takes the forward's attributes).
static AttrNames act_attrs(const std::string& name) {
  if (name == "leaky_relu") return {"negative_slope"};
  if (name == "elu") return {"alpha"};
  if (name == "threshold") return {"threshold", "value"};
  if (name == "hardtanh") return {"max_val", "min_val"};
  if (name == "gelu") return {"approximate"};
  if (name == "softplus") return {"beta", "threshold"};
  if (name == "pow") return {"exponent"};
  return {};
}

void register_activation_ops(Registry& r, KernelTable& k) {
  r.add({"relu", 1, 1, infer_same,
         [](BackwardCall& b) -> std::vector<ValueId> {
           return {b.g.add1("relu_backward", {b.grad_out[0], b.out(0)})};
         },
         false, 0},
        {});
  r.add({"relu_backward", 2, 2, infer_same, nullptr, false, 0}, {});
  add_cpu_kernels(k, "relu", "activation", prepare_relu<true>, prepare_relu<false>);
  add_cpu_kernels(k, "relu_backward", "activation", prepare_relu_backward<true>, prepare_relu_backward<false>);

  for (const char* name :
       {"leaky_relu", "elu", "sigmoid", "tanh", "threshold", "hardtanh", "relu6", "gelu", "softplus", "hardsigmoid",
        "hardswish", "silu", "mish", "selu", "pow"}) {
    const std::string bwd = std::string(name) + "_backward";
    r.add({name, 1, 1, infer_act, backward_act, false, 0}, act_attrs(name));
    r.add({bwd, 2, 2, infer_act, nullptr, false, 0}, act_attrs(name));  // the forward's attributes
    add_cpu_kernels(k, name, "activation", prepare_act<true>, prepare_act<false>);
    add_cpu_kernels(k, bwd, "activation", prepare_act_backward<true>, prepare_act_backward<false>);
  }

  // prelu(input, weight) -> y; prelu_backward(grad, input, weight) -> (grad_input, grad_weight)
  r.add({"prelu", 2, 2,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           prelu_params(c);
           return {c.in[0]};
         },
         backward_prelu, false, -1},
        {});
  r.add({"prelu_backward", 3, 3,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           prelu_params(OpCall{c.op, c.attrs, {c.in[1], c.in[2]}});
           FC_CHECK(c.in[0].shape == c.in[1].shape, Value, c.op, ": grad_output has shape ", shape_str(c.in[0].shape),
                    " but input has shape ", shape_str(c.in[1].shape));
           return {c.in[1], c.in[2]};
         },
         nullptr, false, -1},
        {});
  add_cpu_kernel(k, "prelu", "activation", "ref", 0, prepare_prelu);
  add_cpu_kernel(k, "prelu_backward", "activation", "ref", 0, prepare_prelu_backward);

  for (const char* name : {"softmax", "log_softmax"}) {
    const std::string bwd = std::string(name) + "_backward";
    r.add({name, 1, 1, infer_softmax,
           [bwd](BackwardCall& b) -> std::vector<ValueId> {
             return {b.g.add1(bwd, {b.grad_out[0], b.out(0)}, b.node.attrs)};
           },
           false, 0},
          {"dim"});
    r.add({bwd, 2, 2, infer_softmax, nullptr, false, 0}, {"dim"});
    add_cpu_kernels(k, name, "activation", prepare_softmax<false, true>, prepare_softmax<false, false>);
    add_cpu_kernels(k, bwd, "activation", prepare_softmax<true, true>, prepare_softmax<true, false>);
  }
}

}  // namespace fastconv
