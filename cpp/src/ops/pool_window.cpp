// Fixed-window pooling: max/min/avg pooling (1-D, 2-D, 3-D) and the max/min pools' backward, which scatters the
// gradient through the saved indices; register_pool_ops registers every pooling op (the adaptive and unpooling
// families live in pool_adaptive.cpp and pool_unpool.cpp).
// Max pooling always produces int64 indices (flat, per input plane, as PyTorch) as its second output; its
// backward scatters the gradient through them, so the forward input need not stay alive.
#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "cpu/pool.h"
#include "fastconv/cpu_features.h"
#include "ops/pool_common.h"

namespace fastconv {
using namespace pool_detail;

// Parses and validates the attributes of a fixed-window pooling call on input shape `in`.
PoolCfg pool_cfg(const std::string& op, const Attrs& attrs, const Shape& in, int nd, bool is_max) {
  expect_pool_rank(op, in, nd);
  AttrReader a(op, attrs);
  auto k = a.get_ints("kernel_size", size_t(nd));
  auto s = a.has("stride") ? a.get_ints("stride", size_t(nd)) : k;
  if (s.empty()) s = k;  // torch: stride=[] means "same as kernel_size"
  // Padding: torch's symmetric `padding` (int or nd ints, at most half the kernel), or ONNX's forms: `pads`
  // (2*nd ints, every begin then every end, each smaller than the kernel) or padding='same_upper' / 'same_lower'
  // (output ceil(input / stride); the odd extra pad after / before) or 'valid'.
  std::string mode;
  std::vector<int64_t> p(size_t(nd), 0), pe;
  const bool onnx_pads = a.has("pads");
  if (onnx_pads) {
    FC_CHECK(!a.has("padding"), Value, op, ": give either 'padding' or 'pads' (begin and end), not both");
    auto pp = a.get_ints("pads", size_t(2 * nd));
    p.assign(pp.begin(), pp.begin() + nd);
    pe.assign(pp.begin() + nd, pp.end());
    for (int i = 0; i < nd; ++i)
      FC_CHECK(p[i] >= 0 && pe[i] >= 0 && p[i] < k[i] && pe[i] < k[i], Value, op,
               ": argument 'pads' must be non-negative and smaller than the kernel, got pads=", tuple_str(pp),
               " and kernel_size=", tuple_str(k));
  } else if (const AttrValue* v = attrs.find("padding"); v && std::holds_alternative<std::string>(*v)) {
    mode = std::get<std::string>(*v);
    FC_CHECK(mode == "valid" || mode == "same_upper" || mode == "same_lower", Value, op,
             ": argument 'padding' must be an int, a tuple of ints, 'valid', 'same_upper' or 'same_lower', got '", mode,
             "'");
  } else {
    p = a.get_ints("padding", size_t(nd), 0);
  }
  // Dilation: torch's max pooling; ONNX's average pooling too (torch's avg_pool has none, so it stays 1 there).
  auto d = a.get_ints("dilation", size_t(nd), 1);
  const bool ceil_mode = a.get_bool("ceil_mode", false);
  FC_CHECK(!(ceil_mode && (mode == "same_upper" || mode == "same_lower")), Value, op, ": ceil_mode cannot be used ",
           "with padding='", mode, "' (the output size is ceil(input / stride) already)");
  for (int i = 0; i < nd; ++i) {
    FC_CHECK(k[i] > 0, Value, op, ": argument 'kernel_size' must be positive, got ", tuple_str(k));
    FC_CHECK(s[i] > 0, Value, op, ": argument 'stride' must be positive, got ", tuple_str(s));
    FC_CHECK(p[i] >= 0, Value, op, ": argument 'padding' must be non-negative, got ", tuple_str(p));
    FC_CHECK(d[i] > 0, Value, op, ": argument 'dilation' must be positive, got ", tuple_str(d));
    // PyTorch bounds padding by the undilated kernel: pad <= kernel_size / 2.
    FC_CHECK(onnx_pads || !mode.empty() || p[i] <= k[i] / 2, Value, op,
             ": pad should be at most half of kernel size, but got padding=", tuple_str(p), " and kernel_size=",
             tuple_str(k));
  }
  PoolCfg c;
  const size_t lead = in.size() - size_t(nd);
  const int off = 3 - nd;
  c.planes = 1;
  for (size_t i = 0; i < lead; ++i) c.planes *= in[i];
  // A window with more taps than any tensor has elements is refused before anything runs: kernels visit at most
  // the taps inside the input, but divisors and work estimates multiply the window out.
  const std::string because =
      "argument 'kernel_size'=" + tuple_str(k) + ", 'stride'=" + tuple_str(s) +
      (onnx_pads ? ", 'pads'=" + tuple_str(a.get_ints("pads", size_t(2 * nd)))
                 : ", 'padding'=" + (mode.empty() ? tuple_str(p) : "'" + mode + "'")) +
      (is_max || a.has("dilation") ? ", 'dilation'=" + tuple_str(d) : "") + ", input " + shape_str(in);
  wide taps = 1;
  for (int i = 0; i < nd; ++i) {
    taps *= k[i];
    FC_CHECK(taps <= kMaxElements, Value, op, ": argument 'kernel_size'=", tuple_str(k),
             " spans more elements than any input can hold (2**60); from ", because);
    checked_extent(op, wide(d[i]) * (k[i] - 1) + 1, "the dilated window size", because);
  }
  int64_t insz[3], outsz[3];
  for (int i = 0; i < nd; ++i) {
    const int64_t n = in[lead + size_t(i)];
    // 128 bits: 2 * padding and dilation * (kernel - 1) can each pass int64 for hostile arguments.
    const int64_t e = checked_extent(op, wide(d[i]) * (k[i] - 1) + 1, "the dilated window size", because);
    int64_t pb = p[i], pa = onnx_pads ? pe[i] : p[i];
    if (mode == "same_upper" || mode == "same_lower") {
      const wide total = std::max<wide>(0, ((wide(n) + s[i] - 1) / s[i] - 1) * s[i] + e - n);
      pb = checked_extent(op, mode == "same_upper" ? total / 2 : total - total / 2, "the padding", because);
      pa = checked_extent(op, total - pb, "the padding", because);
    }
    const wide padded = wide(n) + pb + pa;
    checked_extent(op, padded, "the padded input size", because);
    const wide num = padded - e + (ceil_mode ? s[i] - 1 : 0);
    wide o = (num >= 0 ? num / s[i] : -((-num + s[i] - 1) / s[i])) + 1;  // floor division
    // ceil_mode: the last window must start inside the input or the left padding.
    if (ceil_mode && o > 0 && (o - 1) * s[i] >= wide(n) + pb) --o;
    insz[i] = n;
    outsz[i] = o < 0 ? 0 : checked_extent(op, o, "the output size", because);
    c.p.in[off + i] = n;
    c.p.out[off + i] = o;
    c.p.k[off + i] = k[i];
    c.p.s[off + i] = s[i];
    c.p.p[off + i] = pb;
    c.p.pe[off + i] = pa;
    c.p.d[off + i] = d[i];
  }
  for (int i = 0; i < nd; ++i)
    FC_CHECK(outsz[i] > 0, Value, op, ": output size would be ", join_x(outsz, nd), " for input ", join_x(insz, nd),
             " with kernel ", tuple_str(k), " (stride ", tuple_str(s), ", padding ", tuple_str(p),
             is_max ? ", dilation " + tuple_str(d) : std::string(), ceil_mode ? ", ceil_mode" : "",
             "); the kernel is larger than the padded input");
  if (!is_max && nd == 3 && !onnx_pads && mode.empty())  // torch avg_pool3d (only): the unpadded input holds the kernel
    for (int i = 0; i < nd; ++i)
      FC_CHECK(insz[i] >= k[i], Value, op, ": input ", join_x(insz, nd), " is smaller than kernel_size ", tuple_str(k));
  if (!is_max) {
    c.p.count_include_pad = a.get_bool("count_include_pad", true);
    if (a.has("divisor_override")) {
      c.p.divisor_override = a.get_int("divisor_override");
      FC_CHECK(c.p.divisor_override != 0, Value, op, ": argument 'divisor_override' must be non-zero, got 0");
    }
  }
  c.out_shape.assign(in.begin(), in.begin() + std::ptrdiff_t(lead));
  for (int i = 0; i < nd; ++i) c.out_shape.push_back(outsz[i]);
  checked_numel(op, c.out_shape, "the output shape", because);
  return c;
}

// The backward ops' input_shape is the shape of their output: checked like any size before it is allocated.
Shape input_shape_attr(const OpCall& c) {
  Shape s = c.attr().get_int_list("input_shape");
  checked_numel(c.op, s, "argument 'input_shape'", "input_shape=" + shape_str(s));
  return s;
}

namespace {

// "vec": the active level's fast 2-D kernel, where it applies ("<name>__<isa>"); "ref" otherwise or when forced.
template <class Kernel>
std::pair<Kernel, std::string> pick_pool_kernel(bool vec, int nd, const ref::PoolParams& p, const char* name,
                                                Kernel ref_k, Kernel avx2, Kernel avx512, bool avg = false) {
  // The average kernels assume torch's geometry: undilated windows, pads the same on both sides.
  const bool torch_avg = p.d[1] == 1 && p.d[2] == 1 && p.pe[1] == p.p[1] && p.pe[2] == p.p[2];
  if (!vec || nd != 2 || !cpu::pool2d_fast_ok(p) || (avg && !torch_avg)) return {ref_k, "ref"};
  const Kernel k = pick_isa<Kernel>(ref_k, avx2, avx512);
  return {k, k == ref_k ? std::string("ref") : std::string(name) + "__" + isa_name(active_isa())};
}

// Work per plane of a forward window sweep, for over_planes.
// Saturates: only a grain size is derived from it, and huge windows would overflow the product.
int64_t window_work(const ref::PoolParams& p) {
  const double w = double(p.out[0]) * double(p.out[1]) * double(p.out[2]) * double(p.k[0]) * double(p.k[1]) *
                   double(p.k[2]);
  return w >= double(kMaxElements) ? kMaxElements : int64_t(w);
}

// What pool_cfg reads.
AttrNames pool_attrs(bool is_max) {
  AttrNames a{"ceil_mode", "dilation", "kernel_size", "padding", "pads", "stride"};
  return is_max ? a : attr_names_plus(a, {"count_include_pad", "divisor_override"});
}

void register_fixed_pool(Registry& r, KernelTable& k, const std::string& name, int nd, bool is_max, bool is_min) {
  if (is_max) {
    add_op(r, k, pool_attrs(true), {name, 1, 1,
           [nd](const OpCall& c) -> std::vector<TensorDesc> {
             expect_dtype(c, 0, DType::f32, "input");
             PoolCfg cfg = pool_cfg(c.op, c.attrs, c.in[0].shape, nd, true);
             return {{cfg.out_shape, DType::f32}, {cfg.out_shape, DType::i64}};
           },
           [nd, is_min](const KernelCall& c, bool vec) -> Prepared {
                          PoolCfg cfg = pool_cfg(c.op, c.attrs, c.in[0].shape, nd, true);
             const auto picked = pick_pool_kernel<cpu::MaxPoolKernel>(vec, nd, cfg.p, "max_pool2d", ref::max_pool,
                                                                         cpu::max_pool2d__avx2,
                                                                         cpu::max_pool2d__avx512);
             const cpu::MaxPoolKernel k = picked.first;  // copies: C++17 lambdas cannot capture structured bindings
             const std::string algo = picked.second;
             ref::PoolParams p = cfg.p;
             const int64_t planes = cfg.planes;
             return {[k, p, planes, is_min](const std::vector<Tensor>& in, const std::vector<Tensor>& out,
                                            const RunContext&) {
                       const float* x = fptr(in[0]);
                       float* y = fptr_mut(out[0]);
                       int64_t* idx = out[1].data<int64_t>();
                       over_planes(planes, window_work(p), [&](int64_t b, int64_t e) { k(p, x, y, idx, is_min, b, e); });
                     },
                     0, algo};
           },
           [](BackwardCall& b) -> std::vector<ValueId> {
             if (b.grad_out[0] == kNoValue || !b.needs_grad[0]) return {kNoValue};
             return {b.g.add1(b.node.op + "_backward", {b.grad_out[0], b.out(1)},
                              {{"input_shape", b.desc(b.in(0)).shape}})};
           },
           false, -1},
           true);
  } else {
    add_op(r, k, pool_attrs(false), {name, 1, 1,
           [nd](const OpCall& c) -> std::vector<TensorDesc> {
             expect_dtype(c, 0, DType::f32, "input");
             return {{pool_cfg(c.op, c.attrs, c.in[0].shape, nd, false).out_shape, DType::f32}};
           },
           [nd](const KernelCall& c, bool vec) -> Prepared {
                          PoolCfg cfg = pool_cfg(c.op, c.attrs, c.in[0].shape, nd, false);
             const auto picked = pick_pool_kernel<cpu::AvgPoolKernel>(vec, nd, cfg.p, "avg_pool2d", ref::avg_pool,
                                                                         cpu::avg_pool2d__avx2,
                                                                         cpu::avg_pool2d__avx512, true);
             const cpu::AvgPoolKernel k = picked.first;
             const std::string algo = picked.second;
             ref::PoolParams p = cfg.p;
             const int64_t planes = cfg.planes;
             return {[k, p, planes](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
                       const float* x = fptr(in[0]);
                       float* y = fptr_mut(out[0]);
                       over_planes(planes, window_work(p), [&](int64_t b, int64_t e) { k(p, x, y, b, e); });
                     },
                     0, algo};
           },
           [](BackwardCall& b) -> std::vector<ValueId> {
             if (b.grad_out[0] == kNoValue || !b.needs_grad[0]) return {kNoValue};
             Attrs a = b.node.attrs;
             a.set("input_shape", b.desc(b.in(0)).shape);
             return {b.g.add1(b.node.op + "_backward", {b.grad_out[0]}, a)};
           },
           false, -1},
           true);
    // avg_poolNd_backward(grad_out; forward attributes + input_shape) -> grad_input
    add_op(r, k, attr_names_plus(pool_attrs(false), {"input_shape"}), {name + "_backward", 1, 1,
           [nd](const OpCall& c) -> std::vector<TensorDesc> {
             expect_dtype(c, 0, DType::f32, "grad_output");
             Shape in = input_shape_attr(c);
             PoolCfg cfg = pool_cfg(c.op, c.attrs, in, nd, false);
             FC_CHECK(c.in[0].shape == cfg.out_shape, Value, c.op, ": grad_output has shape ",
                      shape_str(c.in[0].shape), " but the forward output has shape ", shape_str(cfg.out_shape));
             return {{in, DType::f32}};
           },
           [nd](const KernelCall& c, bool vec) -> Prepared {
                          PoolCfg cfg = pool_cfg(c.op, c.attrs, input_shape_attr(c), nd, false);
             const auto picked = pick_pool_kernel<cpu::AvgPoolKernel>(
                 vec, nd, cfg.p, "avg_pool2d_backward", ref::avg_pool_backward, cpu::avg_pool2d_backward__avx2,
                 cpu::avg_pool2d_backward__avx512, true);
             const cpu::AvgPoolKernel k = picked.first;
             const std::string algo = picked.second;
             ref::PoolParams p = cfg.p;
             const int64_t planes = cfg.planes;
             return {[k, p, planes](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
                       const float* g = fptr(in[0]);
                       float* gx = fptr_mut(out[0]);
                       over_planes(planes, p.in[0] * p.in[1] * p.in[2] + p.out[0] * p.out[1] * p.out[2],
                                   [&](int64_t b, int64_t e) { k(p, g, gx, b, e); });
                     },
                     0, algo};
           },
           nullptr, false, -1},
           true);
  }
}

}  // namespace

namespace pool_detail {
// Leading (plane) dims of `s` when its last nd dims are spatial: checked equal between two shapes.
void expect_same_planes(const std::string& op, const Shape& a, const char* an, const Shape& b, const char* bn, int nd) {
  bool ok = a.size() == b.size() && a.size() >= size_t(nd);
  for (size_t i = 0; ok && i + size_t(nd) < a.size(); ++i) ok = a[i] == b[i];
  FC_CHECK(ok, Value, op, ": ", an, " has shape ", shape_str(a), " but ", bn, " has shape ", shape_str(b),
           " (expected the same rank and the same leading dimensions before the last ", nd, ")");
}
}  // namespace pool_detail
int64_t spatial_numel(const Shape& s, int nd) {
  int64_t n = 1;
  for (size_t i = s.size() - size_t(nd); i < s.size(); ++i) n *= s[i];
  return n;
}

namespace pool_detail {

// <max pool>_backward(grad_out, indices; input_shape) -> grad_input: grad scattered (summed) to the argmax.
void register_index_backward(Registry& r, KernelTable& k, const std::string& name, int nd) {
  add_op(r, k, {"input_shape"}, {name, 2, 2,
         [nd](const OpCall& c) -> std::vector<TensorDesc> {
           expect_dtype(c, 0, DType::f32, "grad_output");
           expect_dtype(c, 1, DType::i64, "indices");
           FC_CHECK(c.in[0].shape == c.in[1].shape, Value, c.op, ": grad_output has shape ", shape_str(c.in[0].shape),
                    " but indices have shape ", shape_str(c.in[1].shape));
           Shape in = input_shape_attr(c);
           expect_pool_rank(c.op, in, nd);
           expect_same_planes(c.op, c.in[0].shape, "grad_output", in, "input_shape", nd);
           return {{in, DType::f32}};
         },
         [nd](const KernelCall& c, bool) -> Prepared {
           const std::vector<TensorDesc>& o = c.out;
           const int64_t src = spatial_numel(c.in[0].shape, nd), dst = spatial_numel(o[0].shape, nd);
           const int64_t planes = dst ? shape_numel(o[0].shape) / dst : 0;
           return {[src, dst, planes](const std::vector<Tensor>& in, const std::vector<Tensor>& out,
                                      const RunContext&) {
                     const float* g = fptr(in[0]);
                     const int64_t* idx = in[1].data<const int64_t>();
                     float* gx = fptr_mut(out[0]);
                     over_planes(planes, src + dst,
                                 [&](int64_t b, int64_t e) { ref::index_scatter(src, dst, g, idx, gx, true, b, e); });
                   },
                   0, "index_scatter_add"};
         },
         nullptr, false, -1});
}

}  // namespace pool_detail

void register_pool_ops(Registry& r, KernelTable& k) {
  for (int nd = 1; nd <= 3; ++nd) {
    const std::string sfx = std::to_string(nd) + "d";
    register_fixed_pool(r, k, "max_pool" + sfx, nd, true, false);
    register_index_backward(r, k, "max_pool" + sfx + "_backward", nd);
    register_fixed_pool(r, k, "avg_pool" + sfx, nd, false, false);
  }
  register_fixed_pool(r, k, "min_pool2d", 2, true, true);
  register_index_backward(r, k, "min_pool2d_backward", 2);
  register_adaptive(r, k);
  register_unpool(r, k);
}

}  // namespace fastconv
