// resize: ONNX Resize's semantics on tensors of any rank (every axis may be resized, batch and channels too).
//   resize(input; sizes: the full output shape, scales: the factor each axis's coordinate transformation divides
//          by, mode, coordinate_transformation_mode, nearest_mode, cubic_coeff_a, exclude_outside,
//          extrapolation_value, antialias, roi: 2*rank floats for tf_crop_and_resize) -> output
// The Python wrappers (functional.resize, and interpolate for 'bicubic', 'trilinear' and antialias) turn sizes or
// scales, axes and keep_aspect_ratio_policy into the full sizes and scales. Axes whose size and scale stay 1 (and
// whose roi is the whole axis) are skipped, as onnx's reference skips them. resize_backward applies the transposed
// taps in reverse axis order.
#include <cmath>
#include <cstring>
#include <memory>
#include <sstream>

#include "cpu/ref/resize_ref.h"
#include "fastconv/parallel.h"
#include "ops/common.h"
#include "ops/resize.h"

namespace fastconv {
namespace {

using ref::ResizeAxis;

template <class T>
std::string list_str(const std::vector<T>& v) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ")";
  return os.str();
}

template <class E>
E pick(const std::string& op, const char* arg, const std::string& v,
       std::initializer_list<std::pair<const char*, E>> names) {
  std::string all;
  for (const auto& [n, e] : names) {
    if (v == n) return e;
    all += (all.empty() ? "'" : ", '") + std::string(n) + "'";
  }
  fail(ErrorKind::Value, op, ": argument '", arg, "' must be one of ", all, ", got '", v, "'");
}

}  // namespace

ResizeCfg resize_cfg(const std::string& op, const Attrs& attrs, const Shape& in) {
  AttrReader a(op, attrs);
  ResizeCfg c;
  ref::ResizeSpec& s = c.spec;
  using M = ref::ResizeMode;
  using C = ref::ResizeCoord;
  using R = ref::ResizeNearest;
  s.mode = pick<M>(op, "mode", a.get_str("mode", "nearest"),
                   {{"nearest", M::nearest}, {"linear", M::linear}, {"cubic", M::cubic}});
  s.coord = pick<C>(op, "coordinate_transformation_mode", a.get_str("coordinate_transformation_mode", "half_pixel"),
                    {{"half_pixel", C::half_pixel}, {"half_pixel_symmetric", C::half_pixel_symmetric},
                     {"pytorch_half_pixel", C::pytorch_half_pixel}, {"align_corners", C::align_corners},
                     {"asymmetric", C::asymmetric}, {"tf_crop_and_resize", C::tf_crop_and_resize}});
  s.nearest = pick<R>(op, "nearest_mode", a.get_str("nearest_mode", "round_prefer_floor"),
                      {{"round_prefer_floor", R::round_prefer_floor}, {"round_prefer_ceil", R::round_prefer_ceil},
                       {"floor", R::floor}, {"ceil", R::ceil}});
  s.cubic_a = a.get_float("cubic_coeff_a", -0.75);
  s.exclude_outside = a.get_bool("exclude_outside", false);
  s.extrapolation_value = a.get_float("extrapolation_value", 0.0);
  s.antialias = a.get_bool("antialias", false);
  FC_CHECK(!(s.antialias && s.mode == M::nearest), Value, op, ": antialias is only defined for modes 'linear' and ",
           "'cubic', got mode 'nearest'");
  const size_t r = in.size();
  FC_CHECK(r >= 1, Value, op, ": expected an input of rank >= 1, got a 0-d input");
  const Shape sizes = a.get_int_list("sizes");
  const std::vector<double> scales = a.get_float_list("scales");
  FC_CHECK(sizes.size() == r, Value, op, ": argument 'sizes' ", list_str(sizes), " must give all ", r,
           " output dimensions of the input of shape ", shape_str(in));
  FC_CHECK(scales.size() == r, Value, op, ": argument 'scales' ", list_str(scales), " must give ", r,
           " factors for the input of shape ", shape_str(in));
  std::vector<double> roi(2 * r, 0.0);
  for (size_t i = 0; i < r; ++i) roi[r + i] = 1.0;
  if (a.has("roi")) {
    roi = a.get_float_list("roi");
    FC_CHECK(roi.size() == 2 * r, Value, op, ": argument 'roi' ", list_str(roi), " must hold ", 2 * r,
             " values (every start, then every end) for a ", r, "-D input");
  }
  c.out = sizes;
  int64_t outer = 1;
  Shape cur = in;
  for (size_t i = 0; i < r; ++i) {
    FC_CHECK(sizes[i] >= 0, Value, op, ": argument 'sizes' ", list_str(sizes), " has a negative size");
    FC_CHECK(std::isfinite(scales[i]) && scales[i] > 0, Value, op, ": argument 'scales' ", list_str(scales),
             " must be positive and finite");
    FC_CHECK(in[i] > 0 || sizes[i] == 0, Value, op, ": cannot resize the empty dimension ", i, " of shape ",
             shape_str(in), " to ", sizes[i]);
    const bool whole = roi[i] == 0.0 && roi[r + i] == 1.0;
    const bool identity = sizes[i] == in[i] && std::fabs(scales[i] - 1.0) <= 1e-9 &&
                          (s.coord != C::tf_crop_and_resize || whole);
    if (!identity && in[i] > 0) {
      ResizeAxis ax = ref::resize_axis_taps(s, in[i], sizes[i], scales[i], roi[i], roi[r + i]);
      ax.outer = outer;
      ax.inner = 1;
      for (size_t k = i + 1; k < r; ++k) ax.inner *= in[k];
      c.axes.push_back(std::move(ax));
    }
    cur[i] = sizes[i];
    outer *= cur[i];
  }
  return c;
}

namespace {

Prepared make_run(const ResizeCfg& cfg, bool backward) {
  auto axes = std::make_shared<const std::vector<ResizeAxis>>(cfg.axes);
  int64_t biggest = 0;  // the largest intermediate: forward, the outputs of all axes but the last
  for (size_t k = 0; k + 1 < axes->size(); ++k)
    biggest = std::max(biggest, (*axes)[k].outer * (*axes)[k].out * (*axes)[k].inner);
  if (backward) {  // backward stages: the inputs of each forward axis
    biggest = 0;
    for (size_t k = 1; k < axes->size(); ++k) biggest = std::max(biggest, (*axes)[k].outer * (*axes)[k].in *
                                                                              (*axes)[k].inner);
  }
  const size_t half = (size_t(biggest) * sizeof(float) + 63) / 64 * 64;
  Prepared p;
  p.workspace_bytes = axes->size() > 1 ? 2 * half : 0;
  p.algo = backward ? "resize_backward__ref" : "resize__ref";
  p.run = [axes, half, backward](const std::vector<Tensor>& ins, const std::vector<Tensor>& outs,
                                 const RunContext& ctx) {
    const size_t n = axes->size();
    if (n == 0) {
      if (outs[0].nbytes()) std::memcpy(outs[0].data_ptr(), ins[0].data_ptr(), outs[0].nbytes());
      return;
    }
    char* ws = static_cast<char*>(ctx.workspace);
    float* buf[2] = {reinterpret_cast<float*>(ws), reinterpret_cast<float*>(ws + half)};
    const float* src = fptr(ins[0]);
    for (size_t s = 0; s < n; ++s) {
      const ResizeAxis& a = (*axes)[backward ? n - 1 - s : s];
      float* dst = s + 1 == n ? fptr_mut(outs[0]) : buf[s % 2];
      const int64_t per_row = (a.in + a.out) * a.inner * std::max(1, a.taps);
      parallel_for(a.outer, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, per_row)), [&](int64_t b, int64_t e) {
        if (backward)
          ref::resize_axis_backward(a, src, dst, b, e);
        else
          ref::resize_axis(a, src, dst, b, e);
      });
      src = dst;
    }
  };
  return p;
}

}  // namespace

void register_resize_ops(Registry& r, KernelTable& k) {
  const AttrNames kResizeAttrs{"antialias",     "coordinate_transformation_mode", "cubic_coeff_a", "exclude_outside",
                               "extrapolation_value", "mode", "nearest_mode", "roi", "scales", "sizes"};
  r.add({"resize", 1, 1,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           expect_inputs(c, 1);
           expect_dtype(c, 0, DType::f32, "input");
           return {{resize_cfg(c.op, c.attrs, c.in[0].shape).out, DType::f32}};
         },
         [](BackwardCall& b) -> std::vector<ValueId> {
           if (b.grad_out[0] == kNoValue || !b.needs_grad[0]) return {kNoValue};
           Attrs a = b.node.attrs;
           a.set("input_shape", b.desc(b.in(0)).shape);
           return {b.g.add1("resize_backward", {b.grad_out[0]}, a)};
         },
         false, -1}, kResizeAttrs);
  // resize_backward(grad_out; forward attributes + input_shape) -> grad_input
  r.add({"resize_backward", 1, 1,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           expect_inputs(c, 1);
           expect_dtype(c, 0, DType::f32, "grad_output");
           const Shape in = c.attr().get_int_list("input_shape");
           const ResizeCfg cfg = resize_cfg(c.op, c.attrs, in);
           FC_CHECK(c.in[0].shape == cfg.out, Value, c.op, ": grad_output has shape ", shape_str(c.in[0].shape),
                    " but the forward output has shape ", shape_str(cfg.out));
           return {{in, DType::f32}};
         },
         nullptr, false, -1}, attr_names_plus(kResizeAttrs, {"input_shape"}));
  add_cpu_kernel(k, "resize", "upsample", "ref", 0, [](const KernelCall& c) {
    return make_run(resize_cfg(c.op, c.attrs, c.in[0].shape), false);
  });
  add_cpu_kernel(k, "resize_backward", "upsample", "ref", 0, [](const KernelCall& c) {
    const Shape in = c.attr().get_int_list("input_shape");
    return make_run(resize_cfg(c.op, c.attrs, in), true);
  });
}

}  // namespace fastconv
