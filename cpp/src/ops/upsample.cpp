// interpolate (upsampling and resizing) for 3-D [N, C, W] and 4-D [N, C, H, W] input: torch's 'nearest',
// 'nearest-exact', 'linear' (3-D) and 'bilinear' (4-D), plus the fastconv extension 'bed_of_nails' (each value at
// the top-left of its block, zeros elsewhere; integer factors only). Output size and the scale handed to the kernel
// follow torch.nn.functional.interpolate exactly, including recompute_scale_factor.
#include <cmath>
#include <sstream>

#include <cstdlib>
#include <memory>

#include "cpu/ref/upsample_ref.h"
#include "cpu/upsample.h"
#include "fastconv/parallel.h"
#include "ops/common.h"
#include "ops/upsample.h"
#include "ops/shape_check.h"

namespace fastconv {
namespace {

template <class T>
std::string list_str(const std::vector<T>& v) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << (v.size() == 1 ? ",)" : ")");
  return os.str();
}

}  // namespace

UpCfg upsample_cfg(const std::string& op, const Attrs& attrs, const Shape& in) {
  AttrReader a(op, attrs);
  const std::string mode = a.get_str("mode", "nearest");
  FC_CHECK(mode == "nearest" || mode == "nearest-exact" || mode == "linear" || mode == "bilinear" ||
               mode == "bed_of_nails" || mode == "bicubic" || mode == "trilinear" || mode == "area",
           Value, op, ": argument 'mode' must be one of 'nearest', 'nearest-exact', 'linear', 'bilinear', ",
           "'bed_of_nails', got '", mode, "'");
  FC_CHECK(mode != "bicubic" && mode != "trilinear", NotImplemented, op, ": mode '", mode,
           "' is not supported yet (supported: 'nearest', 'nearest-exact', 'linear', 'bilinear', 'area', ",
           "'bed_of_nails')");
  // 'area' is adaptive average pooling; the Python wrapper routes it there before reaching this op.
  FC_CHECK(mode != "area", Value, op, ": mode 'area' is computed by adaptive_avg_pool2d, not by this op");
  FC_CHECK(in.size() == 3 || in.size() == 4, Value, op, ": expected a 3-D [N, C, W] or 4-D [N, C, H, W] input, got ",
           in.size(), "-D input of shape ", shape_str(in));
  const size_t nd = in.size() - 2;
  FC_CHECK(mode != "linear" || nd == 1, Value, op, ": mode 'linear' needs a 3-D input [N, C, W], got ", in.size(),
           "-D input of shape ", shape_str(in), " (use 'bilinear' for 4-D)");
  FC_CHECK(mode != "bilinear" || nd == 2, Value, op, ": mode 'bilinear' needs a 4-D input [N, C, H, W], got ",
           in.size(), "-D input of shape ", shape_str(in), " (use 'linear' for 3-D)");
  for (size_t i = 1; i < in.size(); ++i)
    FC_CHECK(in[i] > 0, Value, op, ": input of shape ", shape_str(in),
             " has an empty non-batch dimension (only the batch dimension may be 0)");
  const bool linear = mode == "linear" || mode == "bilinear";
  FC_CHECK(linear || !a.has("align_corners"), Value, op,
           ": align_corners option can only be set with the interpolating modes: linear | bilinear (mode is '", mode,
           "')");
  const bool has_size = a.has("size"), has_scale = a.has("scale_factor");
  FC_CHECK(!(has_size && has_scale), Value, op, ": only one of size or scale_factor should be defined");
  FC_CHECK(has_size || has_scale, Value, op, ": either size or scale_factor should be defined");
  const bool recompute = a.get_bool("recompute_scale_factor", false);
  FC_CHECK(!(recompute && has_size), Value, op, ": recompute_scale_factor is not meaningful with an explicit size");
  FC_CHECK(!a.get_bool("antialias", false), NotImplemented, op, ": antialias=True is not supported yet");

  std::vector<int64_t> out(nd);
  std::vector<double> scale(nd, 0.0);
  const std::vector<int64_t> insp(in.begin() + 2, in.end());
  if (has_size) {
    std::vector<int64_t> s = a.get_int_list("size");
    if (s.size() == 1) s.assign(nd, s[0]);
    FC_CHECK(s.size() == nd, Value, op, ": input and output must have the same number of spatial dimensions, but got ",
             "input with spatial dimensions of ", shape_str(insp), " and output size of ", list_str(s));
    out = s;
  } else {
    const std::vector<double> given = a.get_float_list("scale_factor");
    std::vector<double> f = given;
    if (f.size() == 1) f.assign(nd, f[0]);
    FC_CHECK(f.size() == nd, Value, op, ": input and scale_factor must have the same number of spatial dimensions, ",
             "but got input with spatial dimensions of ", shape_str(insp), " and scale_factor of ", list_str(f));
    for (size_t i = 0; i < nd; ++i) {
      FC_CHECK(std::isfinite(f[i]) && f[i] > 0, Value, op, ": argument 'scale_factor' must be positive, got ",
               list_str(given));
      // Checked in floating point: the product may be far beyond int64, and casting it would be undefined.
      const double o = std::floor(double(insp[i]) * f[i]);
      FC_CHECK(o <= double(kMaxExtent), Value, op, ": argument 'scale_factor'=", list_str(given),
               " makes the output size ", o, " for input ", shape_str(insp), ", larger than any tensor can be (2**60)");
      out[i] = static_cast<int64_t>(o);
      if (!recompute) scale[i] = f[i];  // torch hands the user's factor to the kernel unless told to recompute
    }
  }
  for (size_t i = 0; i < nd; ++i)
    FC_CHECK(out[i] > 0, Value, op, ": output size would be ", list_str(out), " for input ", shape_str(insp),
             "; input and output sizes should be greater than 0");
  if (mode == "bed_of_nails") {
    for (size_t i = 0; i < nd; ++i) {
      if (has_scale) {
        std::vector<double> f = a.get_float_list("scale_factor");
        const double fi = f.size() == 1 ? f[0] : f[i];
        FC_CHECK(fi == std::floor(fi), Value, op, ": mode 'bed_of_nails' needs integer scale factors, got ",
                 list_str(f));
      }
      FC_CHECK(out[i] % insp[i] == 0, Value, op, ": mode 'bed_of_nails' needs an output size that is an integer ",
               "multiple of the input size, got size ", list_str(out), " for input ", shape_str(insp));
    }
  }
  UpCfg c;
  ref::UpsampleParams& p = c.p;
  p.mode = mode == "nearest"         ? ref::UpsampleMode::nearest
           : mode == "nearest-exact" ? ref::UpsampleMode::nearest_exact
           : linear                  ? ref::UpsampleMode::linear
                                     : ref::UpsampleMode::bed_of_nails;
  p.align_corners = linear && a.get_bool("align_corners", false);
  p.in_w = insp[nd - 1];
  p.out_w = out[nd - 1];
  p.scale_w = scale[nd - 1];
  if (nd == 2) {
    p.in_h = insp[0];
    p.out_h = out[0];
    p.scale_h = scale[0];
  }
  c.planes = in[0] * in[1];
  c.out_shape = {in[0], in[1]};
  c.out_shape.insert(c.out_shape.end(), out.begin(), out.end());
  for (size_t i = 0; i < nd; ++i)  // the kernels scale output indices by the input size
    FC_CHECK(wide(out[i]) * insp[i] <= kMaxElements, Value, op, ": output size ", list_str(out), " (from ",
             has_size ? "argument 'size'" : "argument 'scale_factor'", ") is too large for input ", shape_str(insp),
             " (no tensor can be that large)");
  checked_numel(op, c.out_shape, "the output shape",
                std::string(has_size ? "argument 'size'=" : "argument 'scale_factor'=") +
                    (has_size ? list_str(a.get_int_list("size")) : list_str(a.get_float_list("scale_factor"))) +
                    ", input " + shape_str(in));
  return c;
}

namespace {

const char* mode_name(const ref::UpsampleParams& p) {
  switch (p.mode) {
    case ref::UpsampleMode::nearest: return "nearest";
    case ref::UpsampleMode::nearest_exact: return "nearest_exact";
    case ref::UpsampleMode::linear: return "linear";
    default: return "bed_of_nails";
  }
}

// Kernels: "tables" (index/weight tables built at prepare time) and "ref" (FASTCONV_ALGO=upsample=ref).
Prepared make_run(const UpCfg& cfg, bool backward, bool use_ref) {
  const int64_t planes = cfg.planes;
  const int64_t per_plane = cfg.p.in_h * cfg.p.in_w + cfg.p.out_h * cfg.p.out_w;
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, per_plane));
  std::string algo = std::string("upsample_") + mode_name(cfg.p) + (backward ? "_backward" : "");
  if (use_ref) {
    const ref::UpsampleParams p = cfg.p;
    auto k = backward ? ref::upsample_backward : ref::upsample;
    return {[p, planes, grain, k](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
              const float* x = fptr(in[0]);
              float* y = fptr_mut(out[0]);
              parallel_for(planes, grain, [&](int64_t b, int64_t e) { k(p, x, y, b, e); });
            },
            0, algo + "__ref"};
  }
  // The index/weight tables are built once here, at prepare (compile) time, and shared by every run.
  auto t = std::make_shared<const cpu::UpsampleTables>(cpu::make_upsample_tables(cfg.p));
  auto k = backward ? cpu::upsample_tables_backward : cpu::upsample_tables;
  return {[t, planes, grain, k](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float* x = fptr(in[0]);
            float* y = fptr_mut(out[0]);
            parallel_for(planes, grain, [&](int64_t b, int64_t e) { k(*t, x, y, b, e); });
          },
          0, algo + "__tables"};
}

}  // namespace

void register_upsample_ops(Registry& r, KernelTable& k) {
  const AttrNames kInterpolateAttrs{"align_corners", "antialias",    "mode",
                                    "recompute_scale_factor", "scale_factor", "size"};
  r.add({"interpolate", 1, 1,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           expect_dtype(c, 0, DType::f32, "input");
           return {{upsample_cfg(c.op, c.attrs, c.in[0].shape).out_shape, DType::f32}};
         },
         [](BackwardCall& b) -> std::vector<ValueId> {
           if (b.grad_out[0] == kNoValue || !b.needs_grad[0]) return {kNoValue};
           Attrs a = b.node.attrs;
           a.set("input_shape", b.desc(b.in(0)).shape);
           return {b.g.add1("interpolate_backward", {b.grad_out[0]}, a)};
         },
         false, -1}, kInterpolateAttrs);
  // interpolate_backward(grad_out; forward attributes + input_shape) -> grad_input
  r.add({"interpolate_backward", 1, 1,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           expect_dtype(c, 0, DType::f32, "grad_output");
           Shape in = c.attr().get_int_list("input_shape");
           UpCfg cfg = upsample_cfg(c.op, c.attrs, in);
           FC_CHECK(c.in[0].shape == cfg.out_shape, Value, c.op, ": grad_output has shape ", shape_str(c.in[0].shape),
                    " but the forward output has shape ", shape_str(cfg.out_shape));
           return {{in, DType::f32}};
         },
         nullptr, false, -1}, attr_names_plus(kInterpolateAttrs, {"input_shape"}));
  for (const bool r : {false, true}) {
    add_cpu_kernel(k, "interpolate", "upsample", r ? "ref" : "tables", r ? 0 : 10, [r](const KernelCall& c) {
      return make_run(upsample_cfg(c.op, c.attrs, c.in[0].shape), false, r);
    });
    add_cpu_kernel(k, "interpolate_backward", "upsample", r ? "ref" : "tables", r ? 0 : 10, [r](const KernelCall& c) {
      return make_run(upsample_cfg(c.op, c.attrs, c.attr().get_int_list("input_shape")), true, r);
    });
  }
}

}  // namespace fastconv
