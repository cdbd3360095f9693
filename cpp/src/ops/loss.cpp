// Losses with torch.nn.functional's names, arguments and semantics. Each loss is one fused forward op and
// dedicated backward ops that read the saved forward values (cross_entropy saves its log-sum-exp, so softmax is
// computed once per position on the way back, not re-reduced).
//
// A shape rule never sees values: class-index targets are range-checked by the executor when they come from a graph
// input (class_index_inputs, op.h's IndexInput), and by the eager Python wrappers on NumPy targets. Out-of-range
// indices that reach a kernel make that position's loss and gradient NaN (see cpu/ref/loss_ref.h).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/loss.h"
#include "cpu/ref/loss_ref.h"
#include "fastconv/cpu_features.h"
#include "fastconv/parallel.h"
#include "ops/common.h"
#include "ops/loss.h"

namespace fastconv {
namespace {

using ref::Reduction;

Reduction reduction_of(const OpCall& c) {
  const std::string r = c.attr().get_str("reduction", "mean");
  if (r == "none") return Reduction::none;
  if (r == "mean") return Reduction::mean;
  FC_CHECK(r == "sum", Value, c.op, ": argument 'reduction' must be 'none', 'mean' or 'sum', got '", r, "'");
  return Reduction::sum;
}

// Scales the upstream gradient of a reduced loss: 1 element for mean/sum, one per position for none.
float grad_scale(Reduction r, double denom) { return r == Reduction::mean ? float(1.0 / denom) : 1.f; }

// ---------------------------------------------------------------------------------------------------------------
// cross_entropy / nll_loss: input [C] or [N, C, d1, ...]; targets are class indices (int64, the input shape without
// dim 1) or, for cross_entropy, class probabilities (float32, the input's shape).

struct ClassLayout {
  int64_t N = 1, C = 0, S = 1;
  Shape pos;  // the input shape without the class dimension
};

ClassLayout class_layout(const OpCall& c) {
  expect_dtype(c, 0, DType::f32, "input");
  const Shape& s = c.in[0].shape;
  FC_CHECK(!s.empty(), Value, c.op, ": argument 'input' must be [C] or [N, C, d1, ...], got a 0-d tensor");
  ClassLayout l;
  if (s.size() == 1) {
    l.C = s[0];
    return l;
  }
  l.N = s[0];
  l.C = s[1];
  l.pos = {s[0]};
  for (size_t i = 2; i < s.size(); ++i) {
    l.S *= s[i];
    l.pos.push_back(s[i]);
  }
  return l;
}

// Input positions: [input, target, weight?] for the forward ops.
ref::CrossEntropyParams class_params(const OpCall& c, const ClassLayout& l, size_t weight_at, bool smoothing) {
  ref::CrossEntropyParams p;
  p.N = l.N;
  p.C = l.C;
  p.S = l.S;
  p.ignore_index = c.attr().get_int("ignore_index", -100);
  p.reduction = reduction_of(c);
  if (smoothing) {
    const double eps = c.attr().get_float("label_smoothing", 0.0);
    FC_CHECK(eps >= 0.0 && eps <= 1.0, Value, c.op, ": argument 'label_smoothing' must be in [0, 1], got ", eps);
    p.label_smoothing = float(eps);
  }
  if (c.in.size() > weight_at) {
    expect_dtype(c, weight_at, DType::f32, "weight");
    FC_CHECK(c.in[weight_at].shape == Shape{l.C}, Value, c.op, ": argument 'weight' must have shape [", l.C,
             "] (one weight per class of input shape ", shape_str(c.in[0].shape), "), got ",
             shape_str(c.in[weight_at].shape));
  }
  return p;
}

// Validates the target (input 1) and returns whether it holds probabilities.
bool check_target(const OpCall& c, const ClassLayout& l, bool allow_prob) {
  const TensorDesc& t = c.in[1];
  if (t.dtype == DType::f32 && allow_prob) {
    FC_CHECK(t.shape == c.in[0].shape, Value, c.op, ": a probability target (float32) must have the input's shape ",
             shape_str(c.in[0].shape), ", got ", shape_str(t.shape),
             "; class-index targets must be int64 with shape ", shape_str(l.pos));
    FC_CHECK(c.attr().get_int("ignore_index", -100) == -100, Value, c.op,
             ": argument 'ignore_index' is not supported with probability targets, got ",
             c.attr().get_int("ignore_index", -100));
    return true;
  }
  FC_CHECK(t.dtype == DType::i64, Type, c.op, ": argument 'target' must be int64 class indices",
           allow_prob ? " or float32 class probabilities" : "", ", got dtype ", dtype_name(t.dtype));
  FC_CHECK(t.shape == l.pos, Value, c.op, ": target shape ", shape_str(t.shape), " does not match input shape ",
           shape_str(c.in[0].shape), "; class-index targets must have shape ", shape_str(l.pos),
           " (the input shape without the class dimension)");
  return false;
}

std::vector<TensorDesc> infer_cross_entropy(const OpCall& c) {
  ClassLayout l = class_layout(c);
  check_target(c, l, true);
  ref::CrossEntropyParams p = class_params(c, l, 2, true);
  Shape loss = p.reduction == Reduction::none ? l.pos : Shape{};
  // The saved log-sum-exp: max and log-sum per position (cpu/ref/loss_ref.h says why two numbers).
  return {{loss, DType::f32}, {{2 * l.N * l.S}, DType::f32}};
}

// Vec: the active ISA's blocked kernels (cpu/loss_ce.cpp) where it has them; else the reference.
template <bool Vec>
Prepared prepare_cross_entropy(const KernelCall& c) {
  ClassLayout l = class_layout(c);
  const bool prob = check_target(c, l, true), weighted = c.in.size() > 2;
  const ref::CrossEntropyParams p = class_params(c, l, 2, true);
  auto args = [=](const std::vector<Tensor>& in) {
    return std::make_tuple(fptr(in[0]), prob ? nullptr : in[1].data<const int64_t>(), prob ? fptr(in[1]) : nullptr,
                           weighted ? fptr(in[2]) : nullptr);
  };
  const Isa isa = active_isa();
  const cpu::CeKernels fast = Vec ? cpu::ce_kernels(isa) : cpu::CeKernels{};
  if (!fast.stats)
    return {[=](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
              auto [x, ti, tp, w] = args(in);
              ref::cross_entropy(p, x, ti, tp, w, fptr_mut(out[0]), fptr_mut(out[1]));
            },
            0, "ref"};
  const size_t ws = cpu::cross_entropy_workspace(p);
  return {[=](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
            auto [x, ti, tp, w] = args(in);
            cpu::cross_entropy(fast, p, x, ti, tp, w, fptr_mut(out[0]), fptr_mut(out[1]),
                               static_cast<float*>(ctx.workspace));
          },
          ws, std::string("vec__") + isa_name(isa)};
}

// cross_entropy_backward(grad, input, target, lse, weight?) -> d input
std::vector<TensorDesc> infer_cross_entropy_backward(const OpCall& c) {
  std::vector<TensorDesc> fwd{c.in[1], c.in[2]};
  if (c.in.size() > 4) fwd.push_back(c.in[4]);
  const std::vector<TensorDesc> f = infer_cross_entropy(OpCall{c.op, c.attrs, fwd});
  // The kernels read the saved statistics unchecked: they must be the forward's, in shape and dtype.
  FC_CHECK(c.in[3] == f[1], Value, c.op, ": argument 'lse' must be ", desc_str(f[1]),
           " (the forward's saved statistics), got ", desc_str(c.in[3]));
  return {c.in[1]};
}

template <bool Vec>
Prepared prepare_cross_entropy_backward(const KernelCall& c) {
  std::vector<TensorDesc> fwd{c.in[1], c.in[2]};
  if (c.in.size() > 4) fwd.push_back(c.in[4]);
  OpCall fc{c.op, c.attrs, fwd};
  ClassLayout l = class_layout(fc);
  const bool prob = check_target(fc, l, true), weighted = c.in.size() > 4;
  const ref::CrossEntropyParams p = class_params(fc, l, 2, true);
  const Isa isa = active_isa();
  const cpu::CeKernels fast = Vec ? cpu::ce_kernels(isa) : cpu::CeKernels{};
  auto run = [=](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
    const int64_t* ti = prob ? nullptr : in[2].data<const int64_t>();
    const float* tp = prob ? fptr(in[2]) : nullptr;
    const float* w = weighted ? fptr(in[4]) : nullptr;
    if (fast.grad)
      cpu::cross_entropy_backward(fast, p, fptr(in[0]), fptr(in[1]), ti, tp, w, fptr(in[3]), fptr_mut(out[0]),
                                  static_cast<float*>(ctx.workspace));
    else
      ref::cross_entropy_backward(p, fptr(in[0]), fptr(in[1]), ti, tp, w, fptr(in[3]), fptr_mut(out[0]));
  };
  if (!fast.grad) return {run, 0, "ref"};
  return {run, cpu::cross_entropy_workspace(p), std::string("vec__") + isa_name(isa)};
}

// cross_entropy_target_backward(grad, input, target, lse, weight?) -> d target (probability targets only)
Prepared prepare_cross_entropy_target_backward(const KernelCall& c) {
  std::vector<TensorDesc> fwd{c.in[1], c.in[2]};
  if (c.in.size() > 4) fwd.push_back(c.in[4]);
  OpCall fc{c.op, c.attrs, fwd};
  const ref::CrossEntropyParams p = class_params(fc, class_layout(fc), 2, true);
  const bool weighted = c.in.size() > 4;
  return {[=](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            ref::cross_entropy_target_backward(p, fptr(in[0]), fptr(in[1]), weighted ? fptr(in[4]) : nullptr,
                                               fptr(in[3]), fptr_mut(out[0]));
          },
          0, "ref"};
}

std::vector<TensorDesc> infer_cross_entropy_target_backward(const OpCall& c) {
  infer_cross_entropy_backward(c);
  return {c.in[2]};
}

void no_weight_grad(const BackwardCall& b, size_t at) {
  FC_CHECK(b.node.inputs.size() <= at || !b.needs_grad[at], NotImplemented, b.node.op,
           ": the gradient with respect to 'weight' is not implemented (PyTorch does not define it either)");
}

std::vector<ValueId> backward_cross_entropy(BackwardCall& b) {
  no_weight_grad(b, 2);
  std::vector<ValueId> g(b.node.inputs.size(), kNoValue);
  std::vector<ValueId> ins{b.grad_out[0], b.in(0), b.in(1), b.out(1)};
  if (g.size() > 2) ins.push_back(b.in(2));
  if (b.needs_grad[0]) g[0] = b.g.add1("cross_entropy_backward", ins, b.node.attrs);
  if (b.needs_grad[1]) {
    FC_CHECK(b.desc(b.in(1)).dtype == DType::f32, Type, "cross_entropy: class-index targets have no gradient");
    g[1] = b.g.add1("cross_entropy_target_backward", ins, b.node.attrs);
  }
  return g;
}

std::vector<TensorDesc> infer_nll_loss(const OpCall& c) {
  ClassLayout l = class_layout(c);
  check_target(c, l, false);
  ref::CrossEntropyParams p = class_params(c, l, 2, false);
  return {{p.reduction == Reduction::none ? l.pos : Shape{}, DType::f32}};
}

}  // namespace

CeCall cross_entropy_call(const OpCall& c) {
  const ClassLayout l = class_layout(c);
  CeCall r;
  r.prob = check_target(c, l, true);
  r.weighted = c.in.size() > 2;
  r.p = class_params(c, l, 2, true);
  return r;
}

CeCall cross_entropy_backward_call(const OpCall& c) {
  std::vector<TensorDesc> fwd{c.in[1], c.in[2]};
  if (c.in.size() > 4) fwd.push_back(c.in[4]);
  CeCall r = cross_entropy_call(OpCall{c.op, c.attrs, fwd});
  return r;
}

CeCall nll_loss_call(const OpCall& c) {
  const ClassLayout l = class_layout(c);
  CeCall r;
  check_target(c, l, false);
  r.weighted = c.in.size() > 2;
  r.p = class_params(c, l, 2, false);
  return r;
}

CeCall nll_loss_backward_call(const OpCall& c) {
  std::vector<TensorDesc> fwd(c.in.begin() + 1, c.in.end());
  return nll_loss_call(OpCall{c.op, c.attrs, fwd});
}

namespace {

// The executor checks class-index targets that come straight from a graph input (op.h: IndexInput).
std::vector<IndexInput> class_index_inputs(const OpCall& c) {
  if (c.in.size() < 2 || c.in[1].dtype != DType::i64) return {};
  return {{1, "target", 0, class_layout(c).C, true, c.attr().get_int("ignore_index", -100), "class indices"}};
}

Prepared prepare_nll_loss(const KernelCall& c) {
  const ref::CrossEntropyParams p = class_params(c, class_layout(c), 2, false);
  const bool weighted = c.in.size() > 2;
  return {[=](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            ref::nll_loss(p, fptr(in[0]), in[1].data<const int64_t>(), weighted ? fptr(in[2]) : nullptr,
                          fptr_mut(out[0]));
          },
          0, "ref"};
}

// nll_loss_backward(grad, input, target, weight?) -> d input (input is read only for its shape)
std::vector<TensorDesc> infer_nll_loss_backward(const OpCall& c) {
  std::vector<TensorDesc> fwd(c.in.begin() + 1, c.in.end());
  infer_nll_loss(OpCall{c.op, c.attrs, fwd});
  return {c.in[1]};
}

Prepared prepare_nll_loss_backward(const KernelCall& c) {
  std::vector<TensorDesc> fwd(c.in.begin() + 1, c.in.end());
  OpCall fc{c.op, c.attrs, fwd};
  const ref::CrossEntropyParams p = class_params(fc, class_layout(fc), 2, false);
  const bool weighted = c.in.size() > 3;
  return {[=](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            ref::nll_loss_backward(p, fptr(in[0]), in[2].data<const int64_t>(), weighted ? fptr(in[3]) : nullptr,
                                   fptr_mut(out[0]));
          },
          0, "ref"};
}

// ---------------------------------------------------------------------------------------------------------------
// Element-wise losses: l(input, target) per element, times an optional weight; pos_weight for the logits BCE.
// Inputs: [input, target, weight if has_weight, pos_weight if has_pos_weight], all float32 of the input's shape
// (the Python wrappers broadcast weight and pos_weight first).

struct PointwiseOp {
  const char* name;
  ref::PointwiseLoss kind;
  const char* beta_attr;  // smooth_l1's beta / huber's delta, or null
  bool weight, pos_weight;
  bool mean_by_weight;  // weighted 'mean' divides by sum(weight) (torch's mse/l1), else by numel
};
constexpr PointwiseOp kPointwise[] = {
    {"mse_loss", ref::PointwiseLoss::mse, nullptr, true, false, true},
    {"l1_loss", ref::PointwiseLoss::l1, nullptr, true, false, true},
    {"smooth_l1_loss", ref::PointwiseLoss::smooth_l1, "beta", false, false, false},
    {"huber_loss", ref::PointwiseLoss::huber, "delta", true, false, false},
    {"binary_cross_entropy", ref::PointwiseLoss::bce, nullptr, true, false, false},
    {"binary_cross_entropy_with_logits", ref::PointwiseLoss::bce_logits, nullptr, true, true, false},
};

PointwiseCall pointwise_call(const OpCall& c, const PointwiseOp& op, size_t first) {
  PointwiseCall pc;
  pc.p.kind = op.kind;
  pc.reduction = reduction_of(c);
  if (op.beta_attr) {
    const double beta = c.attr().get_float(op.beta_attr, 1.0);
    if (op.kind == ref::PointwiseLoss::huber)
      FC_CHECK(beta > 0, Value, c.op, ": argument 'delta' must be positive, got ", beta);
    else
      FC_CHECK(beta >= 0, Value, c.op, ": argument 'beta' must be non-negative, got ", beta);
    pc.p.beta = float(beta);
  }
  const bool hw = op.weight && c.attr().get_bool("has_weight", false);
  const bool hpw = op.pos_weight && c.attr().get_bool("has_pos_weight", false);
  const size_t n = 2 + hw + hpw;
  FC_CHECK(c.in.size() == first + n, Value, c.op, ": expected ", first + n, " inputs, got ", c.in.size());
  const char* names[] = {"input", "target", hw ? "weight" : "pos_weight", "pos_weight"};
  const Shape& s = c.in[first].shape;
  for (size_t i = 0; i < n; ++i) {
    FC_CHECK(c.in[first + i].dtype == DType::f32, Type, c.op, ": argument '", names[i],
             "' must have dtype float32, got ", dtype_name(c.in[first + i].dtype));
    FC_CHECK(c.in[first + i].shape == s, Value, c.op, ": argument '", names[i], "' has shape ",
             shape_str(c.in[first + i].shape), " but input has shape ", shape_str(s),
             i == 1 ? " (target must have the input's shape)" : " (broadcast it to the input's shape first)");
  }
  if (hw) pc.weight_at = 2;
  pc.mean_by_weight = hw && op.mean_by_weight && pc.reduction == Reduction::mean;
  if (hpw) pc.pos_weight_at = hw ? 3 : 2;
  return pc;
}

}  // namespace

PointwiseCall pointwise_loss_call(const OpCall& c, size_t first) {
  const std::string base = c.op.size() > 9 && c.op.compare(c.op.size() - 9, 9, "_backward") == 0
                               ? c.op.substr(0, c.op.size() - 9)
                               : c.op;
  for (const PointwiseOp& op : kPointwise)
    if (base == op.name) return pointwise_call(c, op, first);
  fail(ErrorKind::Value, c.op, ": not an element-wise loss");
}

std::vector<std::string> pointwise_loss_names() {
  std::vector<std::string> out;
  for (const PointwiseOp& op : kPointwise) out.push_back(op.name);
  return out;
}

namespace {

constexpr int64_t kChunk = 1 << 14;

template <size_t I>
std::vector<TensorDesc> infer_pointwise(const OpCall& c) {
  PointwiseCall pc = pointwise_call(c, kPointwise[I], 0);
  return {{pc.reduction == Reduction::none ? c.in[0].shape : Shape{}, DType::f32}};
}

const float* opt(const std::vector<Tensor>& in, int at, size_t first) {
  return at < 0 ? nullptr : fptr(in[first + size_t(at)]);
}

template <size_t I>
Prepared prepare_pointwise(const KernelCall& c) {
  const PointwiseCall pc = pointwise_call(c, kPointwise[I], 0);
  const int64_t n = shape_numel(c.in[0].shape), chunks = (n + kChunk - 1) / kChunk;
  // Per-chunk partial sums in double, added in chunk order: the same total on any thread count.
  const size_t ws = pc.reduction == Reduction::none ? 0 : size_t(2 * std::max<int64_t>(chunks, 1)) * sizeof(double);
  return {[=](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
            const float *x = fptr(in[0]), *t = fptr(in[1]), *w = opt(in, pc.weight_at, 0),
                        *pw = opt(in, pc.pos_weight_at, 0);
            float* y = fptr_mut(out[0]);
            double* part = static_cast<double*>(ctx.workspace);
            parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
              float buf[1024];
              for (int64_t ch = b; ch < e; ++ch) {
                const int64_t lo = ch * kChunk, hi = std::min(n, lo + kChunk);
                if (pc.reduction == Reduction::none) {
                  ref::pointwise_loss(pc.p, x + lo, t + lo, w ? w + lo : nullptr, pw ? pw + lo : nullptr, hi - lo,
                                      y + lo);
                  continue;
                }
                double s = 0, sw = 0;
                for (int64_t i = lo; i < hi; i += 1024) {
                  const int64_t m = std::min<int64_t>(1024, hi - i);
                  ref::pointwise_loss(pc.p, x + i, t + i, w ? w + i : nullptr, pw ? pw + i : nullptr, m, buf);
                  for (int64_t k = 0; k < m; ++k) s += buf[k];
                }
                if (pc.mean_by_weight)
                  for (int64_t i = lo; i < hi; ++i) sw += w[i];
                part[2 * ch] = s;
                part[2 * ch + 1] = sw;
              }
            });
            if (pc.reduction == Reduction::none) return;
            double s = 0, sw = 0;
            for (int64_t ch = 0; ch < chunks; ++ch) {
              s += part[2 * ch];
              sw += part[2 * ch + 1];
            }
            const double denom = pc.mean_by_weight ? sw : double(n);
            y[0] = float(pc.reduction == Reduction::mean ? s / denom : s);  // empty mean: 0/0 = NaN, as torch
          },
          ws, "ref"};
}

// <loss>_backward(grad, input, target, weight?, pos_weight?) with attribute wrt = 'input' | 'target'.
template <size_t I>
std::vector<TensorDesc> infer_pointwise_backward(const OpCall& c) {
  PointwiseCall pc = pointwise_call(c, kPointwise[I], 1);
  const Shape g = pc.reduction == Reduction::none ? c.in[1].shape : Shape{};
  FC_CHECK(c.in[0].shape == g, Value, c.op, ": grad shape ", shape_str(c.in[0].shape), " should be ", shape_str(g));
  return {c.in[1]};
}

template <size_t I>
Prepared prepare_pointwise_backward(const KernelCall& c) {
  const PointwiseCall pc = pointwise_call(c, kPointwise[I], 1);
  const bool wrt_target = c.attr().get_str("wrt") == "target";
  const int64_t n = shape_numel(c.in[1].shape), chunks = (n + kChunk - 1) / kChunk;
  const int64_t gs = pc.reduction == Reduction::none ? 1 : 0;
  return {[=](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float *g = fptr(in[0]), *x = fptr(in[1]), *t = fptr(in[2]), *w = opt(in, pc.weight_at, 1),
                        *pw = opt(in, pc.pos_weight_at, 1);
            double denom = double(n);
            if (pc.mean_by_weight) {
              denom = 0;
              for (int64_t i = 0; i < n; ++i) denom += w[i];
            }
            const float scale = grad_scale(pc.reduction, denom);
            float* dx = fptr_mut(out[0]);
            parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
              const int64_t lo = b * kChunk, hi = std::min(n, e * kChunk);
              ref::pointwise_loss_backward(pc.p, wrt_target, g + lo * gs, gs, scale, x + lo, t + lo,
                                           w ? w + lo : nullptr, pw ? pw + lo : nullptr, hi - lo, dx + lo);
            });
          },
          0, "ref"};
}

std::vector<ValueId> backward_pointwise(BackwardCall& b, const PointwiseOp& op) {
  const size_t n = b.node.inputs.size();
  for (size_t i = 2; i < n; ++i)
    FC_CHECK(!b.needs_grad[i], NotImplemented, op.name,
             ": the gradient with respect to 'weight'/'pos_weight' is not implemented (PyTorch does not define it)");
  std::vector<ValueId> ins{b.grad_out[0]};
  ins.insert(ins.end(), b.node.inputs.begin(), b.node.inputs.end());
  std::vector<ValueId> g(n, kNoValue);
  const std::string bw = std::string(op.name) + "_backward";
  for (int k = 0; k < 2; ++k)
    if (b.needs_grad[size_t(k)]) {
      Attrs a = b.node.attrs;
      a.set("wrt", std::string(k ? "target" : "input"));
      g[size_t(k)] = b.g.add1(bw, ins, a);
    }
  return g;
}

template <size_t I>
void add_pointwise(Registry& r, KernelTable& k) {
  const PointwiseOp& op = kPointwise[I];
  const std::string bwd = std::string(op.name) + "_backward";
  AttrNames attrs{"reduction"};  // what pointwise_call reads for this op
  if (op.beta_attr) attrs.push_back(op.beta_attr);
  if (op.weight) attrs.push_back("has_weight");
  if (op.pos_weight) attrs.push_back("has_pos_weight");
  r.add({op.name, 2, 4, infer_pointwise<I>, [](BackwardCall& b) { return backward_pointwise(b, kPointwise[I]); },
         false, -1},
        attrs);
  r.add({bwd, 3, 5, infer_pointwise_backward<I>, nullptr, false, -1}, attr_names_plus(attrs, {"wrt"}));
  add_cpu_kernel(k, op.name, "loss", "ref", 0, prepare_pointwise<I>);
  add_cpu_kernel(k, bwd, "loss", "ref", 0, prepare_pointwise_backward<I>);
}

// An op of this family with its one CPU kernel ("ref"), registered together.
struct LossOp {
  std::string name;
  int min_inputs, max_inputs;
  std::function<std::vector<TensorDesc>(const OpCall&)> infer;
  std::function<Prepared(const KernelCall&)> prepare;
  std::function<std::vector<ValueId>(BackwardCall&)> backward;
  bool side_effects;
  int inplace_input;
  std::function<std::vector<IndexInput>(const OpCall&)> index_inputs = nullptr;
};
void add_op(Registry& r, KernelTable& k, AttrNames attrs, LossOp d) {
  r.add({d.name, d.min_inputs, d.max_inputs, d.infer, d.backward, d.side_effects, d.inplace_input, false,
         d.index_inputs},
        std::move(attrs));
  add_cpu_kernel(k, d.name, "loss", "ref", 0, d.prepare);
}

// ---------------------------------------------------------------------------------------------------------------
// triplet_margin_loss(anchor, positive, negative): rows of [N, D] (or one row [D]).

}  // namespace

ref::TripletParams triplet_params(const OpCall& c, size_t first) {
  const Shape& s = c.in[first].shape;
  const char* names[] = {"anchor", "positive", "negative"};
  for (size_t i = 0; i < 3; ++i) {
    expect_dtype(c, first + i, DType::f32, names[i]);
    FC_CHECK(c.in[first + i].shape == s, Value, c.op, ": argument '", names[i], "' has shape ",
             shape_str(c.in[first + i].shape), " but anchor has shape ", shape_str(s));
  }
  FC_CHECK(s.size() == 1 || s.size() == 2, Value, c.op, ": inputs must be [N, D] or [D], got shape ", shape_str(s));
  ref::TripletParams q;
  q.N = s.size() == 2 ? s[0] : 1;
  q.D = s.back();
  q.margin = float(c.attr().get_float("margin", 1.0));
  FC_CHECK(q.margin > 0, Value, c.op, ": argument 'margin' must be greater than 0, got ", q.margin);
  q.p = float(c.attr().get_float("p", 2.0));
  FC_CHECK(q.p > 0 && std::isfinite(q.p), Value, c.op, ": argument 'p' must be a positive finite norm degree, got ",
           q.p);
  q.eps = float(c.attr().get_float("eps", 1e-6));
  q.swap = c.attr().get_bool("swap", false);
  q.reduction = reduction_of(c);
  return q;
}

namespace {

Shape triplet_out(const OpCall& c, const ref::TripletParams& q, size_t first) {
  return q.reduction == Reduction::none && c.in[first].shape.size() == 2 ? Shape{q.N} : Shape{};
}

// ---------------------------------------------------------------------------------------------------------------
// cosine_similarity(x1, x2, dim, eps): the input seen as [O, D, I] around `dim`.

}  // namespace

ref::CosineParams cosine_params(const OpCall& c, size_t first, Shape* out) {
  expect_dtype(c, first, DType::f32, "x1");
  expect_dtype(c, first + 1, DType::f32, "x2");
  const Shape& s = c.in[first].shape;
  FC_CHECK(c.in[first + 1].shape == s, Value, c.op, ": x1 has shape ", shape_str(s), " but x2 has shape ",
           shape_str(c.in[first + 1].shape), " (broadcast them to one shape first)");
  FC_CHECK(!s.empty(), Value, c.op, ": inputs must have at least 1 dimension");
  const int64_t dim = normalize_axis(c.op, c.attr().get_int("dim", 1), int64_t(s.size()));
  ref::CosineParams q;
  q.eps = float(c.attr().get_float("eps", 1e-8));
  q.D = s[size_t(dim)];
  q.O = 1;
  for (int64_t i = 0; i < dim; ++i) q.O *= s[size_t(i)];
  for (size_t i = size_t(dim) + 1; i < s.size(); ++i) q.I *= s[i];
  if (out) {
    *out = s;
    out->erase(out->begin() + dim);
  }
  return q;
}

namespace {

}  // namespace

void register_loss_ops(Registry& r, KernelTable& k) {
  const AttrNames ce{"ignore_index", "label_smoothing", "reduction"};  // the backward ops take the forward's attributes
  r.add({"cross_entropy", 2, 3, infer_cross_entropy, backward_cross_entropy, false, -1, false, class_index_inputs}, ce);
  r.add({"cross_entropy_backward", 4, 5, infer_cross_entropy_backward, nullptr, false, -1}, ce);
  add_cpu_kernels(k, "cross_entropy", "loss", prepare_cross_entropy<true>, prepare_cross_entropy<false>);
  add_cpu_kernels(k, "cross_entropy_backward", "loss", prepare_cross_entropy_backward<true>,
                  prepare_cross_entropy_backward<false>);
  add_op(r, k, ce, {"cross_entropy_target_backward", 4, 5, infer_cross_entropy_target_backward,
                prepare_cross_entropy_target_backward, nullptr, false, -1});
  add_op(r, k, {"ignore_index", "reduction"}, {"nll_loss", 2, 3, infer_nll_loss, prepare_nll_loss,
         [](BackwardCall& b) -> std::vector<ValueId> {
           no_weight_grad(b, 2);
           std::vector<ValueId> g(b.node.inputs.size(), kNoValue);
           std::vector<ValueId> ins{b.grad_out[0], b.in(0), b.in(1)};
           if (g.size() > 2) ins.push_back(b.in(2));
           if (b.needs_grad[0]) g[0] = b.g.add1("nll_loss_backward", ins, b.node.attrs);
           return g;
         },
         false, -1, class_index_inputs});
  add_op(r, k, {"ignore_index", "reduction"}, {"nll_loss_backward", 3, 4, infer_nll_loss_backward, prepare_nll_loss_backward, nullptr, false, -1});

  add_pointwise<0>(r, k);
  add_pointwise<1>(r, k);
  add_pointwise<2>(r, k);
  add_pointwise<3>(r, k);
  add_pointwise<4>(r, k);
  add_pointwise<5>(r, k);

  add_op(r, k, {"eps", "margin", "p", "reduction", "swap"}, {"triplet_margin_loss", 3, 3,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           return {{triplet_out(c, triplet_params(c, 0), 0), DType::f32}};
         },
         [](const KernelCall& c) -> Prepared {
           const ref::TripletParams q = triplet_params(c, 0);
           return {[q](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
                     ref::triplet_margin_loss(q, fptr(in[0]), fptr(in[1]), fptr(in[2]), fptr_mut(out[0]));
                   },
                   0, "ref"};
         },
         [](BackwardCall& b) -> std::vector<ValueId> {
           std::vector<ValueId> outs = b.g.add("triplet_margin_loss_backward",
                                               {b.grad_out[0], b.in(0), b.in(1), b.in(2)}, b.node.attrs);
           for (size_t i = 0; i < 3; ++i)
             if (!b.needs_grad[i]) outs[i] = kNoValue;
           return outs;
         },
         false, -1});
  // triplet_margin_loss_backward(grad, anchor, positive, negative) -> (d anchor, d positive, d negative)
  add_op(r, k, {"eps", "margin", "p", "reduction", "swap"}, {"triplet_margin_loss_backward", 4, 4,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           ref::TripletParams q = triplet_params(c, 1);
           FC_CHECK(c.in[0].shape == triplet_out(c, q, 1), Value, c.op, ": bad grad shape ", shape_str(c.in[0].shape));
           return {c.in[1], c.in[1], c.in[1]};
         },
         [](const KernelCall& c) -> Prepared {
           const ref::TripletParams q = triplet_params(c, 1);
           return {[q](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
                     ref::triplet_margin_loss_backward(q, fptr(in[0]), fptr(in[1]), fptr(in[2]), fptr(in[3]),
                                                       fptr_mut(out[0]), fptr_mut(out[1]), fptr_mut(out[2]));
                   },
                   0, "ref"};
         },
         nullptr, false, -1});

  add_op(r, k, {"dim", "eps"}, {"cosine_similarity", 2, 2,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           Shape out;
           cosine_params(c, 0, &out);
           return {{out, DType::f32}};
         },
         [](const KernelCall& c) -> Prepared {
           const ref::CosineParams q = cosine_params(c, 0, nullptr);
           return {[q](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
                     parallel_for(q.O, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, q.D * q.I)),
                                  [&](int64_t b, int64_t e) {
                       ref::CosineParams part = q;
                       part.O = e - b;
                       ref::cosine_similarity(part, fptr(in[0]) + b * q.D * q.I, fptr(in[1]) + b * q.D * q.I,
                                              fptr_mut(out[0]) + b * q.I);
                     });
                   },
                   0, "ref"};
         },
         [](BackwardCall& b) -> std::vector<ValueId> {
           std::vector<ValueId> outs =
               b.g.add("cosine_similarity_backward", {b.grad_out[0], b.in(0), b.in(1)}, b.node.attrs);
           for (size_t i = 0; i < 2; ++i)
             if (!b.needs_grad[i]) outs[i] = kNoValue;
           return outs;
         },
         false, -1});
  // cosine_similarity_backward(grad, x1, x2) -> (d x1, d x2)
  add_op(r, k, {"dim", "eps"}, {"cosine_similarity_backward", 3, 3,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           Shape out;
           cosine_params(c, 1, &out);
           FC_CHECK(c.in[0].shape == out, Value, c.op, ": grad shape ", shape_str(c.in[0].shape), " should be ",
                    shape_str(out));
           return {c.in[1], c.in[1]};
         },
         [](const KernelCall& c) -> Prepared {
           const ref::CosineParams q = cosine_params(c, 1, nullptr);
           return {[q](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
                     parallel_for(q.O, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, q.D * q.I)),
                                  [&](int64_t b, int64_t e) {
                       ref::CosineParams part = q;
                       part.O = e - b;
                       const int64_t o = b * q.D * q.I;
                       ref::cosine_similarity_backward(part, fptr(in[0]) + b * q.I, fptr(in[1]) + o, fptr(in[2]) + o,
                                                       fptr_mut(out[0]) + o, fptr_mut(out[1]) + o);
                     });
                   },
                   0, "ref"};
         },
         nullptr, false, -1});
}

}  // namespace fastconv
