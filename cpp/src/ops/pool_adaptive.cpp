// Adaptive avg/max pooling (2-D) and global average pooling, with their backward ops.

#include "cpu/pool.h"
#include "fastconv/cpu_features.h"
#include "ops/pool_common.h"

namespace fastconv {
using namespace pool_detail;

ref::AdaptiveParams adaptive_cfg(const OpCall& c, const Shape& in, Shape* out_shape) {
  expect_pool_rank(c.op, in, 2);
  auto os = c.attr().get_ints("output_size", 2);
  const size_t lead = in.size() - 2;
  ref::AdaptiveParams p;
  p.in_h = in[lead];
  p.in_w = in[lead + 1];
  for (int i = 0; i < 2; ++i) {
    if (os[size_t(i)] == -1) os[size_t(i)] = in[lead + size_t(i)];  // None: keep the input size
    FC_CHECK(os[size_t(i)] > 0, Value, c.op, ": argument 'output_size' must contain positive sizes (or None), got ",
             tuple_str(c.attr().get_ints("output_size", 2)));
    // The kernels compute window bounds as out_index * in_size: that product must fit.
    FC_CHECK(wide(os[size_t(i)]) * in[lead + size_t(i)] <= kMaxElements, Value, c.op, ": argument 'output_size'=",
             tuple_str(os), " is too large for input ", shape_str(in), " (no tensor can be that large)");
  }
  p.out_h = os[0];
  p.out_w = os[1];
  out_shape->assign(in.begin(), in.begin() + std::ptrdiff_t(lead));
  out_shape->push_back(p.out_h);
  out_shape->push_back(p.out_w);
  checked_numel(c.op, *out_shape, "the output shape", "argument 'output_size'=" + tuple_str(os) + ", input " +
                                                    shape_str(in));
  return p;
}

namespace pool_detail {

void register_adaptive(Registry& r, KernelTable& k) {
  add_op(r, k, {"output_size"}, {"adaptive_avg_pool2d", 1, 1,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           expect_dtype(c, 0, DType::f32, "input");
           Shape os;
           adaptive_cfg(c, c.in[0].shape, &os);
           return {{os, DType::f32}};
         },
         [](const KernelCall& c, bool) -> Prepared {
                      Shape os;
           ref::AdaptiveParams p = adaptive_cfg(c, c.in[0].shape, &os);
           const int64_t planes = shape_numel(os) / (p.out_h * p.out_w);
           return {[p, planes](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
                     const float* x = fptr(in[0]);
                     float* y = fptr_mut(out[0]);
                     over_planes(planes, p.in_h * p.in_w,
                                 [&](int64_t b, int64_t e) { ref::adaptive_avg_pool2d(p, x, y, b, e); });
                   },
                   0, "ref"};
         },
         [](BackwardCall& b) -> std::vector<ValueId> {
           if (b.grad_out[0] == kNoValue || !b.needs_grad[0]) return {kNoValue};
           Attrs a = b.node.attrs;
           a.set("input_shape", b.desc(b.in(0)).shape);
           return {b.g.add1("adaptive_avg_pool2d_backward", {b.grad_out[0]}, a)};
         },
         false, -1});
  add_op(r, k, {"input_shape", "output_size"}, {"adaptive_avg_pool2d_backward", 1, 1,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           expect_dtype(c, 0, DType::f32, "grad_output");
           Shape in = input_shape_attr(c), os;
           adaptive_cfg(c, in, &os);
           FC_CHECK(c.in[0].shape == os, Value, c.op, ": grad_output has shape ", shape_str(c.in[0].shape),
                    " but the forward output has shape ", shape_str(os));
           return {{in, DType::f32}};
         },
         [](const KernelCall& c, bool) -> Prepared {
                      Shape os;
           ref::AdaptiveParams p = adaptive_cfg(c, input_shape_attr(c), &os);
           const int64_t planes = shape_numel(os) / (p.out_h * p.out_w);
           return {[p, planes](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
                     const float* g = fptr(in[0]);
                     float* gx = fptr_mut(out[0]);
                     over_planes(planes, p.in_h * p.in_w,
                                 [&](int64_t b, int64_t e) { ref::adaptive_avg_pool2d_backward(p, g, gx, b, e); });
                   },
                   0, "ref"};
         },
         nullptr, false, -1});
  add_op(r, k, {"output_size"}, {"adaptive_max_pool2d", 1, 1,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           expect_dtype(c, 0, DType::f32, "input");
           Shape os;
           adaptive_cfg(c, c.in[0].shape, &os);
           return {{os, DType::f32}, {os, DType::i64}};
         },
         [](const KernelCall& c, bool) -> Prepared {
                      Shape os;
           ref::AdaptiveParams p = adaptive_cfg(c, c.in[0].shape, &os);
           const int64_t planes = shape_numel(os) / (p.out_h * p.out_w);
           return {[p, planes](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
                     const float* x = fptr(in[0]);
                     float* y = fptr_mut(out[0]);
                     int64_t* idx = out[1].data<int64_t>();
                     over_planes(planes, p.in_h * p.in_w,
                                 [&](int64_t b, int64_t e) { ref::adaptive_max_pool2d(p, x, y, idx, b, e); });
                   },
                   0, "ref"};
         },
         [](BackwardCall& b) -> std::vector<ValueId> {
           if (b.grad_out[0] == kNoValue || !b.needs_grad[0]) return {kNoValue};
           return {b.g.add1("adaptive_max_pool2d_backward", {b.grad_out[0], b.out(1)},
                            {{"input_shape", b.desc(b.in(0)).shape}})};
         },
         false, -1});
  register_index_backward(r, k, "adaptive_max_pool2d_backward", 2);

  // Keras GlobalAveragePooling2D: [N, C, H, W] -> [N, C] (adaptive_avg_pool2d(x, 1) keeps [N, C, 1, 1]).
  auto global_in = [](const OpCall& c, const Shape& s) {
    FC_CHECK(s.size() == 4, Value, c.op, ": expected a 4-D input [N, C, H, W], got ", s.size(), "-D input of shape ",
             shape_str(s));
    FC_CHECK(s[2] > 0 && s[3] > 0, Value, c.op, ": input of shape ", shape_str(s), " has an empty spatial dimension");
  };
  add_op(r, k, {}, {"global_avg_pool2d", 1, 1,
         [global_in](const OpCall& c) -> std::vector<TensorDesc> {
           expect_dtype(c, 0, DType::f32, "input");
           global_in(c, c.in[0].shape);
           return {{{c.in[0].shape[0], c.in[0].shape[1]}, DType::f32}};
         },
         [](const KernelCall& c, bool) -> Prepared {
                      const int64_t hw = c.in[0].shape[2] * c.in[0].shape[3], planes = c.in[0].shape[0] * c.in[0].shape[1];
           return {[hw, planes](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
                     const float* x = fptr(in[0]);
                     float* y = fptr_mut(out[0]);
                     over_planes(planes, hw, [&](int64_t b, int64_t e) {
                       for (int64_t pl = b; pl < e; ++pl) {
                         double s = 0;
                         for (int64_t i = 0; i < hw; ++i) s += x[pl * hw + i];
                         y[pl] = float(s / double(hw));
                       }
                     });
                   },
                   0, "ref"};
         },
         [](BackwardCall& b) -> std::vector<ValueId> {
           if (b.grad_out[0] == kNoValue || !b.needs_grad[0]) return {kNoValue};
           return {b.g.add1("global_avg_pool2d_backward", {b.grad_out[0]}, {{"input_shape", b.desc(b.in(0)).shape}})};
         },
         false, -1});
  add_op(r, k, {"input_shape"}, {"global_avg_pool2d_backward", 1, 1,
         [global_in](const OpCall& c) -> std::vector<TensorDesc> {
           expect_dtype(c, 0, DType::f32, "grad_output");
           Shape in = input_shape_attr(c);
           global_in(c, in);
           FC_CHECK(c.in[0].shape == Shape({in[0], in[1]}), Value, c.op, ": grad_output has shape ",
                    shape_str(c.in[0].shape), " but the forward output has shape ", shape_str({in[0], in[1]}));
           return {{in, DType::f32}};
         },
         [](const KernelCall& c, bool) -> Prepared {
           const std::vector<TensorDesc>& o = c.out;
           const int64_t hw = o[0].shape[2] * o[0].shape[3], planes = o[0].shape[0] * o[0].shape[1];
           return {[hw, planes](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
                     const float* g = fptr(in[0]);
                     float* gx = fptr_mut(out[0]);
                     over_planes(planes, hw, [&](int64_t b, int64_t e) {
                       for (int64_t pl = b; pl < e; ++pl) std::fill(gx + pl * hw, gx + (pl + 1) * hw, g[pl] / float(hw));
                     });
                   },
                   0, "ref"};
         },
         nullptr, false, -1});
}

}  // namespace pool_detail
}  // namespace fastconv
