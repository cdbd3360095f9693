// Fused ops: created only by the fusion patterns (fused_patterns.cpp, applied by graph/fuse.cpp), never traced, so none has a backward rule. Each
// one reuses the kernels of the ops it replaces and must give what the unfused nodes give:
//   conv{1,2,3}d_fused  (x, w, [bias], [residual]) -> relu?(conv(x, w, bias) + residual)
//       attrs: the conv's, plus has_bias, has_residual, relu. The conv runs the algorithm the conv would; on the GEMM
//       paths the residual add and ReLU run inside the kernel's per-image loop (cache-hot), on the others in one
//       threaded pass over the output after the kernel.
//   conv_bn_fold  (w, [conv_bias], running_mean, running_var, [gamma], [beta]) -> (w', b')
//       eval batch norm folded into the conv before it: w'[k] = w[k] * s[k], b' = (b - mean) * s + beta with
//       s = gamma / sqrt(var + eps). attrs: has_conv_bias, has_weight, has_bias, eps.
//   batch_norm_relu  batch_norm's inputs, attributes and outputs; y = relu(bn(x)), applied per channel block
//       while it is in cache. Side effects: the running statistics.
//   batch_norm_add_relu  the same plus a last input `residual`: y = relu(bn(x) + residual) (ResNet's block end).
//   batch_norm_relu_backward  (grad, y, x, [weight], save_mean, save_invstd) -> (dx, dweight, dbias)
//       batch_norm_backward of grad * (y > 0): the mask is written into dx per channel block, which the
//       backward kernel then reads as its gradient (it reads each element before writing it).
#include <algorithm>
#include <cmath>

#include "cpu/activation.h"
#include "cpu/norm.h"
#include "cpu/ref/eltwise_ref.h"
#include "cpu/ref/norm_ref.h"
#include "fastconv/cpu_features.h"
#include "fastconv/parallel.h"
#include "ops/common.h"
#include "ops/conv_common.h"
#include "ops/conv_weight_cache.h"
#include "ops/norm.h"

namespace fastconv {
namespace {

using Ints = std::vector<int64_t>;

// ---- conv*d_fused ------------------------------------------------------------------------------------------------

struct ConvFusedCall {
  std::string base;  // "conv2d"
  Attrs attrs;       // the conv's own attributes
  std::vector<TensorDesc> in;
  bool bias = false, residual = false, relu = false;
};

ConvFusedCall split(const OpCall& c) {
  ConvFusedCall f;
  f.base = c.op.substr(0, c.op.size() - std::string("_fused").size());
  AttrReader a = c.attr();
  f.bias = a.get_bool("has_bias", false);
  f.residual = a.get_bool("has_residual", false);
  f.relu = a.get_bool("relu", false);
  for (const auto& [k, v] : c.attrs.items())
    if (k != "has_bias" && k != "has_residual" && k != "relu") f.attrs.set(k, v);
  const size_t want = 2 + size_t(f.bias) + size_t(f.residual);
  FC_CHECK(c.in.size() == want, Value, c.op, ": expected ", want, " inputs (input, weight", f.bias ? ", bias" : "",
           f.residual ? ", residual" : "", "), got ", c.in.size());
  f.in.assign(c.in.begin(), c.in.begin() + 2 + long(f.bias));
  return f;
}

std::vector<TensorDesc> infer_conv_fused(const OpCall& c) {
  const ConvFusedCall f = split(c);
  const std::vector<TensorDesc> out = Registry::global().get(f.base).infer(OpCall{f.base, f.attrs, f.in});
  if (f.residual)
    FC_CHECK(c.in.back() == out[0], Value, c.op, ": argument 'residual' must be ", desc_str(out[0]),
             " (the convolution's output), got ", desc_str(c.in.back()));
  return out;
}

// y = relu?(y + residual) over planes [p0, p1) of `plane` floats.
void epilogue(float* y, const float* r, bool relu, cpu::UnaryKernel relu_k, int64_t plane, int64_t p0, int64_t p1) {
  float* yp = y + p0 * plane;
  const int64_t n = (p1 - p0) * plane;
  if (r) {
    const float* rp = r + p0 * plane;
    for (int64_t i = 0; i < n; ++i) yp[i] += rp[i];
  }
  if (relu) relu_k(yp, yp, n);
}

// The geometry for the GEMM paths, when the attributes are plain integers (no padding mode, no internal
// out_size); false otherwise, and the fused op then runs the conv's own prepared kernel.
bool gemm_geometry(const ConvFusedCall& f, const Shape& ys, cpu::ConvParams* p) {
  if (f.attrs.has("out_size")) return false;
  if (const AttrValue* v = f.attrs.find("padding"); v && std::holds_alternative<std::string>(*v)) return false;
  const int nd = f.base[4] - '0';
  AttrReader a(f.base, f.attrs);
  const Ints stride = a.get_ints("stride", size_t(nd), 1), dil = a.get_ints("dilation", size_t(nd), 1);
  Ints pad = a.get_ints("padding", size_t(nd), 0);
  if (a.has("pads")) {  // begin pads; the end pads only set the output size, which ys already has
    const Ints pe = a.get_ints("pads", size_t(2 * nd));
    pad.assign(pe.begin(), pe.begin() + nd);
  }
  const Shape &xs = f.in[0].shape, &ws = f.in[1].shape;
  p->N = xs[0], p->C = xs[1], p->K = ws[0], p->groups = a.get_int("groups", 1);
  for (int i = 0; i < nd; ++i) {
    const int ax = 3 - nd + i;
    const size_t u = size_t(i), s = size_t(i) + 2;
    p->in[ax] = xs[s], p->out[ax] = ys[s], p->k[ax] = ws[s];
    p->stride[ax] = stride[u], p->dil[ax] = dil[u], p->pad[ax] = pad[u];
  }
  return true;
}

// im2col_gemm / gemm_1x1: the epilogue runs inside the kernel's per-image loop, right after each image's GEMM (or
// in the scatter of a batched chunk). `algo`: what the table picked for the conv itself.
bool prepare_gemm_epilogue(const ConvFusedCall& f, const Shape& ys, conv::Algo algo, const conv::KernelConfig& cfg,
                           Prepared* out) {
  cpu::ConvParams p;
  if (!gemm_geometry(f, ys, &p)) return false;
  if (algo != conv::Algo::im2col_gemm && algo != conv::Algo::gemm_1x1) return false;
  const bool i2c = algo == conv::Algo::im2col_gemm;
  const cpu::GemmPlan slots = i2c ? cpu::conv_im2col_gemm_plan(p, cpu::ConvPass::forward, cfg.isa, cfg.threads)
                                  : cpu::conv_gemm_1x1_plan(p, cpu::ConvPass::forward, cfg.isa, cfg.threads);
  const size_t ws = i2c ? cpu::conv_im2col_gemm_workspace(p, cpu::ConvPass::forward, slots)
                        : cpu::conv_gemm_1x1_workspace(p, cpu::ConvPass::forward, slots);
  const bool bias = f.bias, residual = f.residual, relu = f.relu;
  const conv::ForwardWeights pw =
      cfg.packed_weights ? conv::forward_weights(p, slots) : conv::ForwardWeights{p, slots, nullptr};
  out->run = [p, i2c, slots, bias, residual, relu, pw](const std::vector<Tensor>& in, const std::vector<Tensor>& o,
                                                       const RunContext& ctx) {
    cpu::ConvEpilogue ep;
    ep.residual = residual ? fptr(in[bias ? 3 : 2]) : nullptr;
    ep.relu = relu;
    const float* b = bias ? fptr(in[2]) : nullptr;
    float* ws_f = static_cast<float*>(ctx.workspace);
    const std::shared_ptr<const float> wp = pw.get(in[1], ctx);
    if (i2c)
      cpu::conv_im2col_gemm_forward(p, fptr(in[0]), fptr(in[1]), b, fptr_mut(o[0]), ws_f, slots, ep, wp.get());
    else
      cpu::conv_gemm_1x1_forward(p, fptr(in[0]), fptr(in[1]), b, fptr_mut(o[0]), ws_f, slots, ep, wp.get());
  };
  out->workspace_bytes = ws;
  out->algo = std::string(conv::algo_name(algo)) + " +";
  return true;
}

// The conv runs what the kernel table picks for the unfused conv on this backend (overrides included).
Prepared prepare_conv_fused(const KernelCall& c) {
  const std::vector<TensorDesc>& outs = c.out;
  const ConvFusedCall f = split(c);
  const KernelCall base{{f.base, f.attrs, f.in}, outs, c.device, c.backend, c.options};
  const KernelDef& chosen = KernelTable::global().select(base);
  auto suffix = [&f] {
    std::string s;
    if (f.bias) s += " bias";
    if (f.residual) s += " add";
    if (f.relu) s += " relu";
    return s;
  };
  if (Prepared g; prepare_gemm_epilogue(f, outs[0].shape, conv::algo_from_name(chosen.algo), conv::kernel_config(c), &g)) {
    g.algo += suffix() + " (in-loop)";
    return g;
  }
  Prepared conv = chosen.prepare(base);
  if (conv.algo.empty()) conv.algo = chosen.algo;
  const Shape& ys = outs[0].shape;
  const int64_t planes = ys[0] * ys[1], plane = planes ? shape_numel(ys) / planes : 0;
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, plane));
  const auto relu_k = pick_isa<cpu::UnaryKernel>(ref::relu, cpu::relu__avx2, cpu::relu__avx512);
  const size_t ri = 2 + size_t(f.bias);
  const bool residual = f.residual, relu = f.relu;
  auto run = [conv = conv.run, residual, relu, relu_k, ri, planes, plane, grain](
                 const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
    conv(in, out, ctx);  // the conv reads inputs 0..1 (+2 with a bias) only
    float* y = fptr_mut(out[0]);
    const float* r = residual ? fptr(in[ri]) : nullptr;
    parallel_for(planes, grain, [&](int64_t p0, int64_t p1) { epilogue(y, r, relu, relu_k, plane, p0, p1); });
  };
  return {run, conv.workspace_bytes, conv.algo + " +" + suffix()};
}

// ---- conv_bn_fold ------------------------------------------------------------------------------------------------

struct FoldSlots {
  int conv_bias = -1, mean = -1, var = -1, gamma = -1, beta = -1, count = 1;
};
FoldSlots fold_slots(const AttrReader& a) {
  FoldSlots s;
  if (a.get_bool("has_conv_bias", false)) s.conv_bias = s.count++;
  s.mean = s.count++;
  s.var = s.count++;
  if (a.get_bool("has_weight", false)) s.gamma = s.count++;
  if (a.get_bool("has_bias", false)) s.beta = s.count++;
  return s;
}

std::vector<TensorDesc> infer_fold(const OpCall& c) {
  const FoldSlots s = fold_slots(c.attr());
  FC_CHECK(int(c.in.size()) == s.count, Value, c.op, ": expected ", s.count, " inputs for the has_* attributes, got ",
           c.in.size());
  FC_CHECK(!c.in[0].shape.empty(), Value, c.op, ": weight must have an output-channel axis, got ",
           shape_str(c.in[0].shape));
  const Shape ch{c.in[0].shape[0]};
  for (size_t i = 1; i < c.in.size(); ++i)
    FC_CHECK(c.in[i].shape == ch, Value, c.op, ": input ", i, " must have shape ", shape_str(ch), ", got ",
             shape_str(c.in[i].shape));
  return {c.in[0], {ch, DType::f32}};
}

Prepared prepare_fold(const KernelCall& c) {
  const FoldSlots s = fold_slots(c.attr());
  const double eps = c.attr().get_float("eps", 1e-5);
  const int64_t K = c.in[0].shape[0], per = K ? shape_numel(c.in[0].shape) / K : 0;
  return {[s, eps, K, per](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float* w = fptr(in[0]);
            const float *cb = s.conv_bias >= 0 ? fptr(in[size_t(s.conv_bias)]) : nullptr;
            const float *mean = fptr(in[size_t(s.mean)]), *var = fptr(in[size_t(s.var)]);
            const float* gamma = s.gamma >= 0 ? fptr(in[size_t(s.gamma)]) : nullptr;
            const float* beta = s.beta >= 0 ? fptr(in[size_t(s.beta)]) : nullptr;
            float *w2 = fptr_mut(out[0]), *b2 = fptr_mut(out[1]);
            parallel_for(K, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, per)), [&](int64_t k0, int64_t k1) {
              for (int64_t k = k0; k < k1; ++k) {
                // Batch norm's own rounding: scale = invstd (float) * gamma, as batch_norm__channels does.
                const float invstd = float(1.0 / std::sqrt(double(var[k]) + eps));
                const double sc = double(invstd) * (gamma ? gamma[k] : 1.f);
                for (int64_t i = 0; i < per; ++i) w2[k * per + i] = float(double(w[k * per + i]) * sc);
                b2[k] = float(((cb ? cb[k] : 0.0) - mean[k]) * sc + (beta ? beta[k] : 0.0));
              }
            });
          },
          0, "fold"};
}

// ---- batch_norm_relu / batch_norm_relu_backward --------------------------------------------------------------

struct BnSlots {
  int running_mean = -1, running_var = -1, weight = -1, bias = -1, count = 1;
};
BnSlots bn_slots(const AttrReader& a, bool with_running, int first) {
  BnSlots s;
  s.count = first;
  if (with_running && a.get_bool("has_running", false)) {
    s.running_mean = s.count++;
    s.running_var = s.count++;
  }
  if (a.get_bool("has_weight", false)) s.weight = s.count++;
  if (a.get_bool("has_bias", false)) s.bias = s.count++;
  return s;
}

ref::BatchNormParams bn_params(const AttrReader& a, const Shape& s) {
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

const float* opt(const std::vector<Tensor>& in, int i) { return i < 0 ? nullptr : fptr(in[size_t(i)]); }
float* opt_mut(const std::vector<Tensor>& in, int i) { return i < 0 ? nullptr : fptr_mut(in[size_t(i)]); }

// y = relu(y + residual) over channels [c0, c1) of y viewed as [N, C, S] (residual may be null).
void add_relu_channels(cpu::UnaryKernel k, const ref::BatchNormParams& p, float* y, const float* res, int64_t c0,
                       int64_t c1) {
  const int64_t run = (c1 - c0) * p.S;
  for (int64_t n = 0; n < p.N; ++n) {
    const int64_t off = (n * p.C + c0) * p.S;
    if (res)
      for (int64_t i = 0; i < run; ++i) y[off + i] += res[off + i];
    k(y + off, y + off, run);
  }
}

// batch_norm_relu, and batch_norm_add_relu (one more input, last: the residual added before the relu).
std::vector<TensorDesc> infer_bn_relu(const OpCall& c) {
  const bool res = c.op == "batch_norm_add_relu";
  FC_CHECK(int(c.in.size()) >= 1 + int(res), Value, c.op, ": expected inputs (input, ...",
           res ? ", residual" : "", "), got ", c.in.size());
  std::vector<TensorDesc> in(c.in.begin(), c.in.end() - long(res));
  std::vector<TensorDesc> out = Registry::global().get("batch_norm").infer(OpCall{c.op, c.attrs, in});
  if (res)
    FC_CHECK(c.in.back() == out[0], Value, c.op, ": argument 'residual' must be ", desc_str(out[0]), ", got ",
             desc_str(c.in.back()));
  return out;
}

// Ref: the reference batch norm then add/relu over the whole tensor; else per channel block while in cache.
template <bool Ref>
Prepared prepare_bn_relu(const KernelCall& c) {
  const BnSlots s = bn_slots(c.attr(), true, 1);
  const int res = c.op == "batch_norm_add_relu" ? s.count : -1;
  const ref::BatchNormParams p = bn_params(c.attr(), c.in[0].shape);
  const bool r = Ref;
  const auto relu_k = pick_isa<cpu::UnaryKernel>(ref::relu, cpu::relu__avx2, cpu::relu__avx512);
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, p.N * p.S));
  const std::string tail = res >= 0 ? " + add + relu" : " + relu";
  return {[p, s, r, res, relu_k, grain](const std::vector<Tensor>& in, const std::vector<Tensor>& out,
                                        const RunContext&) {
            const float *x = fptr(in[0]), *w = opt(in, s.weight), *b = opt(in, s.bias), *rs = opt(in, res);
            float *rm = opt_mut(in, s.running_mean), *rv = opt_mut(in, s.running_var);
            float *y = fptr_mut(out[0]), *sm = fptr_mut(out[1]), *si = fptr_mut(out[2]);
            if (r) {
              ref::batch_norm(p, x, w, b, rm, rv, y, sm, si);
              return add_relu_channels(ref::relu, p, y, rs, 0, p.C);
            }
            parallel_for(p.C, grain, [&](int64_t c0, int64_t c1) {
              cpu::batch_norm__channels(p, x, w, b, rm, rv, y, sm, si, c0, c1);
              add_relu_channels(relu_k, p, y, rs, c0, c1);
            });
          },
          0, (r ? "ref" : "batch_norm__channels") + tail};
}

// inputs: grad, y, x, [weight], save_mean, save_invstd
std::vector<TensorDesc> infer_bn_relu_backward(const OpCall& c) {
  FC_CHECK(c.in.size() >= 5, Value, c.op, ": expected (grad, y, x, [weight], save_mean, save_invstd), got ",
           c.in.size(), " inputs");
  FC_CHECK(c.in[1] == c.in[0], Value, c.op, ": y ", desc_str(c.in[1]), " must match grad ", desc_str(c.in[0]));
  std::vector<TensorDesc> rest{c.in[0]};
  rest.insert(rest.end(), c.in.begin() + 2, c.in.end());
  return Registry::global().get("batch_norm_backward").infer(OpCall{"batch_norm_backward", c.attrs, rest});
}

template <bool Ref>
Prepared prepare_bn_relu_backward(const KernelCall& c) {
  const BnSlots s = bn_slots(c.attr(), false, 3);
  const ref::BatchNormParams p = bn_params(c.attr(), c.in[2].shape);
  const bool r = Ref;
  const auto mask_k = pick_isa<cpu::UnaryBackwardKernel>(ref::relu_backward, cpu::relu_backward__avx2,
                                                          cpu::relu_backward__avx512);
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, p.N * p.S));
  return {[p, s, r, mask_k, grain](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float *g = fptr(in[0]), *y = fptr(in[1]), *x = fptr(in[2]), *w = opt(in, s.weight);
            const float *sm = fptr(in[size_t(s.count)]), *si = fptr(in[size_t(s.count + 1)]);
            float *dx = fptr_mut(out[0]), *dw = fptr_mut(out[1]), *db = fptr_mut(out[2]);
            if (r) {
              ref::relu_backward(g, y, dx, out[0].numel());
              return ref::batch_norm_backward(p, dx, x, w, sm, si, dx, dw, db);
            }
            parallel_for(p.C, grain, [&](int64_t c0, int64_t c1) {
              for (int64_t n = 0; n < p.N; ++n) {
                const int64_t off = (n * p.C + c0) * p.S;
                mask_k(g + off, y + off, dx + off, (c1 - c0) * p.S);
              }
              cpu::batch_norm_backward__channels(p, dx, x, w, sm, si, dx, dw, db, c0, c1);
            });
          },
          0, r ? "relu mask + ref" : "relu mask + batch_norm_backward__channels"};
}

}  // namespace

void register_fusion_patterns(Registry& r);  // fused_patterns.cpp

void register_fused_ops(Registry& r, KernelTable& k) {
  for (const char* base : {"conv1d", "conv2d", "conv3d"}) {
    const std::string op = std::string(base) + "_fused";
    r.add({op, 2, 4, infer_conv_fused, nullptr, false, -1},  // the conv's attributes and the epilogue's
          {"dilation", "groups", "out_size", "padding", "pads", "stride", "has_bias", "has_residual", "relu"});
    add_cpu_kernel(k, op, "conv", "fused", 10, prepare_conv_fused);
  }
  r.add({"conv_bn_fold", 3, 6, infer_fold, nullptr, false, -1}, {"eps", "has_bias", "has_conv_bias", "has_weight"});
  add_cpu_kernel(k, "conv_bn_fold", "norm", "fold", 0, prepare_fold);
  for (const bool residual : {false, true}) {
    const char* op = residual ? "batch_norm_add_relu" : "batch_norm_relu";
    r.add({op, 1 + int(residual), 5 + int(residual), infer_bn_relu, nullptr, /*side_effects*/ true, -1},
          batch_norm_attrs());
    add_cpu_kernel(k, op, "norm", "channels", 10, prepare_bn_relu<false>);
    add_cpu_kernel(k, op, "norm", "ref", 0, prepare_bn_relu<true>);
  }
  r.add({"batch_norm_relu_backward", 5, 6, infer_bn_relu_backward, nullptr, false, -1}, batch_norm_attrs());
  add_cpu_kernel(k, "batch_norm_relu_backward", "norm", "channels", 10, prepare_bn_relu_backward<false>);
  add_cpu_kernel(k, "batch_norm_relu_backward", "norm", "ref", 0, prepare_bn_relu_backward<true>);
  register_fusion_patterns(r);
}

}  // namespace fastconv
