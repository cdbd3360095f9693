// The convolution family: conv1d/2d/3d, conv_transpose1d/2d/3d (torch.nn.functional semantics), correlate2d and
// convolve2d (scipy.signal semantics), and the backward ops their rules emit:
//   conv{1,2,3}d_backward_data    (dy, w)  -> dx   attrs: stride, padding (leading pad), dilation, groups, input_size
//   conv{1,2,3}d_backward_weight  (dy, x)  -> dw   attrs: ..., kernel_size
//   conv{1,2,3}d_backward_bias    (dy)     -> db
// Every shape becomes one cpu::ConvParams (1-D and 2-D as 3-D with unit leading axes); conv_prepare.cpp picks the
// algorithm. conv_transpose is the data gradient of convolution, so its forward runs the backward-data kernels and
// its backward is a convolution plus a weight-gradient op.
#include <algorithm>
#include <sstream>

#include "ops/common.h"
#include "ops/conv_common.h"
#include "ops/shape_check.h"

namespace fastconv {
namespace {

using cpu::ConvParams;
using cpu::ConvPass;
using cpu::group_in;
using cpu::in_vol;
using cpu::k_vol;
using Ints = std::vector<int64_t>;

int op_rank(const std::string& op) {
  for (char ch : op)
    if (ch >= '1' && ch <= '3') return ch - '0';
  return 2;  // correlate2d / convolve2d
}

int axis(int nd, int i) { return 3 - nd + i; }  // spatial dim i of an nd-D conv -> ConvParams axis

std::string tup(const Ints& v) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << (v.size() == 1 ? ",)" : ")");
  return os.str();
}

const char* input_layout(int nd) { return nd == 1 ? "N, C, L" : nd == 2 ? "N, C, H, W" : "N, C, D, H, W"; }
const char* weight_layout(int nd, bool transpose) {
  if (transpose) return nd == 1 ? "C_in, C_out/groups, kL" : nd == 2 ? "C_in, C_out/groups, kH, kW"
                                                                     : "C_in, C_out/groups, kD, kH, kW";
  return nd == 1 ? "C_out, C_in/groups, kL" : nd == 2 ? "C_out, C_in/groups, kH, kW" : "C_out, C_in/groups, kD, kH, kW";
}

Ints spatial(const Shape& s) { return Ints(s.begin() + 2, s.end()); }

Shape nchw_shape(int64_t n, int64_t c, const int64_t* sizes, int nd) {
  Shape s{n, c};
  for (int i = 0; i < nd; ++i) s.push_back(sizes[axis(nd, i)]);
  return s;
}

void check_rank(const OpCall& c, size_t i, int nd, const char* arg, const char* layout) {
  FC_CHECK(int64_t(c.in.at(i).shape.size()) == nd + 2, Value, c.op, ": argument '", arg, "' must be ", nd + 2,
           "-D (", layout, "), got ", c.in[i].shape.size(), "-D shape ", shape_str(c.in[i].shape));
}

// stride, dilation, groups: positive.
void read_common(const OpCall& c, int nd, ConvParams& p, Ints* stride, Ints* dil) {
  AttrReader a = c.attr();
  *stride = a.get_ints("stride", size_t(nd), 1);
  *dil = a.get_ints("dilation", size_t(nd), 1);
  p.groups = a.get_int("groups", 1);
  for (int i = 0; i < nd; ++i) {
    FC_CHECK((*stride)[size_t(i)] > 0, Value, c.op, ": argument 'stride' must be positive, got ", tup(*stride));
    FC_CHECK((*dil)[size_t(i)] > 0, Value, c.op, ": argument 'dilation' must be positive, got ", tup(*dil));
    p.stride[axis(nd, i)] = (*stride)[size_t(i)];
    p.dil[axis(nd, i)] = (*dil)[size_t(i)];
  }
  FC_CHECK(p.groups > 0, Value, c.op, ": argument 'groups' must be positive, got ", p.groups);
}

void check_bias(const OpCall& c, size_t i, int64_t channels) {
  if (c.in.size() <= i) return;
  expect_dtype(c, i, DType::f32, "bias");
  FC_CHECK(c.in[i].shape == Shape{channels}, Value, c.op, ": argument 'bias' must have shape [", channels,
           "] (one value per output channel), got ", shape_str(c.in[i].shape));
}

// What conv and conv_transpose check alike: inputs (input, weight[, bias]) in float32, the input's and the weight's
// rank; then the attributes both read (stride, padding mode, dilation, groups) go into p.
void check_call(const OpCall& c, int nd, bool transposed, ConvParams& p, Ints* stride, Ints* dil) {
  FC_CHECK(c.in.size() == 2 || c.in.size() == 3, Value, c.op, ": expected inputs (input, weight[, bias]), got ",
           c.in.size());
  expect_dtype(c, 0, DType::f32, "input");
  expect_dtype(c, 1, DType::f32, "weight");
  const Shape& xs = c.in[0].shape;
  FC_CHECK(int64_t(xs.size()) == nd + 2, Value, c.op, ": argument 'input' must be ", nd + 2, "-D (",
           input_layout(nd), ") or ", nd + 1, "-D unbatched, got ", xs.size(), "-D shape ", shape_str(xs));
  check_rank(c, 1, nd, "weight", weight_layout(nd, transposed));
  read_common(c, nd, p, stride, dil);
}

// The forward convolution conv{1,2,3}d(input, weight, bias, stride, padding, dilation, groups).
// `out_size` (internal, from conv_transpose's backward rule) fixes the output size for integer padding.
ConvParams conv_geometry(const OpCall& c) {
  const int nd = op_rank(c.op);
  ConvParams p;
  Ints stride, dil;
  check_call(c, nd, false, p, &stride, &dil);
  const Shape &xs = c.in[0].shape, &ws = c.in[1].shape;
  p.N = xs[0], p.C = xs[1], p.K = ws[0];
  FC_CHECK(p.C % p.groups == 0, Value, c.op, ": argument 'groups'=", p.groups, " must divide the input channels ",
           p.C);
  FC_CHECK(p.K % p.groups == 0, Value, c.op, ": argument 'groups'=", p.groups,
           " must divide the output channels (weight.shape[0]) ", p.K);
  if (p.C != ws[1] * p.groups) {
    if (p.groups == 1)
      fail(ErrorKind::Value, c.op, ": input has ", p.C, " channels but weight expects ", ws[1], " (weight shape ",
           shape_str(ws), ")");
    fail(ErrorKind::Value, c.op, ": input has ", p.C, " channels but weight expects ", ws[1] * p.groups,
         " (groups=", p.groups, " x weight.shape[1]=", ws[1], "; weight shape ", shape_str(ws), ")");
  }
  check_bias(c, 2, p.K);

  // Padding: `pads` (2*nd ints: every begin, then every end, as ONNX orders them), or `padding`: an int or nd ints
  // (both sides), 'valid', 'same' (torch: stride 1, the odd extra pad after), 'full', or ONNX's auto_pad modes
  // 'same_upper' / 'same_lower' (any stride: output ceil(input / stride), the odd extra pad after / before).
  std::string mode;
  Ints pads(static_cast<size_t>(nd), 0), ends;
  if (c.attrs.has("pads")) {
    FC_CHECK(!c.attrs.has("padding"), Value, c.op, ": give either 'padding' or 'pads' (begin and end), not both");
    Ints pe = c.attr().get_ints("pads", size_t(2 * nd));
    for (int64_t q : pe)
      FC_CHECK(q >= 0, Value, c.op, ": argument 'pads' must be non-negative, got ", tup(pe));
    pads.assign(pe.begin(), pe.begin() + nd);
    ends.assign(pe.begin() + nd, pe.end());
  } else if (const AttrValue* v = c.attrs.find("padding"); v && std::holds_alternative<std::string>(*v)) {
    mode = std::get<std::string>(*v);
    FC_CHECK(mode == "valid" || mode == "same" || mode == "full" || mode == "same_upper" || mode == "same_lower",
             Value, c.op, ": argument 'padding' must be an int, a tuple of ", nd,
             " ints, 'valid', 'same', 'same_upper', 'same_lower' or 'full', got '", mode, "'");
    if (mode == "same")
      for (int64_t s : stride)
        FC_CHECK(s == 1, Value, c.op, ": padding='same' is not supported for strided convolutions (stride=",
                 tup(stride), "); use an explicit padding, or 'same_upper' / 'same_lower' (ONNX's auto_pad)");
  } else {
    pads = c.attr().get_ints("padding", size_t(nd), 0);
    for (int64_t q : pads)
      FC_CHECK(q >= 0, Value, c.op, ": argument 'padding' must be non-negative, got ", tup(pads));
  }
  Ints ksz = spatial(ws), in = spatial(xs), padded(static_cast<size_t>(nd)), eff(static_cast<size_t>(nd));
  const std::string because = "argument 'padding'=" + (mode.empty() ? tup(pads) : "'" + mode + "'") +
                              ", 'dilation'=" + tup(dil) + ", kernel " + tup(ksz) + ", input " + tup(in);
  bool fits = true;
  for (int i = 0; i < nd; ++i) {
    const size_t u = size_t(i);
    const int ax = axis(nd, i);
    FC_CHECK(ksz[u] > 0, Value, c.op, ": weight has an empty kernel, shape ", shape_str(ws));
    // 128-bit arithmetic: 2 * padding and dilation * (kernel - 1) may not fit in int64 for hostile arguments.
    const int64_t e = checked_extent(c.op, wide(dil[u]) * (ksz[u] - 1) + 1, "the dilated kernel size", because);
    wide front = pads[u], total = ends.empty() ? wide(2) * pads[u] : wide(pads[u]) + ends[u];
    if (mode == "same") total = e - 1, front = total / 2;  // torch: the odd extra pad goes after
    if (mode == "full") front = e - 1, total = wide(2) * (e - 1);
    if (mode == "same_upper" || mode == "same_lower") {
      const wide out = (wide(in[u]) + stride[u] - 1) / stride[u];
      total = std::max<wide>(0, (out - 1) * stride[u] + e - in[u]);
      front = mode == "same_upper" ? total / 2 : total - total / 2;
    }
    p.in[ax] = in[u], p.k[ax] = ksz[u];
    p.pad[ax] = checked_extent(c.op, front, "the padding", because);
    padded[u] = checked_extent(c.op, in[u] + total, "the padded input size", because), eff[u] = e;
    fits = fits && padded[u] >= e;
    p.out[ax] = padded[u] >= e ? (padded[u] - e) / stride[u] + 1 : 0;
  }
  FC_CHECK(fits, Value, c.op, ": kernel size ", tup(ksz), " (dilated ", tup(eff), ") is larger than the padded input ",
           tup(padded), " (input ", tup(in), ")");
  if (c.attrs.has("out_size")) {
    Ints o = c.attr().get_ints("out_size", size_t(nd));
    for (int i = 0; i < nd; ++i)
      p.out[axis(nd, i)] = checked_extent(c.op, o[size_t(i)], "argument 'out_size'", "out_size=" + tup(o));
  }
  checked_numel(c.op, nchw_shape(p.N, p.K, p.out, nd), "the output shape",
                because + ", 'stride'=" + tup(stride));
  return p;
}

// conv_transpose{1,2,3}d(input, weight, bias, stride, padding, output_padding, groups, dilation), returned as the
// convolution whose data gradient it is (C = output channels, K = input channels, in = the transposed output).
ConvParams transpose_geometry(const OpCall& c) {
  const int nd = op_rank(c.op);
  ConvParams p;
  Ints stride, dil;
  check_call(c, nd, true, p, &stride, &dil);
  const Shape &xs = c.in[0].shape, &ws = c.in[1].shape;
  p.N = xs[0], p.K = xs[1], p.C = ws[1] * p.groups;
  FC_CHECK(p.K % p.groups == 0, Value, c.op, ": argument 'groups'=", p.groups, " must divide the input channels ",
           p.K);
  FC_CHECK(p.K == ws[0], Value, c.op, ": input has ", p.K, " channels but weight expects ", ws[0],
           " (weight shape ", shape_str(ws), "; transposed-convolution weights are [", weight_layout(nd, true), "])");
  check_bias(c, 2, p.C);
  AttrReader a = c.attr();
  // `pads` (begin..., end...) or a symmetric `padding`; the end pads only shorten the output.
  Ints pads, ends;
  if (a.has("pads")) {
    FC_CHECK(!a.has("padding"), Value, c.op, ": give either 'padding' or 'pads' (begin and end), not both");
    Ints pe = a.get_ints("pads", size_t(2 * nd));
    pads.assign(pe.begin(), pe.begin() + nd);
    ends.assign(pe.begin() + nd, pe.end());
  } else {
    pads = a.get_ints("padding", size_t(nd), 0);
    ends = pads;
  }
  Ints opad = a.get_ints("output_padding", size_t(nd), 0);
  Ints ksz = spatial(ws), in = spatial(xs);
  std::vector<wide> out(static_cast<size_t>(nd));
  const std::string because = "argument 'stride'=" + tup(stride) + ", '" + (a.has("pads") ? "pads" : "padding") +
                              "'=" + tup(a.has("pads") ? a.get_ints("pads", size_t(2 * nd)) : pads) +
                              ", 'dilation'=" + tup(dil) + ", 'output_padding'=" + tup(opad) + ", kernel " +
                              tup(ksz) + ", input " + tup(in);
  for (int i = 0; i < nd; ++i) {
    const size_t u = size_t(i);
    FC_CHECK(pads[u] >= 0 && ends[u] >= 0, Value, c.op, ": argument '", a.has("pads") ? "pads" : "padding",
             "' must be non-negative, got ", tup(a.has("pads") ? a.get_ints("pads", size_t(2 * nd)) : pads));
    FC_CHECK(opad[u] >= 0 && (opad[u] < stride[u] || opad[u] < dil[u]), Value, c.op, ": argument 'output_padding' ",
             tup(opad), " must be non-negative and smaller than either stride ", tup(stride), " or dilation ",
             tup(dil));
    checked_extent(c.op, wide(dil[u]) * (ksz[u] - 1) + 1, "the dilated kernel size", because);
    out[u] = wide(in[u] - 1) * stride[u] - wide(pads[u]) - ends[u] + wide(dil[u]) * (ksz[u] - 1) + opad[u] + 1;
  }
  for (int i = 0; i < nd; ++i) {
    const int ax = axis(nd, i);
    if (out[size_t(i)] <= 0) {
      Ints shown;
      for (wide o : out) shown.push_back(o < INT64_MIN ? INT64_MIN : int64_t(o));
      fail(ErrorKind::Value, c.op, ": the output size ", tup(shown), " would not be positive (input ", tup(in),
           ", kernel ", tup(ksz), ", padding ", tup(pads), ")");
    }
    p.in[ax] = checked_extent(c.op, out[size_t(i)], "the output size", because);
    p.out[ax] = in[size_t(i)], p.k[ax] = ksz[size_t(i)], p.pad[ax] = pads[size_t(i)];
  }
  checked_numel(c.op, nchw_shape(p.N, p.C, p.in, nd), "the output shape", because);
  return p;
}

// The backward ops carry resolved geometry: leading pads, and the size of the side they produce.
ConvParams backward_geometry(const OpCall& c, ConvPass pass) {
  const int nd = op_rank(c.op);
  expect_inputs(c, 2);
  expect_dtype(c, 0, DType::f32, "grad_output");
  expect_dtype(c, 1, DType::f32, pass == ConvPass::backward_data ? "weight" : "input");
  check_rank(c, 0, nd, "grad_output", input_layout(nd));
  check_rank(c, 1, nd, pass == ConvPass::backward_data ? "weight" : "input",
             pass == ConvPass::backward_data ? weight_layout(nd, false) : input_layout(nd));
  ConvParams p;
  Ints stride, dil;
  read_common(c, nd, p, &stride, &dil);
  AttrReader a = c.attr();
  Ints pads = a.get_ints("padding", size_t(nd), 0);
  const Shape &g = c.in[0].shape, &o = c.in[1].shape;
  p.N = g[0], p.K = g[1];
  Ints in, ksz;
  if (pass == ConvPass::backward_data) {
    FC_CHECK(o[0] == p.K, Value, c.op, ": grad_output has ", p.K, " channels but weight has ", o[0]);
    p.C = o[1] * p.groups;
    in = a.get_ints("input_size", size_t(nd)), ksz = spatial(o);
  } else {
    FC_CHECK(o[0] == p.N, Value, c.op, ": grad_output has batch ", p.N, " but input has ", o[0]);
    p.C = o[1];
    in = spatial(o), ksz = a.get_ints("kernel_size", size_t(nd));
  }
  FC_CHECK(p.C % p.groups == 0 && p.K % p.groups == 0, Value, c.op, ": argument 'groups'=", p.groups,
           " must divide the channels ", p.C, " and ", p.K);
  const std::string because = "input " + tup(in) + ", kernel " + tup(ksz) + ", 'padding'=" + tup(pads) +
                              ", 'stride'=" + tup(stride) + ", 'dilation'=" + tup(dil);
  for (int i = 0; i < nd; ++i) {
    const size_t u = size_t(i);
    const int ax = axis(nd, i);
    FC_CHECK(in[u] >= 0 && ksz[u] > 0 && pads[u] >= 0, Value, c.op, ": invalid geometry (input ", tup(in),
             ", kernel ", tup(ksz), ", padding ", tup(pads), ")");
    // The kernels bounds-check x[o*stride - pad + k*dilation] against the input, but compute it in int64 first:
    // every term must stay far inside int64 for any o < out and k < kernel.
    checked_extent(c.op, wide(in[u]) + wide(2) * pads[u], "the padded input size", because);
    checked_extent(c.op, wide(dil[u]) * (ksz[u] - 1) + 1, "the dilated kernel size", because);
    checked_extent(c.op, wide(g[u + 2] > 0 ? g[u + 2] - 1 : 0) * stride[u], "the last window's start", because);
    p.in[ax] = in[u], p.k[ax] = ksz[u], p.pad[ax] = pads[u], p.out[ax] = g[u + 2];
  }
  checked_numel(c.op, pass == ConvPass::backward_data ? nchw_shape(p.N, p.C, p.in, nd) : Shape{p.K, p.C, 1},
                "the gradient shape", because);
  return p;
}

Shape nchw(int64_t n, int64_t c, const ConvParams& p, int nd, bool out_side) {
  Shape s{n, c};
  for (int i = 0; i < nd; ++i) s.push_back(out_side ? p.out[axis(nd, i)] : p.in[axis(nd, i)]);
  return s;
}

Attrs pass_attrs(const ConvParams& p, int nd) {
  Ints s, pad, d;
  for (int i = 0; i < nd; ++i) {
    s.push_back(p.stride[axis(nd, i)]);
    pad.push_back(p.pad[axis(nd, i)]);
    d.push_back(p.dil[axis(nd, i)]);
  }
  return Attrs{{"stride", s}, {"padding", pad}, {"dilation", d}, {"groups", p.groups}};
}

Ints sizes(const int64_t* v, int nd) { return Ints(v + 3 - nd, v + 3); }

std::string rank_op(const char* base, int nd, const char* suffix) {
  return std::string(base) + std::to_string(nd) + "d" + suffix;
}

// ---- correlate2d / convolve2d: single-channel 2-D arrays, scipy.signal semantics ------------------------------
ConvParams signal_geometry(const OpCall& c) {
  expect_inputs(c, 2);
  expect_dtype(c, 0, DType::f32, "in1");
  expect_dtype(c, 1, DType::f32, "in2");
  for (size_t i = 0; i < 2; ++i)
    FC_CHECK(c.in[i].shape.size() == 2, Value, c.op, ": argument '", i ? "in2" : "in1", "' must be 2-D (H, W), got ",
             c.in[i].shape.size(), "-D shape ", shape_str(c.in[i].shape));
  const std::string mode = c.attr().get_str("mode", "full");
  FC_CHECK(mode == "valid" || mode == "same" || mode == "full", Value, c.op,
           ": argument 'mode' must be 'valid', 'same' or 'full', got '", mode, "'");
  const Shape &x = c.in[0].shape, &k = c.in[1].shape;
  ConvParams p;
  p.N = p.C = p.K = 1;
  for (int i = 0; i < 2; ++i) {
    const int ax = axis(2, i);
    FC_CHECK(k[size_t(i)] > 0 && x[size_t(i)] > 0, Value, c.op, ": arguments must be non-empty, got shapes ",
             shape_str(x), " and ", shape_str(k));
    p.in[ax] = x[size_t(i)], p.k[ax] = k[size_t(i)];
    if (mode == "valid") {
      FC_CHECK(x[size_t(i)] >= k[size_t(i)], Value, c.op, ": mode='valid' needs in2 ", shape_str(k),
               " to fit inside in1 ", shape_str(x));
      p.pad[ax] = 0, p.out[ax] = x[size_t(i)] - k[size_t(i)] + 1;
    } else if (mode == "full") {
      p.pad[ax] = k[size_t(i)] - 1, p.out[ax] = x[size_t(i)] + k[size_t(i)] - 1;
    } else {  // 'same': centred on the 'full' output as scipy does; the flipped kernel of convolve2d shifts it
      p.pad[ax] = c.op == "convolve2d" ? k[size_t(i)] / 2 : (k[size_t(i)] - 1) / 2;
      p.out[ax] = x[size_t(i)];
    }
  }
  checked_numel(c.op, {p.out[1], p.out[2]}, "the output shape",
                "mode='" + mode + "' on shapes " + shape_str(x) + " and " + shape_str(k));
  return p;
}

std::vector<ValueId> signal_backward(BackwardCall& b) {
  std::vector<ValueId> grads(2, kNoValue);
  if (b.grad_out[0] == kNoValue) return grads;
  std::vector<TensorDesc> in{b.desc(b.in(0)), b.desc(b.in(1))};
  const ConvParams p = signal_geometry(OpCall{b.node.op, b.node.attrs, in});
  const bool flip = b.node.op == "convolve2d";
  const Shape xs = in[0].shape, ks = in[1].shape;
  auto as4 = [&](ValueId v, const Shape& s) { return b.g.add1("reshape", {v}, {{"shape", Ints{1, 1, s[0], s[1]}}}); };
  ValueId g4 = as4(b.grad_out[0], b.desc(b.grad_out[0]).shape);
  Attrs a = pass_attrs(p, 2);
  a.set("flip", true && flip);
  if (b.needs_grad[0]) {
    Attrs ad = a;
    ad.set("input_size", Ints(xs.begin(), xs.end()));
    ValueId dx = b.g.add1("conv2d_backward_data", {g4, as4(b.in(1), ks)}, ad);
    grads[0] = b.g.add1("reshape", {dx}, {{"shape", Ints(xs.begin(), xs.end())}});
  }
  if (b.needs_grad[1]) {
    Attrs aw = a;
    aw.set("kernel_size", Ints(ks.begin(), ks.end()));
    ValueId dk = b.g.add1("conv2d_backward_weight", {g4, as4(b.in(0), xs)}, aw);
    grads[1] = b.g.add1("reshape", {dk}, {{"shape", Ints(ks.begin(), ks.end())}});
  }
  return grads;
}

// ---- backward rules ------------------------------------------------------------------------------------------
std::vector<TensorDesc> in_descs(BackwardCall& b) {
  std::vector<TensorDesc> in;
  for (ValueId v : b.node.inputs) in.push_back(b.desc(v));
  return in;
}

std::vector<ValueId> conv_backward(BackwardCall& b) {
  std::vector<ValueId> grads(b.node.inputs.size(), kNoValue);
  if (b.grad_out[0] == kNoValue) return grads;
  const int nd = op_rank(b.node.op);
  const std::vector<TensorDesc> in = in_descs(b);
  const ConvParams p = conv_geometry(OpCall{b.node.op, b.node.attrs, in});
  const ValueId gy = b.grad_out[0];
  if (b.needs_grad[0]) {
    Attrs a = pass_attrs(p, nd);
    a.set("input_size", sizes(p.in, nd));
    grads[0] = b.g.add1(rank_op("conv", nd, "_backward_data"), {gy, b.in(1)}, a);
  }
  if (b.needs_grad[1]) {
    Attrs a = pass_attrs(p, nd);
    a.set("kernel_size", sizes(p.k, nd));
    grads[1] = b.g.add1(rank_op("conv", nd, "_backward_weight"), {gy, b.in(0)}, a);
  }
  if (in.size() > 2 && b.needs_grad[2]) grads[2] = b.g.add1(rank_op("conv", nd, "_backward_bias"), {gy});
  return grads;
}

std::vector<ValueId> transpose_backward(BackwardCall& b) {
  std::vector<ValueId> grads(b.node.inputs.size(), kNoValue);
  if (b.grad_out[0] == kNoValue) return grads;
  const int nd = op_rank(b.node.op);
  const std::vector<TensorDesc> in = in_descs(b);
  const ConvParams p = transpose_geometry(OpCall{b.node.op, b.node.attrs, in});
  const ValueId gy = b.grad_out[0];
  if (b.needs_grad[0]) {  // the transposed conv's input gradient is the plain convolution of its output gradient
    Attrs a = pass_attrs(p, nd);
    // Explicit begin/end pads: the end pad the windows reach, so that asymmetric pads pass the shape rule.
    Ints pe = sizes(p.pad, nd);
    for (int i = 0; i < nd; ++i) {
      const int ax = axis(nd, i);
      const int64_t e = p.dil[ax] * (p.k[ax] - 1) + 1;
      pe.push_back(std::max<int64_t>(0, (p.out[ax] - 1) * p.stride[ax] + e - p.in[ax] - p.pad[ax]));
    }
    a = Attrs{{"stride", *std::get_if<Ints>(a.find("stride"))}, {"pads", pe},
              {"dilation", *std::get_if<Ints>(a.find("dilation"))}, {"groups", p.groups}};
    a.set("out_size", sizes(p.out, nd));
    grads[0] = b.g.add1(rank_op("conv", nd, ""), {gy, b.in(1)}, a);
  }
  if (b.needs_grad[1]) {  // roles swap: the transposed input plays the conv's output gradient
    Attrs a = pass_attrs(p, nd);
    a.set("kernel_size", sizes(p.k, nd));
    grads[1] = b.g.add1(rank_op("conv", nd, "_backward_weight"), {b.in(0), gy}, a);
  }
  if (in.size() > 2 && b.needs_grad[2]) grads[2] = b.g.add1(rank_op("conv", nd, "_backward_bias"), {gy});
  return grads;
}

}  // namespace

void register_conv_ops(Registry& r, KernelTable& k) {
  using conv::PassCall;
  for (int nd = 1; nd <= 3; ++nd) {
    const std::string fwd = rank_op("conv", nd, ""), tr = rank_op("conv_transpose", nd, "");
    const std::string bd = rank_op("conv", nd, "_backward_data"), bw = rank_op("conv", nd, "_backward_weight");
    const std::string bb = rank_op("conv", nd, "_backward_bias");
    r.add({fwd, 2, 3,
           [nd](const OpCall& c) -> std::vector<TensorDesc> {
             const ConvParams p = conv_geometry(c);
             return {{nchw(p.N, p.K, p, nd, true), DType::f32}};
           },
           conv_backward, false, -1}, {"dilation", "groups", "out_size", "padding", "pads", "stride"});
    r.add({tr, 2, 3,
           [nd](const OpCall& c) -> std::vector<TensorDesc> {
             const ConvParams p = transpose_geometry(c);
             return {{nchw(p.N, p.C, p, nd, false), DType::f32}};
           },
           transpose_backward, false, -1}, {"dilation", "groups", "output_padding", "padding", "pads", "stride"});
    r.add({bd, 2, 2,
           [nd](const OpCall& c) -> std::vector<TensorDesc> {
             const ConvParams p = backward_geometry(c, ConvPass::backward_data);
             return {{nchw(p.N, p.C, p, nd, false), DType::f32}};
           },
           nullptr, false, -1}, {"dilation", "flip", "groups", "input_size", "padding", "stride"});
    r.add({bw, 2, 2,
           [nd](const OpCall& c) -> std::vector<TensorDesc> {
             const ConvParams p = backward_geometry(c, ConvPass::backward_weight);
             Shape s{p.K, group_in(p)};
             for (int i = 0; i < nd; ++i) s.push_back(p.k[axis(nd, i)]);
             return {{s, DType::f32}};
           },
           nullptr, false, -1}, {"dilation", "flip", "groups", "kernel_size", "padding", "stride"});
    r.add({bb, 1, 1,
           [nd](const OpCall& c) -> std::vector<TensorDesc> {
             expect_dtype(c, 0, DType::f32, "grad_output");
             check_rank(c, 0, nd, "grad_output", input_layout(nd));
             return {{Shape{c.in[0].shape[1]}, DType::f32}};
           },
           nullptr, false, -1}, {});
    conv::register_pass_kernels(k, fwd, ConvPass::forward, [](const OpCall& c) {
      return PassCall{conv_geometry(c), c.in.size() > 2, false};
    });
    // conv_transpose is the data gradient of the convolution it transposes; its bias is added to that gradient.
    conv::register_pass_kernels(k, tr, ConvPass::backward_data, [](const OpCall& c) {
      return PassCall{transpose_geometry(c), c.in.size() > 2, false};
    });
    conv::register_pass_kernels(k, bd, ConvPass::backward_data, [](const OpCall& c) {
      return PassCall{backward_geometry(c, ConvPass::backward_data), false, c.attr().get_bool("flip", false)};
    });
    conv::register_pass_kernels(k, bw, ConvPass::backward_weight, [](const OpCall& c) {
      return PassCall{backward_geometry(c, ConvPass::backward_weight), false, c.attr().get_bool("flip", false)};
    });
    add_cpu_kernel(k, bb, "conv", "reduce", 0, [nd](const KernelCall& c) -> Prepared {
      ConvParams p;
      p.N = c.in[0].shape[0], p.K = p.C = c.in[0].shape[1];
      for (int i = 0; i < nd; ++i) p.out[axis(nd, i)] = c.in[0].shape[size_t(i) + 2];
      return {[p](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
                cpu::conv_backward_bias(p, fptr(in[0]), fptr_mut(out[0]));
              },
              0, ""};
    });
  }
  for (const char* name : {"correlate2d", "convolve2d"}) {
    r.add({name, 2, 2,
           [](const OpCall& c) -> std::vector<TensorDesc> {
             const ConvParams p = signal_geometry(c);
             return {{Shape{p.out[1], p.out[2]}, DType::f32}};
           },
           signal_backward, false, -1}, {"mode"});
    conv::register_pass_kernels(k, name, ConvPass::forward, [](const OpCall& c) {
      return PassCall{signal_geometry(c), false, c.op == "convolve2d"};
    });
  }
}

}  // namespace fastconv
