// Element-wise losses (mse_loss, l1_loss, smooth_l1_loss, huber_loss, binary_cross_entropy(_with_logits)): one
// fused forward op each and a backward op per differentiable input.

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

}  // namespace

namespace loss_detail {

void register_pointwise_losses(Registry& r, KernelTable& k) {
  add_pointwise<0>(r, k);
  add_pointwise<1>(r, k);
  add_pointwise<2>(r, k);
  add_pointwise<3>(r, k);
  add_pointwise<4>(r, k);
  add_pointwise<5>(r, k);
}

}  // namespace loss_detail
}  // namespace fastconv
