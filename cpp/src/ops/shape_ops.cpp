// Shape ops: reshape, flatten, cat, and slice (cat's backward). reshape/flatten copy today; the planner may alias
// them later (the data layout does not change). cat and slice move bytes, so they work for any dtype.
#include <algorithm>
#include <cstring>

#include "fastconv/parallel.h"
#include "ops/common.h"
#include "ops/shape_check.h"

namespace fastconv {
namespace {

Prepared prepare_copy(const KernelCall&) {
  return {[](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            if (in[0].data_ptr() != out[0].data_ptr())
              std::memcpy(out[0].data_ptr(), in[0].data_ptr(), out[0].nbytes());
          },
          0, "copy"};
}

std::vector<ValueId> backward_reshape(BackwardCall& b) {
  return {b.g.add1("reshape", {b.grad_out[0]}, {{"shape", b.desc(b.in(0)).shape}})};
}

std::vector<TensorDesc> infer_reshape(const OpCall& c) {
  expect_inputs(c, 1);
  Shape s = c.attr().get_int_list("shape");
  const int64_t n = shape_numel(c.in[0].shape);
  int64_t infer = -1;
  Shape given;  // the sizes other than -1, counted with overflow checks
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      FC_CHECK(infer < 0, Value, c.op, ": only one dimension may be -1, got ", shape_str(s));
      infer = int64_t(i);
    } else {
      FC_CHECK(s[i] >= 0, Value, c.op, ": invalid size ", s[i], " in shape ", shape_str(s));
      given.push_back(s[i]);
    }
  }
  const int64_t known = checked_numel(c.op, given, "argument 'shape'", "shape=" + shape_str(s));
  if (infer >= 0) {
    FC_CHECK(known > 0 && n % known == 0, Value, c.op, ": cannot infer -1 in ", shape_str(s), " for ", n,
             " elements (input shape ", shape_str(c.in[0].shape), ")");
    s[size_t(infer)] = n / known;
  }
  FC_CHECK(shape_numel(s) == n, Value, c.op, ": shape ", shape_str(s), " is invalid for an input of ", n,
           " elements (input shape ", shape_str(c.in[0].shape), ")");
  return {{s, c.in[0].dtype}};
}

// torch.flatten: dims start_dim..end_dim merge into one; a 0-d input becomes [1].
std::vector<TensorDesc> infer_flatten(const OpCall& c) {
  expect_inputs(c, 1);
  const Shape& s = c.in[0].shape;
  if (s.empty()) return {{{1}, c.in[0].dtype}};
  const int64_t rank = int64_t(s.size());
  const int64_t a = normalize_axis(c.op + ": argument 'start_dim'", c.attr().get_int("start_dim", 0), rank);
  const int64_t e = normalize_axis(c.op + ": argument 'end_dim'", c.attr().get_int("end_dim", -1), rank);
  FC_CHECK(a <= e, Value, c.op, ": start_dim (", a, ") cannot come after end_dim (", e, ") for input shape ",
           shape_str(s));
  Shape out(s.begin(), s.begin() + a);
  int64_t m = 1;
  for (int64_t i = a; i <= e; ++i) m *= s[size_t(i)];
  out.push_back(m);
  out.insert(out.end(), s.begin() + e + 1, s.end());
  return {{out, c.in[0].dtype}};
}

// A tensor seen as [outer, size(dim), inner]: the blocks cat and slice move.
struct Blocks {
  int64_t outer = 1, inner = 1;
};
Blocks blocks(const Shape& s, int64_t dim) {
  Blocks b;
  for (int64_t i = 0; i < dim; ++i) b.outer *= s[size_t(i)];
  for (size_t i = size_t(dim) + 1; i < s.size(); ++i) b.inner *= s[i];
  return b;
}

// Copies `outer` rows of `src_row` bytes (stride src_stride) to dst (stride dst_stride), in parallel when large.
void copy_rows(const char* src, int64_t src_stride, char* dst, int64_t dst_stride, int64_t outer, int64_t row_bytes) {
  if (row_bytes <= 0) return;
  parallel_for(outer, std::max<int64_t>(1, (1 << 16) / row_bytes), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) std::memcpy(dst + o * dst_stride, src + o * src_stride, size_t(row_bytes));
  });
}

int64_t cat_dim(const OpCall& c) {
  FC_CHECK(!c.in.empty(), Value, c.op, ": expected a non-empty sequence of tensors");
  FC_CHECK(!c.in[0].shape.empty(), Value, c.op, ": zero-dimensional tensor 0 cannot be concatenated");
  return normalize_axis(c.op, c.attr().get_int("dim", 0), int64_t(c.in[0].shape.size()));
}

std::vector<TensorDesc> infer_cat(const OpCall& c) {
  const int64_t dim = cat_dim(c);
  const Shape& s0 = c.in[0].shape;
  Shape out = s0;
  for (size_t i = 1; i < c.in.size(); ++i) {
    const Shape& si = c.in[i].shape;
    FC_CHECK(c.in[i].dtype == c.in[0].dtype, Type, c.op, ": tensor ", i, " has dtype ", dtype_name(c.in[i].dtype),
             " but tensor 0 has dtype ", dtype_name(c.in[0].dtype));
    bool ok = si.size() == s0.size();
    for (size_t k = 0; ok && k < si.size(); ++k) ok = int64_t(k) == dim || si[k] == s0[k];
    FC_CHECK(ok, Value, c.op, ": tensor ", i, " has shape ", shape_str(si), " but tensor 0 has shape ", shape_str(s0),
             "; sizes must match except in dimension ", dim);
    out[size_t(dim)] += si[size_t(dim)];  // each term <= 2**60 and at most a few million inputs: no wrap
    checked_numel(c.op, out, "the output shape", "concatenating " + std::to_string(i + 1) + " tensors along dim " +
                                              std::to_string(dim));
  }
  return {{out, c.in[0].dtype}};
}

Prepared prepare_cat(const KernelCall& c) {
  const std::vector<TensorDesc>& outs = c.out;
  const int64_t dim = cat_dim(c), esize = int64_t(dtype_size(outs[0].dtype));
  const Blocks ob = blocks(outs[0].shape, dim);
  const int64_t out_row = outs[0].shape[size_t(dim)] * ob.inner * esize;
  std::vector<int64_t> rows;
  for (const TensorDesc& t : c.in) rows.push_back(t.shape[size_t(dim)] * ob.inner * esize);
  return {[rows, out_row, ob](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            char* dst = static_cast<char*>(out[0].data_ptr());
            for (size_t i = 0; i < in.size(); ++i) {
              copy_rows(static_cast<const char*>(in[i].data_ptr()), rows[i], dst, out_row, ob.outer, rows[i]);
              dst += rows[i];
            }
          },
          0, "copy"};
}

std::vector<ValueId> backward_cat(BackwardCall& b) {
  const int64_t dim = normalize_axis("cat", b.attr().get_int("dim", 0), int64_t(b.desc(b.in(0)).shape.size()));
  std::vector<ValueId> g(b.node.inputs.size(), kNoValue);
  int64_t start = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const int64_t len = b.desc(b.in(i)).shape[size_t(dim)];
    if (b.needs_grad[i])
      g[i] = b.g.add1("slice", {b.grad_out[0]}, {{"dim", dim}, {"start", start}, {"length", len}});
    start += len;
  }
  return g;
}

// slice(input, dim, start, length): input[..., start:start+length, ...] along dim.
struct SliceArgs {
  int64_t dim, start, length;
};
SliceArgs slice_args(const std::string& op, const AttrReader& a, const Shape& s) {
  FC_CHECK(!s.empty(), Value, op, ": cannot slice a 0-d tensor");
  SliceArgs r{normalize_axis(op, a.get_int("dim"), int64_t(s.size())), a.get_int("start"), a.get_int("length")};
  const int64_t n = s[size_t(r.dim)];
  // start <= n - length rather than start + length <= n: the sum of two hostile int64s can wrap.
  FC_CHECK(r.start >= 0 && r.length >= 0 && r.length <= n && r.start <= n - r.length, Index, op, ": start ", r.start,
           " and length ", r.length, " are out of range for dimension ", r.dim, " of size ", n, " (shape ",
           shape_str(s), ")");
  return r;
}

std::vector<TensorDesc> infer_slice(const OpCall& c) {
  expect_inputs(c, 1);
  SliceArgs a = slice_args(c.op, c.attr(), c.in[0].shape);
  Shape out = c.in[0].shape;
  out[size_t(a.dim)] = a.length;
  return {{out, c.in[0].dtype}};
}

Prepared prepare_slice(const KernelCall& c) {
  const std::vector<TensorDesc>& outs = c.out;
  SliceArgs a = slice_args(c.op, c.attr(), c.in[0].shape);
  const Blocks bl = blocks(c.in[0].shape, a.dim);
  const int64_t es = int64_t(dtype_size(outs[0].dtype)), in_row = c.in[0].shape[size_t(a.dim)] * bl.inner * es;
  const int64_t out_row = a.length * bl.inner * es, off = a.start * bl.inner * es;
  return {[=](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            copy_rows(static_cast<const char*>(in[0].data_ptr()) + off, in_row, static_cast<char*>(out[0].data_ptr()),
                      out_row, bl.outer, out_row);
          },
          0, "copy"};
}

// slice_backward(grad, shape, dim, start): zeros of `shape` with grad written at [start, start+len) along dim.
std::vector<TensorDesc> infer_slice_backward(const OpCall& c) {
  expect_inputs(c, 1);
  Shape s = c.attr().get_int_list("shape");
  checked_numel(c.op, s, "argument 'shape'", "shape=" + shape_str(s));
  const int64_t dim = normalize_axis(c.op, c.attr().get_int("dim"), int64_t(s.size()));
  Shape expect = s;
  expect[size_t(dim)] = c.in[0].shape.size() == s.size() ? c.in[0].shape[size_t(dim)] : -1;
  FC_CHECK(expect == c.in[0].shape && c.attr().get_int("start") >= 0 &&
               c.attr().get_int("start") <= s[size_t(dim)] - expect[size_t(dim)],
           Value, c.op, ": grad shape ", shape_str(c.in[0].shape), " does not fit shape ", shape_str(s));
  return {{s, c.in[0].dtype}};
}

Prepared prepare_slice_backward(const KernelCall& c) {
  const std::vector<TensorDesc>& outs = c.out;
  const Shape& s = outs[0].shape;
  const int64_t dim = normalize_axis(c.op, c.attr().get_int("dim"), int64_t(s.size()));
  const Blocks bl = blocks(s, dim);
  const int64_t es = int64_t(dtype_size(outs[0].dtype)), out_row = s[size_t(dim)] * bl.inner * es;
  const int64_t in_row = c.in[0].shape[size_t(dim)] * bl.inner * es, off = c.attr().get_int("start") * bl.inner * es;
  return {[=](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            std::memset(out[0].data_ptr(), 0, out[0].nbytes());
            copy_rows(static_cast<const char*>(in[0].data_ptr()), in_row, static_cast<char*>(out[0].data_ptr()) + off,
                      out_row, bl.outer, in_row);
          },
          0, "copy"};
}

}  // namespace

void register_shape_ops(Registry& r, KernelTable& k) {
  // view = true: the planner aliases the output to the input's bytes (prepare_copy then skips the copy).
  r.add({"reshape", 1, 1, infer_reshape, backward_reshape, false, 0, /*view*/ true}, {"shape"});
  r.add({"flatten", 1, 1, infer_flatten, backward_reshape, false, 0, /*view*/ true}, {"end_dim", "start_dim"});
  r.add({"cat", 0, -1, infer_cat, backward_cat, false, -1}, {"dim"});
  r.add({"slice", 1, 1, infer_slice,
         [](BackwardCall& b) -> std::vector<ValueId> {
           return {b.g.add1("slice_backward", {b.grad_out[0]},
                            {{"shape", b.desc(b.in(0)).shape},
                             {"dim", b.attr().get_int("dim")},
                             {"start", b.attr().get_int("start")}})};
         },
         false, -1}, {"dim", "length", "start"});
  r.add({"slice_backward", 1, 1, infer_slice_backward,
         [](BackwardCall& b) -> std::vector<ValueId> {
           const int64_t dim = b.attr().get_int("dim");
           const Shape gs = b.desc(b.in(0)).shape;
           const int64_t d = dim < 0 ? dim + int64_t(gs.size()) : dim;
           return {b.g.add1("slice", {b.grad_out[0]},
                            {{"dim", dim}, {"start", b.attr().get_int("start")}, {"length", gs[size_t(d)]}})};
         },
         false, -1}, {"dim", "shape", "start"});
  for (const char* op : {"reshape", "flatten"}) add_cpu_kernel(k, op, "shape", "copy", 0, prepare_copy);
  add_cpu_kernel(k, "cat", "shape", "copy", 0, prepare_cat);
  add_cpu_kernel(k, "slice", "shape", "copy", 0, prepare_slice);
  add_cpu_kernel(k, "slice_backward", "shape", "copy", 0, prepare_slice_backward);
}

}  // namespace fastconv
