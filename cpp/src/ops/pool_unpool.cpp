// max_unpool2d: the values scattered to their saved max-pool indices in a zero output, and its backward.

#include "cpu/pool.h"
#include "fastconv/cpu_features.h"
#include "ops/pool_common.h"

namespace fastconv {
using namespace pool_detail;

namespace {

Shape unpool_out_shape(const OpCall& c) {
  const Shape& in = c.in[0].shape;
  expect_pool_rank(c.op, in, 2);
  AttrReader a = c.attr();
  auto k = a.get_ints("kernel_size", 2);
  auto s = a.has("stride") ? a.get_ints("stride", 2) : k;
  auto p = a.get_ints("padding", 2, 0);
  for (int i = 0; i < 2; ++i) {
    FC_CHECK(k[size_t(i)] > 0, Value, c.op, ": argument 'kernel_size' must be positive, got ", tuple_str(k));
    FC_CHECK(s[size_t(i)] > 0, Value, c.op, ": argument 'stride' must be positive, got ", tuple_str(s));
    FC_CHECK(p[size_t(i)] >= 0, Value, c.op, ": argument 'padding' must be non-negative, got ", tuple_str(p));
  }
  const size_t lead = in.size() - 2;
  const std::string because = "argument 'kernel_size'=" + tuple_str(k) + ", 'stride'=" + tuple_str(s) +
                              ", 'padding'=" + tuple_str(p) + ", input " + shape_str(in);
  std::vector<wide> dflt(2);
  for (size_t i = 0; i < 2; ++i) dflt[i] = wide(in[lead + i] - 1) * s[i] + k[i] - wide(2) * p[i];
  std::vector<wide> os = dflt;
  if (a.has("output_size")) {
    std::vector<int64_t> given = a.get_int_list("output_size");
    if (given.size() == 4) given.erase(given.begin(), given.begin() + 2);
    FC_CHECK(given.size() == 2, Value, c.op, ": argument 'output_size' should have 2 or 4 elements, got ",
             tuple_str(given));
    for (size_t i = 0; i < 2; ++i) {
      os[i] = given[i];
      FC_CHECK(dflt[i] - s[i] < os[i] && os[i] < dflt[i] + s[i], Value, c.op, ": invalid output_size ",
               tuple_str(given), " (dim ", i, " must be between ", wide_str(dflt[i] - s[i]), " and ",
               wide_str(dflt[i] + s[i]), ", exclusive)");
    }
  }
  for (size_t i = 0; i < 2; ++i)
    FC_CHECK(os[i] > 0, Value, c.op, ": output size would be ", wide_str(os[0]), "x", wide_str(os[1]), " for input ",
             in[lead], "x", in[lead + 1], " with kernel ", tuple_str(k), " (stride ", tuple_str(s), ", padding ",
             tuple_str(p), ")");
  Shape out(in.begin(), in.begin() + std::ptrdiff_t(lead));
  out.push_back(checked_extent(c.op, os[0], "the output height", because));
  out.push_back(checked_extent(c.op, os[1], "the output width", because));
  checked_numel(c.op, out, "the output shape", because);
  return out;
}

}  // namespace

namespace pool_detail {


void register_unpool(Registry& r, KernelTable& k) {
  add_op(r, k, {"kernel_size", "output_size", "padding", "stride"}, {"max_unpool2d", 2, 2,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           expect_dtype(c, 0, DType::f32, "input");
           expect_dtype(c, 1, DType::i64, "indices");
           FC_CHECK(c.in[0].shape == c.in[1].shape, Value, c.op, ": input has shape ", shape_str(c.in[0].shape),
                    " but indices have shape ", shape_str(c.in[1].shape), " (expected the same)");
           return {{unpool_out_shape(c), DType::f32}};
         },
         [](const KernelCall& c, bool) -> Prepared {
           const std::vector<TensorDesc>& o = c.out;
           const int64_t src = spatial_numel(c.in[0].shape, 2), dst = spatial_numel(o[0].shape, 2);
           const int64_t planes = shape_numel(o[0].shape) / dst;
           return {[src, dst, planes](const std::vector<Tensor>& in, const std::vector<Tensor>& out,
                                      const RunContext&) {
                     const float* x = fptr(in[0]);
                     const int64_t* idx = in[1].data<const int64_t>();
                     float* y = fptr_mut(out[0]);
                     over_planes(planes, src + dst,
                                 [&](int64_t b, int64_t e) { ref::index_scatter(src, dst, x, idx, y, false, b, e); });
                   },
                   0, "index_scatter"};
         },
         [](BackwardCall& b) -> std::vector<ValueId> {
           if (b.grad_out[0] == kNoValue || !b.needs_grad[0]) return {kNoValue, kNoValue};
           return {b.g.add1("max_unpool2d_backward", {b.grad_out[0], b.in(1)}), kNoValue};
         },
         false, -1});
  // max_unpool2d_backward(grad_out, indices) -> grad_input[i] = grad_out[plane, indices[i]]
  add_op(r, k, {}, {"max_unpool2d_backward", 2, 2,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           expect_dtype(c, 0, DType::f32, "grad_output");
           expect_dtype(c, 1, DType::i64, "indices");
           expect_pool_rank(c.op, c.in[1].shape, 2);
           expect_same_planes(c.op, c.in[0].shape, "grad_output", c.in[1].shape, "indices", 2);
           return {{c.in[1].shape, DType::f32}};
         },
         [](const KernelCall& c, bool) -> Prepared {
           const std::vector<TensorDesc>& o = c.out;
           const int64_t src = spatial_numel(c.in[0].shape, 2), ip = spatial_numel(o[0].shape, 2);
           const int64_t planes = shape_numel(o[0].shape) / ip;
           return {[src, ip, planes](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
                     const float* g = fptr(in[0]);
                     const int64_t* idx = in[1].data<const int64_t>();
                     float* gx = fptr_mut(out[0]);
                     over_planes(planes, src + ip,
                                 [&](int64_t b, int64_t e) { ref::index_gather(ip, src, g, idx, gx, b, e); });
                   },
                   0, "index_gather"};
         },
         nullptr, false, -1});
}

}  // namespace pool_detail
}  // namespace fastconv
