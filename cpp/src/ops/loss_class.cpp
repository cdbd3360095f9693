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
#include "ops/loss_common.h"

namespace fastconv {
using namespace loss_detail;

namespace {

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

}  // namespace

// Every loss op: the class losses here, the element-wise and pair losses in loss_pointwise.cpp and loss_pair.cpp.
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

  register_pointwise_losses(r, k);
  register_pair_losses(r, k);
}

}  // namespace fastconv
