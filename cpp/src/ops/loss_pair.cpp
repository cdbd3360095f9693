// Losses over pairs or triplets of rows: triplet_margin_loss and cosine_similarity (cosine_embedding_loss is
// composed from it in Python), with their backward ops.

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

// ---------------------------------------------------------------------------------------------------------------
// triplet_margin_loss(anchor, positive, negative): rows of [N, D] (or one row [D]).

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

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// cosine_similarity(x1, x2, dim, eps): the input seen as [O, D, I] around `dim`.

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

namespace loss_detail {

void register_pair_losses(Registry& r, KernelTable& k) {
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

}  // namespace loss_detail
}  // namespace fastconv
